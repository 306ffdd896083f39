/* image_crc.c - checksums of a storage image, format version 5 (see image_crc.h). */
#include "image_crc.h"

#define CK_MAGIC 0x43564E56u
#define MAX_UNITS (1u << 21)

/* status bits below the size in a record's word (14 in docs/FORMAT.md 2.3) */
unsigned vnv_img_status_bits(void)
{
    unsigned b = 0;
    while (b < 32u && (VNV_MAX_OBJECT_SIZE >> b))
        b++;
    return 32u - b;
}

static int in_image(size_t len, uint64_t off, uint64_t n)
{
    return off <= len && n <= len - off;
}

uint32_t vnv_img_get32(const uint8_t *img, size_t len, uint32_t off)
{
    if (!in_image(len, off, 4))
        return 0;
    const uint8_t *p = img + off;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void vnv_img_put32(uint8_t *img, size_t len, uint32_t off, uint32_t v)
{
    if (!in_image(len, off, 4))
        return;
    for (int i = 0; i < 4; i++)
        img[off + (uint32_t)i] = (uint8_t)(v >> (8 * i));
}

uint32_t vnv_img_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t vnv_img_unit(const uint8_t *img, size_t len)
{
    uint32_t u = vnv_img_get32(img, len, VNV_IMG_SB_UNIT);
    return (u >= 16u && u <= (1u << 20) && !(u & (u - 1u))) ? u : 0;
}

uint32_t vnv_img_units(const uint8_t *img, size_t len)
{
    uint32_t n = vnv_img_get32(img, len, VNV_IMG_SB_UNITS);
    return n <= MAX_UNITS ? n : 0;
}

uint32_t vnv_img_map_words(const uint8_t *img, size_t len)
{
    return (vnv_img_units(img, len) + 31u) / 32u;
}

uint32_t vnv_img_nv_off(const uint8_t *img, size_t len)
{
    return vnv_img_get32(img, len, VNV_IMG_SB_NV_OFF);
}

uint32_t vnv_img_slot_off(const uint8_t *img, size_t len, unsigned s)
{
    uint64_t off = (uint64_t)vnv_img_get32(img, len, VNV_IMG_SB_CKPT_OFF) +
                   (uint64_t)(s & 1u) * vnv_img_get32(img, len, VNV_IMG_SB_CKPT_CAP);
    return in_image(len, off, VNV_IMG_CK_HEADER) ? (uint32_t)off : 0;
}

/* The checkpoint checksum (docs/FORMAT.md 2.1): two 32-bit sums over the little-endian
 * 32-bit words of everything covered, as one stream, the last word zero-padded. */
struct ck_sum {
    uint32_t a, b, part, n;
};

static void ck_add(struct ck_sum *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s->part |= (uint32_t)p[i] << (8u * s->n);
        if (++s->n == 4u) {
            s->a += s->part;
            s->b += s->a;
            s->part = s->n = 0u;
        }
    }
}

static uint32_t ck_end(struct ck_sum s)
{
    if (s.n) {
        s.a += s.part;
        s.b += s.a;
    }
    return s.a ^ (s.b << 16 | s.b >> 16);
}

/* Walk slot s as ckpt_verify does: the checksum over map, records, bitmaps and the undo
 * log, skipping data. Returns 1 if the slot parses completely to its length; *crc gets the
 * checksum of what was covered (with the header, its checksum field zeroed), *undo (may be NULL) the image
 * offset of the undo log (0 when the records do not parse). */
