/* image_crc.c - checksums of a storage image, format version 2 (see image_crc.h). */
#include "image_crc.h"

#define OBJ_HDR 8u
#define CK_FIXED 32u       /* checkpoint header without the parked homes */
#define NB_FIXED 32u       /* buddy region header before the free-list heads */
#define NB_MAGIC 0x42564E56u
#define NB_SALT 0xB0DDB10Cu
#define NB_ALLOC 2u
#define NB_FREE 1u
#define NB_MAX_ORDER 20u

static int in_image(size_t len, uint32_t off, uint32_t n)
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

static uint8_t crc8(const uint8_t *p, size_t n, uint8_t crc)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t)((crc & 0x80u) ? ((unsigned)crc << 1) ^ 0x07u : (unsigned)crc << 1);
    }
    return crc;
}

/* FORMAT.md 4: CRC-8 of header bytes 0..6, seeded with the CRC-8 of the home (LE u32). */
static uint8_t objhdr_crc(const uint8_t *b, uint32_t home)
{
    uint8_t off[4] = {(uint8_t)home, (uint8_t)(home >> 8), (uint8_t)(home >> 16),
                      (uint8_t)(home >> 24)};
    return crc8(b, 7, crc8(off, 4, 0x5Au));
}

uint32_t vnv_img_handle_home(uint32_t id)
{
    return (id >> 10) << 2;
}

uint32_t vnv_img_ckpt_off(const uint8_t *img, size_t len)
{
    uint32_t off = vnv_img_get32(img, len, VNV_IMG_SB_CKPT_OFF);
    return in_image(len, off, CK_FIXED) ? off : 0;
}

uint32_t vnv_img_ckpt_header_size(const uint8_t *img, size_t len)
{
    uint32_t n = vnv_img_get32(img, len, VNV_IMG_SB_NCACHE);
    uint32_t off = vnv_img_ckpt_off(img, len);
    if (!off || n > (len - off - CK_FIXED) / 8u)
        return 0;
    return CK_FIXED + 8u * n;
}

uint32_t vnv_img_nv_off(const uint8_t *img, size_t len)
{
    return vnv_img_get32(img, len, VNV_IMG_SB_NV_OFF);
}

int vnv_img_objhdr_crc_ok(const uint8_t *img, size_t len, uint32_t home)
{
    if (!in_image(len, home, OBJ_HDR))
        return 0;
    return img[home + 7] == objhdr_crc(img + home, home);
}

void vnv_img_fix_superblock(uint8_t *img, size_t len)
{
    if (len >= 64)
        vnv_img_put32(img, len, 60, vnv_img_crc32(0, img, 60));
}

void vnv_img_fix_checkpoint(uint8_t *img, size_t len)
{
    uint32_t off = vnv_img_ckpt_off(img, len), hsize = vnv_img_ckpt_header_size(img, len);
    if (!off || !hsize)
        return;
    uint32_t clen = vnv_img_get32(img, len, off + VNV_IMG_CK_LEN);
    if (clen < hsize || !in_image(len, off, clen))
        return; /* no checksum can make this checkpoint valid */
    uint32_t crc = vnv_img_crc32(0, img + off + hsize, clen - hsize);
    vnv_img_put32(img, len, off + 12, 0);
    vnv_img_put32(img, len, off + 12, vnv_img_crc32(crc, img + off, hsize));
}

void vnv_img_fix_nv_region(uint8_t *img, size_t len)
{
    uint32_t nv = vnv_img_nv_off(img, len);
    if (in_image(len, nv, NB_FIXED) && vnv_img_get32(img, len, nv) == NB_MAGIC)
        vnv_img_put32(img, len, nv + 28, vnv_img_crc32(0, img + nv, 28));
}

/* Block tag of the default buddy allocator (src/alloc/nv_buddy.c): a hash of the
 * area-relative position, the state and the order. */
static uint32_t tag_of(uint32_t pos, uint32_t state, uint32_t k)
{
    return ((((pos >> 4) * 0x9E3779B1u) ^ NB_SALT) & ~0xFFu) | (state << 5) | k;
}

unsigned vnv_img_fix_object_headers(uint8_t *img, size_t len)
{
    uint32_t nv = vnv_img_nv_off(img, len);
    if (!in_image(len, nv, NB_FIXED) || vnv_img_get32(img, len, nv) != NB_MAGIC)
        return 0;
    uint32_t hdr = vnv_img_get32(img, len, nv + 16), asize = vnv_img_get32(img, len, nv + 20);
    if (hdr > len - nv || asize > len - nv - hdr)
        return 0;
    uint32_t area = nv + hdr;
    unsigned n = 0;
    /* Linear walk: a valid tag advances by its block, anything else by the minimum block. */
    for (uint32_t pos = 0; pos + 16u <= asize;) {
        uint32_t raw = vnv_img_get32(img, len, area + pos), k = raw & 31u, st = (raw >> 5) & 7u;
        uint32_t step = 16;
        if ((raw & ~0xFFu) == (tag_of(pos, 0, 0) & ~0xFFu) && k <= NB_MAX_ORDER &&
            (st == NB_ALLOC || st == NB_FREE) && (pos & ((16u << k) - 1u)) == 0 &&
            (16u << k) <= asize - pos) {
            step = 16u << k;
            if (st == NB_ALLOC) {
                uint32_t home = area + pos + 4u;
                img[home + 7] = objhdr_crc(img + home, home);
                n++;
            }
        }
        pos += step;
    }
    return n;
}

void vnv_img_fix_checksums(uint8_t *img, size_t len)
{
    vnv_img_fix_object_headers(img, len);
    vnv_img_fix_nv_region(img, len);
    vnv_img_fix_checkpoint(img, len);
    vnv_img_fix_superblock(img, len);
}