static int slot_walk(const uint8_t *img, size_t len, unsigned s, uint32_t *crc,
                     uint32_t *undo, uint64_t find, uint32_t *found)
{
    if (undo)
        *undo = 0;
    if (found)
        *found = 0;
    uint32_t base = vnv_img_slot_off(img, len, s);
    uint32_t cap = vnv_img_get32(img, len, VNV_IMG_SB_CKPT_CAP);
    uint32_t mapb = 12u * vnv_img_map_words(img, len);
    if (!base || vnv_img_get32(img, len, base) != CK_MAGIC)
        return 0;
    uint64_t clen = vnv_img_get32(img, len, base + VNV_IMG_CK_LEN);
    uint32_t nrec = vnv_img_get32(img, len, base + VNV_IMG_CK_NREC);
    int ok = clen >= VNV_IMG_CK_HEADER + mapb && clen <= cap &&
             nrec <= (clen - VNV_IMG_CK_HEADER - mapb) / VNV_IMG_CK_RECORD;
    if (clen > cap)
        clen = cap;
    if (!in_image(len, base, clen))
        clen = len - base, ok = 0;
    const uint8_t *p = img + base;
    uint64_t pos = VNV_IMG_CK_HEADER, end = clen;
    struct ck_sum c = {1u, 0u, 0u, 0u};
#define COVER(n)                                                                             \
    do {                                                                                     \
        uint64_t n_ = (n);                                                                   \
        if (n_ > end - pos) {                                                                \
            ck_add(&c, p + pos, (size_t)(end - pos));                                        \
            pos = end, ok = 0;                                                               \
            goto done;                                                                       \
        }                                                                                    \
        ck_add(&c, p + pos, (size_t)n_);                                                     \
        pos += n_;                                                                           \
    } while (0)
    if (end < pos)
        return 0;
    COVER(mapb);
    for (uint32_t i = 0; i < nrec; i++) {
        COVER(VNV_IMG_CK_RECORD);
        const uint8_t *r = p + pos - VNV_IMG_CK_RECORD;
        const uint8_t *wp = r + VNV_IMG_CK_RECORD_WORD;
        uint32_t rid = (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 |
                       (uint32_t)r[3] << 24; /* (the unit is in the low bits) */
        if (found && !*found &&
            vnv_img_handle_unit(img, len, rid) == vnv_img_handle_unit(img, len, find))
            *found = base + (uint32_t)(pos - VNV_IMG_CK_RECORD);
        uint32_t word = (uint32_t)wp[0] | (uint32_t)wp[1] << 8 | (uint32_t)wp[2] << 16 |
                        (uint32_t)wp[3] << 24;
        uint32_t st = word & ((1u << vnv_img_status_bits()) - 1u), size = word >> vnv_img_status_bits();
        if (!size) {
            ok = 0;
            goto done;
        }
        uint64_t data = (st & 0x20u) ? size : 0;
        if (st & 0x80u) {
            uint32_t bs = 16u << ((st >> 8) & 3u), nb = (size + bs - 1u) / bs;
            uint32_t nbm = (nb + 7u) / 8u;
            COVER(nbm);
            const uint8_t *bm = p + pos - nbm;
            data = 0;
            for (uint32_t b = 0; b < nb; b++)
                if (bm[b >> 3] & (1u << (b & 7u)))
                    data += (uint64_t)(b + 1u) * bs <= size ? bs : size - b * bs;
        }
        uint32_t pre = (uint32_t)r[14] | (uint32_t)r[15] << 8;
        if (data > end - pos) {
            pos = end, ok = 0;
            goto done;
        }
        pos += data;
        /* a pre block: the value before (data), or a freed member's handle (covered) */
        if (pre && pre != VNV_IMG_PRE_LOG && (st & 0x2000u))
            COVER(8u);
        else if (pre && pre != VNV_IMG_PRE_LOG) {
            if (size > end - pos) {
                pos = end, ok = 0;
                goto done;
            }
            pos += size;
        }
    }
    /* the group's undo log: flags bits 16-31 entries of 12 bytes and their bytes, all
     * covered (in a checkpoint without flag bit 1 ckpt_verify refuses it) */
    if (undo)
        *undo = base + (uint32_t)pos;
    uint32_t flags = vnv_img_get32(img, len, base + VNV_IMG_CK_FLAGS);
    if ((flags >> 16) && !(flags & 2u))
        ok = 0;
    for (uint32_t i = 0; i < (flags >> 16); i++) {
        COVER(VNV_IMG_CK_UNDO);
        const uint8_t *e = p + pos - VNV_IMG_CK_UNDO;
        uint32_t n = (uint32_t)e[8] | (uint32_t)e[9] << 8;
        if (n > VNV_IMG_UNDO_MAX)
            ok = 0;
        COVER(n);
    }
done:
#undef COVER
    if (pos != end)
        ok = 0;
    uint8_t h[VNV_IMG_CK_HEADER];
    for (unsigned i = 0; i < sizeof h; i++)
        h[i] = p[i];
    h[12] = h[13] = h[14] = h[15] = 0;
    ck_add(&c, h, sizeof h);
    *crc = ck_end(c);
    return ok;
}

int vnv_img_slot_ok(const uint8_t *img, size_t len, unsigned s)
{
    uint32_t crc = 0;
    return slot_walk(img, len, s, &crc, NULL, 0, NULL) &&
           crc == vnv_img_get32(img, len, vnv_img_slot_off(img, len, s) + VNV_IMG_CK_CRC);
}

static int has_magic(const uint8_t *img, size_t len, unsigned s)
{
    uint32_t off = vnv_img_slot_off(img, len, s);
    return off && vnv_img_get32(img, len, off) == CK_MAGIC;
}

int vnv_img_newest_slot(const uint8_t *img, size_t len)
{
    int m0 = has_magic(img, len, 0), m1 = has_magic(img, len, 1);
    if (!m0 && !m1)
        return -1;
    if (!m0 || !m1)
        return m0 ? 0 : 1;
    uint32_t s0 = vnv_img_get32(img, len, vnv_img_slot_off(img, len, 0) + VNV_IMG_CK_SEQ);
    uint32_t s1 = vnv_img_get32(img, len, vnv_img_slot_off(img, len, 1) + VNV_IMG_CK_SEQ);
    return (int32_t)(s1 - s0) > 0 ? 1 : 0;
}

int vnv_img_loaded_slot(const uint8_t *img, size_t len)
{
    int first = vnv_img_newest_slot(img, len);
    if (first < 0)
        return -1;
    if (vnv_img_slot_ok(img, len, (unsigned)first))
        return first;
    return vnv_img_slot_ok(img, len, 1u - (unsigned)first) ? 1 - first : -1;
}

uint32_t vnv_img_undo_off(const uint8_t *img, size_t len, unsigned s)
{
    uint32_t crc = 0, undo = 0;
    (void)slot_walk(img, len, s, &crc, &undo, 0, NULL);
    return undo;
}

uint32_t vnv_img_record_off(const uint8_t *img, size_t len, unsigned s, uint64_t id)
{
    uint32_t crc = 0, at = 0;
    (void)slot_walk(img, len, s, &crc, NULL, id, &at);
    return at;
}

int vnv_img_map_bit(const uint8_t *img, size_t len, unsigned s, unsigned m, uint32_t u)
{
    uint32_t base = vnv_img_slot_off(img, len, s), words = vnv_img_map_words(img, len);
    if (!base || m > 2 || u >= vnv_img_units(img, len))
        return 0;
    uint64_t at = (uint64_t)base + VNV_IMG_CK_HEADER + 4u * ((uint64_t)m * words + u / 32u);
    if (!in_image(len, at, 4))
        return 0;
    return (int)((vnv_img_get32(img, len, (uint32_t)at) >> (u % 32u)) & 1u);
}

uint32_t vnv_img_handle_unit(const uint8_t *img, size_t len, uint64_t id)
{
    uint32_t units = vnv_img_units(img, len), b = 1;
    while (b < 31u && (1u << b) < units)
        b++;
    return (uint32_t)id & ((1u << b) - 1u);
}

uint32_t vnv_img_handle_home(const uint8_t *img, size_t len, uint64_t id)
{
    uint64_t home = (uint64_t)vnv_img_nv_off(img, len) +
                    (uint64_t)vnv_img_handle_unit(img, len, id) * vnv_img_unit(img, len);
    return home <= UINT32_MAX ? (uint32_t)home : UINT32_MAX;
}

/* FORMAT.md 4: CRC-32 of the home offset (LE u32) followed by header bytes 0..11. */
static uint32_t objhdr_crc(const uint8_t *b, uint32_t home)
{
    uint8_t off[4] = {(uint8_t)home, (uint8_t)(home >> 8), (uint8_t)(home >> 16),
                      (uint8_t)(home >> 24)};
    return vnv_img_crc32(vnv_img_crc32(0, off, 4), b, 12);
}

int vnv_img_objhdr_crc_ok(const uint8_t *img, size_t len, uint32_t home)
{
    if (!in_image(len, home, VNV_IMG_OBJ_HEADER))
        return 0;
    return vnv_img_get32(img, len, home + 12) == objhdr_crc(img + home, home);
}

void vnv_img_fix_superblock(uint8_t *img, size_t len)
{
    if (len >= 64)
        vnv_img_put32(img, len, 60, vnv_img_crc32(0, img, 60));
}

void vnv_img_fix_checkpoints(uint8_t *img, size_t len)
{
    for (unsigned s = 0; s < 2; s++) {
        uint32_t crc = 0, base = vnv_img_slot_off(img, len, s);
        if (!has_magic(img, len, s))
            continue;
        (void)slot_walk(img, len, s, &crc, NULL, 0, NULL);
        vnv_img_put32(img, len, base + VNV_IMG_CK_CRC, crc);
    }
}

unsigned vnv_img_fix_object_headers(uint8_t *img, size_t len)
{
    uint32_t units = vnv_img_units(img, len), unit = vnv_img_unit(img, len);
    uint32_t nv = vnv_img_nv_off(img, len);
    unsigned n = 0;
    if (!unit)
        return 0;
    for (uint32_t u = 0; u < units; u++) {
        if (!vnv_img_map_bit(img, len, 0, 1, u) && !vnv_img_map_bit(img, len, 1, 1, u))
            continue;
        uint64_t home = (uint64_t)nv + (uint64_t)u * unit;
        if (!in_image(len, home, VNV_IMG_OBJ_HEADER))
            continue;
        vnv_img_put32(img, len, (uint32_t)home + 12u, objhdr_crc(img + home, (uint32_t)home));
        n++;
    }
    return n;
}

#define TAG_AREA 64u /* after the superblock */
#define TAG_MAGIC 0x52564E56u

void vnv_img_fix_tag_records(uint8_t *img, size_t len)
{
    for (uint32_t r = TAG_AREA; r < TAG_AREA + 32u; r += 16u)
        if (len >= r + 16u && vnv_img_get32(img, len, r) == TAG_MAGIC)
            vnv_img_put32(img, len, r + 12u, vnv_img_crc32(0, img + r, 12));
}

void vnv_img_put_tag_record(uint8_t *img, size_t len, unsigned which, uint64_t value)
{
    uint32_t r = TAG_AREA + 16u * (which & 1u);
    vnv_img_put32(img, len, r, TAG_MAGIC);
    vnv_img_put32(img, len, r + 4u, (uint32_t)value);
    vnv_img_put32(img, len, r + 8u, (uint32_t)(value >> 32));
    vnv_img_fix_tag_records(img, len);
}

void vnv_img_fix_checksums(uint8_t *img, size_t len)
{
    vnv_img_fix_tag_records(img, len);
    vnv_img_fix_object_headers(img, len);
    vnv_img_fix_checkpoints(img, len);
    vnv_img_fix_superblock(img, len);
}
