/*
 * vnv_check_lib.c - validate a vnvheap storage image offline, read-only (vnv_check_lib.h).
 *
 * Checks, following docs/FORMAT.md version 5 (decoded here independently of the library's
 * internals, so the tool also checks the specification):
 *   1. superblock: size, magic, CRC, version, and the geometry recomputed from the storage
 *      size, max_dirty and the unit exactly as src/heap.c lays the device out;
 *   2. the tag reservation's two records (section 1.1): intact or not, and what vnv_open
 *      goes on from;
 *   3. both checkpoint slots: header, length, the checksum over map, records, bitmaps and the
 *      group's undo log (object data excluded), and which one vnv_open loads (section 2.4);
 *   4. the loaded slot's NV map: START within ALLOC, CUR within START, no bit past the last
 *      unit, the first used unit after a free one is a start;
 *   5. every record: its unit is a START, its size fits the home, arena blocks do not
 *      overlap, an object never written home is wholly in the checkpoint, a homed one
 *      agrees with its header; the budget;
 *   6. the object header at every START unit (CRC, handle, size fits the home), the root;
 *      the undo log's entries (a START unit each; bytes inside a resident object or inside
 *      the current data slot of a home; their arena blocks);
 *   7. the library's own view: vnv_open on the image followed by vnv_check. The image is
 *      never modified: what open writes (a group's rollback puts its undo log back on
 *      storage, and voids the other slot) goes to a private copy of the pages it touches.
 * Every field is bounded before it is used as a length, a count or an offset; the image is
 * only read after the geometry has been proved to lie inside it. Allocations: two bitmaps
 * of one bit per unit (at most 256 KiB), the undo log's byte ranges in resident objects
 * (at most 512 KiB) and, for step 6, a RAM buffer of at most about 1.3 MiB and the copies
 * of the 4 KiB pages open writes (none unless it rolls back an undo log).
 */
#define _POSIX_C_SOURCE 200809L
#include "vnv_check_lib.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnvheap.h"

#define SB_SIZE 64u
#define SB_MAGIC0 0x484E4E56u
#define SB_MAGIC1 0x31504145u
#define SB_VERSION 5u
/* the tag reservation: two records of magic, 64-bit value, CRC-32 of the 12 bytes before */
#define TAG_AREA 32u
#define TAG_MAGIC 0x52564E56u
#define CK_OFF (SB_SIZE + TAG_AREA)
#define CK_MAGIC 0x43564E56u
/* docs/FORMAT.md version 5: 48-byte checkpoint header, 16-byte records and object headers,
 * 64-bit handles; the split of a record's word follows VNV_MAX_OBJECT_SIZE. */
#define CK_HDR 48u
#define CK_REC 16u
#define OBJ_HDR 16u
/* The group's undo log, after the records (docs/FORMAT.md 2.3.1): flags bits 16-31 count its entries, newest first, each
 * [u32 unit][u32 offset][u16 len][u16 arena unit][len bytes]; offset bit 31 set: bytes at
 * that offset of a resident object, clear: a storage offset inside the current data slot of
 * the home at unit; len 0 without bit 31: an object the group allocated at home (a
 * rollback frees it). In RAM an entry is a 16-byte header and the bytes, at (arena unit -
 * 1) * 8. */
#define UNDO_REC 12u
#define UNDO_RAM_HDR 16u
#define UNDO_MAX 32u
#define UNDO_IN_RAM 0x80000000u
#define PRE_LOG 0xFFFFu /* a record's pre field: its value before the group = RAM copy with
                          * the undo log's entries for it put back; no pre block follows */
#define SB_FEAT_CRC 1u /* superblock features bit 0: every data slot ends in its CRC-32 */
#define NMAPS 3u                 /* ALLOC, START, CUR in a checkpoint */
#define MAX_UNITS (1u << 21)
#define MAX_ARENA (65534u * 8u)  /* a record's arena unit is (offset / 8) + 1 in 16 bits */
#define ARENA_UNITS 65534u
#define SHOW_MAX 100u            /* PROBLEM lines printed; the rest are counted */

/* status bits of a record's word (docs/FORMAT.md 2.3) */
#define ST_DIRTY 0x020u
#define ST_PARTIAL 0x080u
#define ST_PSHIFT 0x300u
#define ST_HOMED 0x400u
#define ST_GROUP 0x800u  /* failure-atomic group member (docs/FORMAT.md 2.3) */
#define ST_GNEW 0x1000u
#define ST_GFREE 0x2000u /* freed in the group: handle tag 0 in the record */
#define ST_GMASK (ST_GROUP | ST_GNEW | ST_GFREE)
#define CK_FLAG_GROUP 2u /* taken inside a group: vnv_open rolls the group back */
#define ST_BITS st_bits()
#define ST_MASK ((1u << ST_BITS) - 1u)

static unsigned st_bits(void)
{
    unsigned b = 0;
    while (b < 32u && (VNV_MAX_OBJECT_SIZE >> b))
        b++;
    return 32u - b;
}

struct ctx {
    FILE *out;
    int quiet;
    unsigned problems;
};

static void say(struct ctx *c, const char *fmt, ...)
{
    if (!c->out || c->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
}

static void problem(struct ctx *c, const char *fmt, ...)
{
    if (c->problems++ >= SHOW_MAX || !c->out)
        return;
    fputs("PROBLEM: ", c->out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
}

static int verdict(struct ctx *c, const char *name)
{
    if (c->out && c->problems > SHOW_MAX)
        fprintf(c->out, "(%u more problems not shown)\n", c->problems - SHOW_MAX);
    if (c->out)
        fprintf(c->out, "%s: %s\n", name, c->problems ? "PROBLEMS FOUND" : "consistent");
    return c->problems ? VNV_CHECK_PROBLEMS : VNV_CHECK_OK;
}

/* ---- storage over the image in memory, copy-on-write ---------------------------------------- */

/* The image is never modified: a page that vnv_open writes (a group's rollback writes its
 * undo log back and voids the other slot) is copied first, and reads see the copy. */
#define PAGE 4096u

struct image {
    const uint8_t *p;
    size_t len;
    uint8_t **page; /* ceil(len / PAGE) entries (at most 4096), allocated at the first write */
    int oom;
};

static int cow_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    const struct image *im = ctx;
    if (off > im->len || len > im->len - off)
        return VNV_ERR_INVAL;
    while (len) {
        uint32_t pg = off / PAGE, in = off % PAGE, n = PAGE - in < len ? PAGE - in : len;
        const uint8_t *src = im->page && im->page[pg] ? im->page[pg] + in : im->p + off;
        memcpy(dst, src, n);
        dst = (uint8_t *)dst + n;
        off += n;
        len -= n;
    }
    return VNV_OK;
}

static int cow_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct image *im = ctx;
    if (off > im->len || len > im->len - off)
        return VNV_ERR_INVAL;
    size_t pages = (im->len + PAGE - 1u) / PAGE;
    if (len && !im->page)
        im->page = calloc(pages, sizeof *im->page);
    while (len && im->page) {
        uint32_t pg = off / PAGE, in = off % PAGE, n = PAGE - in < len ? PAGE - in : len;
        if (!im->page[pg]) {
            size_t at = (size_t)pg * PAGE, sz = im->len - at < PAGE ? im->len - at : PAGE;
            im->page[pg] = malloc(sz);
            if (!im->page[pg])
                break;
            memcpy(im->page[pg], im->p + at, sz);
        }
        memcpy(im->page[pg] + in, src, n);
        src = (const uint8_t *)src + n;
        off += n;
        len -= n;
    }
    if (len)
        im->oom = 1;
    return len ? VNV_ERR_IO : VNV_OK;
}

static void cow_free(struct image *im)
{
    for (size_t i = 0; im->page && i < (im->len + PAGE - 1u) / PAGE; i++)
        free(im->page[i]);
    free(im->page);
    im->page = NULL;
}

/* ---- format primitives (docs/FORMAT.md) ------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The checkpoint checksum (docs/FORMAT.md 2.1): two 32-bit sums over the little-endian
 * 32-bit words of the covered bytes, taken as one stream (the last word zero-padded). */
struct cksum {
    uint32_t a, b, part, n;
};

static void ck_init(struct cksum *s) { s->a = 1u, s->b = 0u, s->part = 0u, s->n = 0u; }

static void ck_add(struct cksum *s, const uint8_t *p, size_t n)
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

static uint32_t ck_end(struct cksum s)
{
    if (s.n) {
        s.a += s.part;
        s.b += s.a;
    }
    return s.a ^ (s.b << 16 | s.b >> 16);
}

static uint32_t fnv1a(const char *s)
{
    uint32_t x = 2166136261u;
    for (uint32_t i = 0; s[i] && i < 64; i++)
        x = (x ^ (uint8_t)s[i]) * 16777619u;
    return x;
}

static int bit(const uint8_t *map, uint32_t u) { return (map[u >> 3] >> (u & 7u)) & 1; }

/* ---- geometry --------------------------------------------------------------------------------- */

struct geo {
    uint32_t size, max_dirty, cap, nv_off, nv_size, unit, units, words, unit_bits, arena;
    uint32_t mapb; /* NMAPS * words * 4: the map in a checkpoint */
    uint32_t slot_crc; /* 4: each data slot ends in its CRC-32 (features bit 0), else 0 */
};

/* The storage side of src/heap.c's layout, in 64-bit arithmetic. 0 or a reason. */
static const char *layout(uint32_t size, uint32_t max_dirty, uint32_t unit, struct geo *g)
{
    if (size < 1024u || size > VNV_MAX_STORAGE_SIZE)
        return "storage size outside [1024, 16 MiB]";
    if (unit < 16u || unit > (1u << 20) || (unit & (unit - 1u)))
        return "allocation unit is not a power of two in [16, 1 MiB]";
    if (max_dirty < CK_HDR + CK_REC + 8u || max_dirty > VNV_MAX_STORAGE_SIZE)
        return "max_dirty outside [72, 16 MiB]";
    uint64_t most = size / unit, words = (most + 31u) / 32u;
    uint64_t cap = ((uint64_t)max_dirty + NMAPS * words * 4u + 15u) & ~(uint64_t)15u;
    uint64_t nv_off = CK_OFF + 2u * cap;
    if (cap > size || nv_off + 2u * (uint64_t)unit > size)
        return "the two checkpoint slots leave no room for homes";
    g->size = size;
    g->max_dirty = max_dirty;
    g->cap = (uint32_t)cap;
    g->nv_off = (uint32_t)nv_off;
    g->nv_size = size - g->nv_off;
    g->unit = unit;
    g->units = g->nv_size / unit;
    if (g->units > MAX_UNITS)
        return "more than 2^21 units";
    g->words = (g->units + 31u) / 32u;
    g->mapb = NMAPS * g->words * 4u;
    g->unit_bits = 1;
    while ((1u << g->unit_bits) < g->units)
        g->unit_bits++;
    return NULL;
}

static uint32_t id_unit(const struct geo *g, uint64_t id)
{
    return (uint32_t)id & ((1u << g->unit_bits) - 1u);
}
static uint64_t id_tag(const struct geo *g, uint64_t id) { return id >> g->unit_bits; }

/* ---- checkpoint slots --------------------------------------------------------------------------- */

struct slot {
    int magic, ok;
    const char *why; /* why it does not verify */
    uint32_t base, seq, len, crc, nrec, flags;
    uint32_t nundo, undo_pos; /* the undo log: entries, and where the first one starts */
    uint64_t root, count;
};

/* Bytes after a record's bitmap: its pre block (a group member's value from before the
 * group, or the handle of one freed in the group), none for PRE_LOG. */
static uint32_t pre_len(uint32_t pre, uint32_t st, uint32_t size)
{
    return pre && pre != PRE_LOG ? ((st & ST_GFREE) ? 8u : size) : 0u;
}

static uint32_t runs_bytes(const uint8_t *bm, uint32_t size, uint32_t st)
{
    uint32_t bs = 16u << ((st & ST_PSHIFT) >> 8), nb = (size + bs - 1u) / bs, total = 0;
    for (uint32_t b = 0; b < nb; b++)
        if (bm[b >> 3] & (1u << (b & 7u)))
            total += (b + 1u) * bs <= size ? bs : size - b * bs;
    return total;
}

/* ckpt_verify of src/checkpoint.c, on the image: the geometry check has put
 * [base, base + cap) inside the image. */
static void verify_slot(const uint8_t *img, const struct geo *g, unsigned s, struct slot *sl)
{
    const uint8_t *h = img + CK_OFF + (size_t)s * g->cap;
    memset(sl, 0, sizeof *sl);
    sl->base = CK_OFF + s * g->cap;
    sl->magic = le32(h) == CK_MAGIC;
    sl->seq = le32(h + 4), sl->len = le32(h + 8), sl->crc = le32(h + 12);
    sl->nrec = le32(h + 16), sl->flags = le32(h + 20);
    sl->root = le64(h + 24), sl->count = le64(h + 32);
    if (sl->flags & CK_FLAG_GROUP) /* what a restart sees: the root before the group */
        sl->root = le64(h + 40);
    if (!sl->magic) {
        sl->why = "no checkpoint (empty or voided)";
        return;
    }
    if (sl->len < CK_HDR + g->mapb || sl->len > g->cap) {
        sl->why = "length outside the slot";
        return;
    }
    if (sl->nrec > (sl->len - CK_HDR - g->mapb) / CK_REC) {
        sl->why = "more records than its length holds";
        return;
    }
    uint32_t pos = CK_HDR + g->mapb;
    struct cksum sum;
    ck_init(&sum);
    ck_add(&sum, h + CK_HDR, g->mapb);
    for (uint32_t i = 0; i < sl->nrec; i++) {
        if (sl->len - pos < CK_REC) {
            sl->why = "a record runs past the checkpoint's end";
            return;
        }
        const uint8_t *r = h + pos;
        ck_add(&sum, r, CK_REC);
        pos += CK_REC;
        uint32_t word = le32(r + 8), st = word & ST_MASK, size = word >> ST_BITS, data = 0;
        if (!size) {
            sl->why = "a record of size 0";
            return;
        }
        if (st & ST_PARTIAL) {
            uint32_t bs = 16u << ((st & ST_PSHIFT) >> 8), nbm = ((size + bs - 1u) / bs + 7u) / 8u;
            if (sl->len - pos < nbm) {
                sl->why = "a record's dirty bitmap runs past the checkpoint's end";
                return;
            }
            ck_add(&sum, h + pos, nbm);
            data = runs_bytes(h + pos, size, st);
            pos += nbm;
        } else if (st & ST_DIRTY) {
            data = size;
        }
        uint32_t pre = pre_len(le16(r + 14), st, size);
        if (sl->len - pos < data || sl->len - pos - data < pre) {
            sl->why = "a record's data runs past the checkpoint's end";
            return;
        }
        pos += data;
        if (st & ST_GFREE) /* a freed member's handle: covered, unlike data */
            ck_add(&sum, h + pos, pre);
        pos += pre;
    }
    sl->nundo = sl->flags >> 16;
    sl->undo_pos = pos;
    if (sl->nundo && !(sl->flags & CK_FLAG_GROUP)) {
        sl->why = "an undo log outside a group";
        return;
    }
    for (uint32_t i = 0; i < sl->nundo; i++) {
        if (sl->len - pos < UNDO_REC) {
            sl->why = "an undo log entry runs past the checkpoint's end";
            return;
        }
        uint32_t n = le16(h + pos + 8);
        if (n > UNDO_MAX) {
            sl->why = "an undo log entry longer than 32 bytes";
            return;
        }
        if (sl->len - pos - UNDO_REC < n) {
            sl->why = "an undo log entry's bytes run past the checkpoint's end";
            return;
        }
        ck_add(&sum, h + pos, UNDO_REC + n);
        pos += UNDO_REC + n;
    }
    uint8_t tmp[CK_HDR];
    memcpy(tmp, h, CK_HDR);
    memset(tmp + 12, 0, 4);
    if (pos != sl->len) {
        sl->why = "the body does not parse to its length";
        return;
    }
    ck_add(&sum, tmp, CK_HDR);
    if (ck_end(sum) != sl->crc) {
        sl->why = "checksum mismatch (torn or damaged)";
        return;
    }
    sl->ok = 1;
}

/* ---- the loaded checkpoint: map, records, homes ---------------------------------------------- */

struct state {
    struct ctx *c;
    const uint8_t *img;
    const struct geo *g;
    const struct slot *sl;
    const uint8_t *alloc, *start, *cur; /* the slot's bitmaps (bytes, little-endian words) */
    uint8_t *resident;                   /* unit has a record */
    uint8_t *unhomed;                    /* unit's record says never written home */
    uint8_t arena[(ARENA_UNITS + 7u) / 8u];
    uint32_t arena_end, dirty_bytes, overlaps;
};

static uint32_t extent(const struct state *s, uint32_t u)
{
    uint32_t v = u + 1u;
    while (v < s->g->units && bit(s->alloc, v) && !bit(s->start, v))
        v++;
    return v - u;
}

static void check_map(struct state *s)
{
    const struct geo *g = s->g;
    uint32_t bad_start = 0, bad_cur = 0, past = 0, orphan = 0, first = UINT32_MAX;
    for (uint32_t w = 0; w < g->words; w++) {
        uint32_t a = le32(s->alloc + 4u * w), st = le32(s->start + 4u * w);
        uint32_t cu = le32(s->cur + 4u * w), left = g->units - w * 32u;
        uint32_t mask = left >= 32u ? 0u : ~((1u << left) - 1u);
        bad_start += (st & ~a) != 0;
        bad_cur += (cu & ~st) != 0;
        past += ((a | st | cu) & mask) != 0;
    }
    for (uint32_t u = 0; u < g->units; u++)
        if (bit(s->alloc, u) && !bit(s->start, u) && (u == 0 || !bit(s->alloc, u - 1u))) {
            orphan++;
            if (first == UINT32_MAX)
                first = u;
        }
    if (bad_start)
        problem(s->c, "NV map: START bits on units that are not ALLOC (%u words)\n", bad_start);
    if (bad_cur)
        problem(s->c, "NV map: CUR bits on units that are not START (%u words)\n", bad_cur);
    if (past)
        problem(s->c, "NV map: bits past the last unit (%u)\n", g->units);
    if (orphan)
        problem(s->c, "NV map: %u used units follow a free one without being a start "
                      "(first: unit %u)\n", orphan, first);
}

/* The 16-byte object header of the home at unit u: 0 or what is wrong with it. *id and
 * *size receive its handle and size, *pbits its partial and block-size bits. */
static const char *read_header(const struct state *s, uint32_t u, uint64_t *id, uint32_t *size,
                               uint32_t *pbits)
{
    const struct geo *g = s->g;
    uint32_t home = g->nv_off + u * g->unit; /* u < units: inside the image, >= 16 bytes */
    const uint8_t *b = s->img + home;
    uint8_t off[4] = {(uint8_t)home, (uint8_t)(home >> 8), (uint8_t)(home >> 16),
                      (uint8_t)(home >> 24)};
    uint32_t w = le32(b);
    *id = le64(b + 4);
    *size = w & 0x1FFFFFu;
    *pbits = (w >> 21) & 7u;
    if (le32(b + 12) != crc32(crc32(0, off, 4), b, 12))
        return "CRC mismatch";
    if ((w >> 24) || *size == 0 || *size > VNV_MAX_OBJECT_SIZE || (!(w >> 21 & 1u) && (w >> 22)))
        return "malformed size word";
    if (id_unit(g, *id) != u || id_tag(g, *id) == 0)
        return "its handle does not name this unit";
    if (id_tag(g, *id) > s->sl->count)
        return "its handle's tag was never issued (above the allocation count)";
    if (OBJ_HDR + 2ull * (*size + g->slot_crc) > (uint64_t)extent(s, u) * g->unit)
        return "its two data slots reach past its home";
    return NULL;
}

/* Take the arena bytes [off, off + need) (off + need <= MAX_ARENA) for a block: 1 if some
 * of them are taken already. After the first overlap no more are taken (the first one
 * explains the rest), but arena_end still grows. */
static int arena_take(struct state *s, uint64_t off, uint64_t need)
{
    if (off + need > s->arena_end)
        s->arena_end = (uint32_t)(off + need);
    if (s->overlaps)
        return 0;
    for (uint32_t k = (uint32_t)(off / 8u); k < (off + need + 7u) / 8u; k++) {
        if (s->arena[k >> 3] & (1u << (k & 7u))) {
            s->overlaps++;
            return 1;
        }
        s->arena[k >> 3] |= (uint8_t)(1u << (k & 7u));
    }
    return 0;
}

static void check_records(struct state *s)
{
    const struct geo *g = s->g;
    const struct slot *sl = s->sl;
    const uint8_t *h = s->img + sl->base;
    uint32_t pos = CK_HDR + g->mapb;
    /* verify_slot has parsed the body: every record, bitmap and run lies inside len */
    for (uint32_t i = 0; i < sl->nrec; i++) {
        const uint8_t *r = h + pos;
        uint64_t id = le64(r);
        uint32_t word = le32(r + 8), au = le16(r + 12);
        uint32_t st = word & ST_MASK, size = word >> ST_BITS, u = id_unit(g, id);
        uint32_t nbm = 0, data = (st & ST_DIRTY) ? size : 0, nb = 0;
        pos += CK_REC;
        const uint8_t *bm = h + pos;
        if (st & ST_PARTIAL) {
            uint32_t bs = 16u << ((st & ST_PSHIFT) >> 8);
            nb = (size + bs - 1u) / bs;
            nbm = (nb + 7u) / 8u;
            data = runs_bytes(bm, size, st);
            pos += nbm;
        }
        if ((st & ST_PARTIAL) && (data != 0) != ((st & ST_DIRTY) != 0))
            problem(s->c, "record %u (handle %" PRIx64 "): its dirty flag disagrees with its "
                          "bitmap\n", i, id);
        uint32_t pre = le16(r + 14), plen = pre_len(pre, st, size);
        pos += data + plen;
        s->dirty_bytes += data;
        if (au == 0)
            problem(s->c, "record %u (handle %" PRIx64 "): arena unit 0\n", i, id);
        if (pre == PRE_LOG && (!(st & ST_GROUP) || (st & (ST_GNEW | ST_GFREE))))
            problem(s->c, "record %u (handle %" PRIx64 "): its value from before the group "
                          "left to the undo log, on an object that cannot have one\n", i, id);
        if (plen && (!(st & ST_GROUP) || !(st & ST_DIRTY) || (st & ST_GNEW) ||
                     ((st & ST_PARTIAL) && !(st & ST_GFREE))))
            problem(s->c, "record %u (handle %" PRIx64 "): a pre block on an object that cannot "
                          "have one\n", i, id);
        if ((st & ST_PSHIFT) && !(st & ST_PARTIAL))
            problem(s->c, "record %u (handle %" PRIx64 "): block size on a plain object\n", i,
                    id);
        if ((st & ST_GMASK) && (!(st & ST_GROUP) || !(s->sl->flags & CK_FLAG_GROUP)))
            problem(s->c, "record %u (handle %" PRIx64 "): group marks outside a group\n", i,
                    id);
        if ((id_tag(g, id) == 0) != ((st & ST_GFREE) != 0) || u >= g->units ||
            !bit(s->start, u)) {
            problem(s->c, "record %u: handle %" PRIx64 " (unit %u) is not a START unit\n", i,
                    id, u);
            continue;
        }
        if (id_tag(g, id) > s->sl->count)
            problem(s->c, "record %u: handle %" PRIx64 " has a tag above the allocation count "
                          "%" PRIu64 "\n", i, id, s->sl->count);
        if (bit(s->resident, u)) {
            problem(s->c, "record %u: a second record for unit %u\n", i, u);
            continue;
        }
        s->resident[u >> 3] |= (uint8_t)(1u << (u & 7u));
        if (OBJ_HDR + 2ull * (size + g->slot_crc) > (uint64_t)extent(s, u) * g->unit)
            problem(s->c, "record %u (handle %" PRIx64 "): %u bytes do not fit its home of "
                          "%u units\n", i, id, size, extent(s, u));
        if (st & ST_PARTIAL)
            for (uint32_t b = nb; b < nbm * 8u; b++)
                if (bm[b >> 3] & (1u << (b & 7u))) {
                    problem(s->c, "record %u (handle %" PRIx64 "): dirty bits past the last "
                                  "block\n", i, id);
                    break;
                }
        if (!(st & ST_HOMED)) {
            s->unhomed[u >> 3] |= (uint8_t)(1u << (u & 7u));
            if (data != size)
                problem(s->c, "record %u (handle %" PRIx64 "): never written home, but only "
                              "%u of %u bytes are in the checkpoint\n", i, id, data, size);
        } else {
            uint64_t hid;
            uint32_t hsize, pbits;
            const char *why = read_header(s, u, &hid, &hsize, &pbits);
            uint32_t want = (st & ST_PARTIAL) ? 1u | ((st & ST_PSHIFT) >> 8) << 1 : 0u;
            if (!why && ((st & ST_GFREE) ? id_unit(g, hid) != u || id_tag(g, hid) == 0
                                         : hid != id))
                why = "it names another handle";
            if (!why && (hsize != size || pbits != want))
                why = "its size or block size differs from the record's";
            if (why)
                problem(s->c, "record %u (handle %" PRIx64 "): header at unit %u: %s\n", i,
                        id, u, why);
        }
        /* the arena block: [meta 16][bitmap, padded to 8][data] at (au - 1) * 8; no data
         * for a clean object freed in the group (its value is at home) */
        uint64_t off = au ? (uint64_t)(au - 1u) * 8u : 0u;
        uint64_t need = 16u + ((nbm + 7u) & ~7u) +
                        ((st & (ST_GFREE | ST_DIRTY)) == ST_GFREE ? 0u : (uint64_t)size);
        if (off + need > MAX_ARENA) {
            problem(s->c, "record %u (handle %" PRIx64 "): arena block [%" PRIu64 ", +%" PRIu64
                          ") past the largest arena\n", i, id, off, need);
            continue;
        }
        for (int blk = 0; blk < 2; blk++) { /* the object's block, then its pre block */
            if (blk) {
                if (!plen)
                    break;
                off = (uint64_t)(pre - 1u) * 8u;
                need = plen;
                if (off + need > MAX_ARENA) {
                    problem(s->c, "record %u (handle %" PRIx64 "): pre block past the largest "
                                  "arena\n", i, id);
                    break;
                }
            }
            if (!au) {
                if (off + need > s->arena_end)
                    s->arena_end = (uint32_t)(off + need);
                break;
            }
            if (arena_take(s, off, need))
                problem(s->c, "record %u (handle %" PRIx64 "): arena block overlaps "
                              "another record's\n", i, id);
        }
    }
    if (sl->len - g->mapb > g->max_dirty)
        problem(s->c, "checkpoint: %u bytes besides the map exceed max_dirty %u\n",
                sl->len - g->mapb, g->max_dirty);
}

/* ---- the group's undo log ------------------------------------------------------------------- */

struct span {
    uint32_t unit, end; /* an undo entry's bytes of a resident object end at `end` */
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->unit < y->unit ? -1 : x->unit > y->unit;
}

/* Every entry of the loaded checkpoint's undo log, as a rollback (vnv_open) applies it:
 * a START unit; bytes of a resident object inside it, bytes on storage inside the current
 * data slot of an intact home, or (length 0) an object the group allocated at home, which
 * the rollback frees; its arena block. After check_records (resident, unhomed). Returns -1
 * when out of memory (at most 8 bytes per entry: 512 KiB), else 0. */
static int check_undo(struct state *s)
{
    const struct geo *g = s->g;
    const struct slot *sl = s->sl;
    const uint8_t *h = s->img + sl->base;
    if (!sl->nundo)
        return 0;
    struct span *sp = calloc(sl->nundo, sizeof *sp);
    if (!sp)
        return -1;
    uint32_t pos = sl->undo_pos, nsp = 0;
    /* verify_slot has parsed the log: every entry and its bytes lie inside len */
    for (uint32_t i = 0; i < sl->nundo; i++) {
        const uint8_t *e = h + pos;
        uint32_t u = le32(e), at = le32(e + 4), n = le16(e + 8), au = le16(e + 10);
        pos += UNDO_REC + n;
        uint64_t off = au ? (uint64_t)(au - 1u) * 8u : 0u, need = UNDO_RAM_HDR + n;
        if (!au)
            problem(s->c, "undo entry %u: arena unit 0\n", i);
        else if (off + need > MAX_ARENA)
            problem(s->c, "undo entry %u: arena block [%" PRIu64 ", +%" PRIu64 ") past the "
                          "largest arena\n", i, off, need);
        else if (arena_take(s, off, need))
            problem(s->c, "undo entry %u: arena block overlaps another one\n", i);
        if (u >= g->units || !bit(s->start, u)) {
            problem(s->c, "undo entry %u: unit %u is not a START unit\n", i, u);
            continue;
        }
        if (at & UNDO_IN_RAM) { /* bytes of a resident object: bounded below, by its size */
            if (!bit(s->resident, u))
                problem(s->c, "undo entry %u: bytes of the object at unit %u in RAM, but it "
                              "has no record\n", i, u);
            else
                sp[nsp++] = (struct span){u, (at & ~UNDO_IN_RAM) + n};
            continue;
        }
        if (!n) { /* allocated in the group at home: the rollback frees it */
            if (sl->root && id_unit(g, sl->root) == u)
                problem(s->c, "undo entry %u: the root from before the group names the object "
                              "the group allocated at unit %u (a rollback frees it)\n", i, u);
            continue;
        }
        if (bit(s->unhomed, u)) {
            problem(s->c, "undo entry %u: bytes of the home at unit %u, whose object was never "
                          "written home\n", i, u);
            continue;
        }
        uint64_t hid;
        uint32_t size, pbits;
        const char *why = read_header(s, u, &hid, &size, &pbits);
        if (why) {
            problem(s->c, "undo entry %u: the home at unit %u: %s\n", i, u, why);
            continue;
        }
        uint32_t slot = g->nv_off + u * g->unit + OBJ_HDR +
                        (uint32_t)bit(s->cur, u) * (size + g->slot_crc);
        if (at < slot || n > size || at - slot > size - n)
            problem(s->c, "undo entry %u: bytes [%u, +%u) outside the current data slot "
                          "[%u, +%u) of the home at unit %u\n", i, at, n, slot, size, u);
    }
    /* the bytes in RAM against the objects' sizes: the entries sorted by unit, one per unit
     * (the furthest end), then each record looks its unit up */
    if (nsp) {
        qsort(sp, nsp, sizeof *sp, span_cmp);
        uint32_t k = 0;
        for (uint32_t j = 1; j < nsp; j++) {
            if (sp[j].unit != sp[k].unit)
                sp[++k] = sp[j];
            else if (sp[j].end > sp[k].end)
                sp[k].end = sp[j].end;
        }
        nsp = k + 1u;
        pos = CK_HDR + g->mapb;
        for (uint32_t i = 0; i < sl->nrec; i++) {
            const uint8_t *r = h + pos;
            uint32_t word = le32(r + 8), st = word & ST_MASK, size = word >> ST_BITS;
            uint32_t u = id_unit(g, le64(r));
            pos += CK_REC;
            if (st & ST_PARTIAL) {
                uint32_t bs = 16u << ((st & ST_PSHIFT) >> 8);
                uint32_t nbm = ((size + bs - 1u) / bs + 7u) / 8u;
                pos += nbm + runs_bytes(h + pos, size, st);
            } else if (st & ST_DIRTY) {
                pos += size;
            }
            pos += pre_len(le16(r + 14), st, size);
            struct span key = {u, 0};
            struct span *f = bsearch(&key, sp, nsp, sizeof *sp, span_cmp);
            if (f && f->end > size) {
                problem(s->c, "undo log: bytes up to %u of the object at unit %u in RAM, which "
                              "has %u\n", f->end, u, size);
                f->end = 0; /* once per unit, whatever the records */
            }
        }
    }
    free(sp);
    return 0;
}

/* Every START unit's header; returns the objects and their bytes. */
static void check_homes(struct state *s, uint32_t *objects, uint64_t *bytes, uint32_t *used)
{
    const struct geo *g = s->g;
    *objects = *used = 0;
    *bytes = 0;
    for (uint32_t u = 0; u < g->units; u++) {
        *used += (uint32_t)bit(s->alloc, u);
        if (!bit(s->start, u))
            continue;
        (*objects)++;
        if (bit(s->unhomed, u))
            continue; /* resident and never written home: no header yet */
        uint64_t id;
        uint32_t size, pbits;
        const char *why = read_header(s, u, &id, &size, &pbits);
        if (!why && g->slot_crc) { /* the data checksum of the slot the map names current */
            uint32_t at = g->nv_off + u * g->unit + OBJ_HDR + (uint32_t)bit(s->cur, u) *
                                                                (size + g->slot_crc);
            if (le32(s->img + at + size) != crc32(0, s->img + at, size))
                why = "data checksum mismatch in its current slot (bit rot)";
        }
        if (why)
            problem(s->c, "object header at unit %u (offset %u): %s\n", u,
                    g->nv_off + u * g->unit, why);
        else
            *bytes += size;
    }
}

static void check_root(struct state *s)
{
    const struct geo *g = s->g;
    uint64_t root = s->sl->root;
    uint32_t u = id_unit(g, root);
    if (!root)
        return;
    if (id_tag(g, root) == 0 || u >= g->units || !bit(s->start, u)) {
        problem(s->c, "root handle %" PRIx64 " does not name a START unit\n", root);
        return;
    }
    uint64_t id = root;
    uint32_t size, pbits;
    if (bit(s->unhomed, u)) { /* the record's handle */
        const uint8_t *h = s->img + s->sl->base;
        uint32_t pos = CK_HDR + g->mapb;
        for (uint32_t i = 0; i < s->sl->nrec; i++) {
            const uint8_t *r = h + pos;
            uint32_t word = le32(r + 8), st = word & ST_MASK, sz = word >> ST_BITS;
            if (id_unit(g, le64(r)) == u) {
                id = le64(r);
                break;
            }
            pos += CK_REC;
            if (st & ST_PARTIAL) {
                uint32_t nbm = ((sz + (16u << ((st & ST_PSHIFT) >> 8)) - 1u) /
                                    (16u << ((st & ST_PSHIFT) >> 8)) + 7u) / 8u;
                pos += nbm + runs_bytes(h + pos, sz, st);
            } else if (st & ST_DIRTY) {
                pos += sz;
            }
            pos += pre_len(le16(r + 14), st, sz);
        }
    } else if (read_header(s, u, &id, &size, &pbits)) {
        return; /* reported with the homes */
    }
    if (id != root)
        problem(s->c, "root handle %" PRIx64 " is stale: unit %u holds object %" PRIx64
                      "\n", root, u, id);
}

/* ---- the library's view ------------------------------------------------------------------------- */

static int library_view(struct ctx *c, struct vnv_storage *st, const struct geo *g,
                        const struct vnv_nv_allocator *nv, const struct vnv_ram_allocator *ram,
                        uint32_t arena_need, uint32_t nrec)
{
    uint32_t entries = 64;
    while (entries < 65536u && entries - entries / 4u < nrec + 1u)
        entries <<= 1;
    uint32_t arena = g->arena > arena_need ? g->arena : arena_need;
    if (arena < 4096u)
        arena = 4096u;
    if (arena > MAX_ARENA)
        arena = MAX_ARENA;
    size_t bufsize = 8u + ((size_t)entries * 2u + 7u) / 8u * 8u + (size_t)5u * g->words * 4u +
                     arena + 64u;
    bufsize = (bufsize + 7u) & ~(size_t)7u;
    void *buf = aligned_alloc(8, bufsize);
    if (!buf)
        return VNV_CHECK_ERROR;
    static struct vnv_heap heap;
    struct vnv_config cfg = {.storage = st, .buffer = buf, .buffer_size = bufsize,
                             .max_dirty_bytes = g->max_dirty, .nv_allocator = nv,
                             .ram_allocator = ram, .index_entries = entries,
                             .nv_unit = g->unit};
    int err = vnv_open(&heap, &cfg);
    if (!err)
        err = vnv_check(&heap);
    if (err)
        problem(c, "vnv_open + vnv_check: %s\n", vnv_strerror(err));
    else
        say(c, "vnv_open + vnv_check: ok\n");
    vnv_abandon(&heap);
    free(buf);
    return VNV_CHECK_OK;
}

/* ---- the image ------------------------------------------------------------------------------------ */

static void print_slot(struct ctx *c, unsigned s, const struct slot *sl)
{
    if (sl->ok)
        say(c, "slot %c: seq %u, %u bytes, %u records, %s\n", 'A' + s, sl->seq, sl->len,
            sl->nrec, (sl->flags & 1u) ? "clean (close/format)" : "power-fail");
    else
        say(c, "slot %c: %s%s\n", 'A' + s, sl->magic ? "does not verify: " : "", sl->why);
}

int vnv_check_image(const uint8_t *img, size_t len, const char *name, FILE *out, int quiet)
{
    struct ctx c = {out, quiet, 0};
    if (!name)
        name = "image";
    if (!img || len < SB_SIZE) {
        problem(&c, "%zu bytes: too small for a vnvheap image (the superblock alone is %u)\n",
                img ? len : 0, SB_SIZE);
        return verdict(&c, name);
    }
    if (len > VNV_MAX_STORAGE_SIZE) {
        problem(&c, "%zu bytes: larger than any vnvheap image (at most %u)\n", len,
                VNV_MAX_STORAGE_SIZE);
        return verdict(&c, name);
    }
    /* 1. superblock */
    const uint8_t *s = img;
    if (le32(s) != SB_MAGIC0 || le32(s + 4) != SB_MAGIC1) {
        problem(&c, "not a vnvheap image (bad magic)\n");
        return verdict(&c, name);
    }
    if (le32(s + 60) != crc32(0, s, 60)) {
        problem(&c, "superblock CRC mismatch\n");
        return verdict(&c, name);
    }
    if (le32(s + 8) != SB_VERSION) {
        problem(&c, "format version %" PRIu32 ", this tool reads %u\n", le32(s + 8), SB_VERSION);
        return verdict(&c, name);
    }
    uint32_t size = le32(s + 12), max_dirty = le32(s + 16), unit = le32(s + 48);
    struct geo g;
    memset(&g, 0, sizeof g);
    say(&c, "superblock: format 5, storage %u B, max_dirty %u B, unit %u B\n", size, max_dirty,
        unit);
    if (size > len) {
        problem(&c, "image is %zu bytes, superblock says %" PRIu32 " (truncated)\n", len, size);
        return verdict(&c, name);
    }
    if (size < len) { /* a larger file or device: the heap uses its first `size` bytes */
        say(&c, "image is %zu bytes: the heap uses the first %" PRIu32 ", the rest is not "
                "checked\n", len, size);
        len = size;
    }
    const char *why = layout(size, max_dirty, unit, &g);
    if (why) {
        problem(&c, "superblock: inconsistent geometry: %s\n", why);
        return verdict(&c, name);
    }
    static const struct {
        unsigned off;
        const char *field;
    } fields[] = {{20, "ckpt_off"}, {24, "ckpt_cap"}, {28, "nv_off"}, {32, "nv_size"},
                  {52, "units"}};
    uint32_t want[] = {CK_OFF, g.cap, g.nv_off, g.nv_size, g.units};
    for (unsigned i = 0; i < 5; i++)
        if (le32(s + fields[i].off) != want[i])
            problem(&c, "superblock: inconsistent geometry: %s %" PRIu32 ", the layout of "
                        "this size, max_dirty and unit gives %u\n", fields[i].field,
                    le32(s + fields[i].off), want[i]);
    if (le32(s + 56) & ~SB_FEAT_CRC)
        problem(&c, "superblock: unknown feature bits %08" PRIx32 "\n", le32(s + 56));
    g.slot_crc = (le32(s + 56) & SB_FEAT_CRC) ? 4u : 0u;
    if (g.slot_crc)
        say(&c, "features: data slots carry a CRC-32 (VNV_DATA_CRC)\n");
    g.arena = le32(s + 36);
    if (g.arena > MAX_ARENA)
        problem(&c, "superblock: RAM arena size %u exceeds the format's limit of %u bytes\n",
                g.arena, MAX_ARENA);
    if (c.problems)
        return verdict(&c, name);
    say(&c, "layout: tag reservation [%u, +%u), slots A [%u, +%u) B [%u, +%u), homes [%u, +%u): "
            "%u units, RAM arena >= %u B\n", SB_SIZE, TAG_AREA, CK_OFF, g.cap, CK_OFF + g.cap,
        g.cap, g.nv_off, g.nv_size, g.units, g.arena);
    const struct vnv_nv_allocator *nv = NULL;
    const struct vnv_ram_allocator *ram = NULL;
    if (le32(s + 40) == fnv1a(vnv_nv_firstfit.name))
        nv = &vnv_nv_firstfit;
    else if (le32(s + 40) == fnv1a(vnv_nv_buddy.name))
        nv = &vnv_nv_buddy;
    if (le32(s + 44) == fnv1a(vnv_ram_firstfit.name))
        ram = &vnv_ram_firstfit;
    else if (le32(s + 44) == fnv1a(vnv_ram_buddy.name))
        ram = &vnv_ram_buddy;
    say(&c, "allocators: NV %s, RAM %s\n", nv ? nv->name : "unknown (custom?)",
        ram ? ram->name : "unknown (custom?)");

    /* 2. the tag reservation: a torn record (a cut while it was written) is no damage, nor
     * is one past the tag space (open ignores it) */
    uint64_t reserved = 0, tag_end = (UINT64_MAX >> g.unit_bits) - 1u;
    for (unsigned r = 0; r < 2; r++) {
        const uint8_t *t = img + SB_SIZE + 16u * r;
        uint64_t v = le64(t + 4);
        if (le32(t) != TAG_MAGIC || le32(t + 12) != crc32(0, t, 12)) {
            say(&c, "tag reservation %u: %s\n", r, le32(t) == TAG_MAGIC
                ? "torn (a cut while it was written; the other one counts)" : "none");
        } else if (v >= tag_end) {
            say(&c, "tag reservation %u: %" PRIu64 ", past the tag space (forged?): ignored\n",
                r, v);
        } else {
            say(&c, "tag reservation %u: allocation counter up to %" PRIu64 "\n", r, v);
            reserved = v > reserved ? v : reserved;
        }
    }

    /* 3. checkpoint slots: the newer verifying one is loaded, else the other */
    struct slot sl[2];
    verify_slot(img, &g, 0, &sl[0]);
    verify_slot(img, &g, 1, &sl[1]);
    print_slot(&c, 0, &sl[0]);
    print_slot(&c, 1, &sl[1]);
    unsigned first = (sl[1].magic && (!sl[0].magic || (int32_t)(sl[1].seq - sl[0].seq) > 0))
                         ? 1u : 0u;
    unsigned pick = sl[first].ok ? first : 1u - first;
    if (!sl[pick].ok) {
        problem(&c, "no checkpoint slot verifies: vnv_open gives CORRUPT\n");
        return verdict(&c, name);
    }
    if (pick != first && sl[first].magic)
        say(&c, "note: the newer slot %c does not verify (a checkpoint cut while it was "
                "written); open loads the previous one\n", 'A' + first);

    /* 4-6. the loaded checkpoint against the homes */
    struct state *st = calloc(1, sizeof *st);
    uint8_t *bits = calloc(2, (g.units + 7u) / 8u + 1u);
    if (!st || !bits) {
        free(st);
        free(bits);
        if (out)
            fprintf(out, "vnv-check: out of memory\n");
        return VNV_CHECK_ERROR;
    }
    const uint8_t *map = img + sl[pick].base + CK_HDR;
    st->c = &c, st->img = img, st->g = &g, st->sl = &sl[pick];
    st->alloc = map, st->start = map + g.words * 4u, st->cur = map + 2u * g.words * 4u;
    st->resident = bits, st->unhomed = bits + (g.units + 7u) / 8u + 1u;
    check_map(st);
    uint32_t objects = 0, used = 0;
    uint64_t bytes = 0;
    if (!c.problems) { /* extents need a sound map */
        check_records(st);
        if (check_undo(st)) {
            free(st);
            free(bits);
            if (out)
                fprintf(out, "vnv-check: out of memory\n");
            return VNV_CHECK_ERROR;
        }
        check_homes(st, &objects, &bytes, &used);
        check_root(st);
        say(&c, "checkpoint: slot %c, seq %u, %u resident records (%u dirty bytes), root %s, "
                "%" PRIu64 " allocations so far (open goes on from %" PRIu64 ")\n", 'A' + pick,
            sl[pick].seq, sl[pick].nrec, st->dirty_bytes, sl[pick].root ? "set" : "none",
            sl[pick].count, reserved > sl[pick].count ? reserved : sl[pick].count);
        if (sl[pick].flags & CK_FLAG_GROUP)
            say(&c, "group: taken inside a failure-atomic group; open rolls it back (the root "
                    "from before it, %u undo log entries)\n", sl[pick].nundo);
        say(&c, "objects: %u (%" PRIu64 " bytes of data on storage); NV units used %u of %u: "
                "%" PRIu64 " B used, %" PRIu64 " B free; quarantine: not applicable offline\n",
            objects, bytes, used, g.units, (uint64_t)used * g.unit,
            (uint64_t)(g.units - used) * g.unit);
    }
    uint32_t arena_need = st->arena_end, nrec = sl[pick].nrec;
    free(st);
    free(bits);

    /* 7. the library's view */
    if (!c.problems && nv && ram) {
        struct image im = {img, len, NULL, 0};
        struct vnv_storage vs = {&im, (uint32_t)len, cow_read, cow_write, NULL, NULL};
        int lv = library_view(&c, &vs, &g, nv, ram, arena_need, nrec);
        cow_free(&im);
        if (lv != VNV_CHECK_OK || im.oom) {
            if (out)
                fprintf(out, "vnv-check: out of memory\n");
            return VNV_CHECK_ERROR;
        }
    }
    return verdict(&c, name);
}

int vnv_check_file(const char *path, FILE *out, int quiet)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "vnv-check: cannot open %s: %s\n", path, strerror(errno));
        return VNV_CHECK_ERROR;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "vnv-check: %s is not a regular file\n", path);
        close(fd);
        return VNV_CHECK_ERROR;
    }
    if (sb.st_size > (off_t)VNV_MAX_STORAGE_SIZE) {
        close(fd);
        struct ctx c = {out, quiet, 0};
        problem(&c, "%jd bytes: larger than any vnvheap image (at most %u)\n",
                (intmax_t)sb.st_size, VNV_MAX_STORAGE_SIZE);
        return verdict(&c, path);
    }
    size_t len = (size_t)sb.st_size, got = 0;
    uint8_t *img = malloc(len ? len : 1);
    while (img && got < len) {
        ssize_t n = read(fd, img + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!img || got != len) {
        fprintf(stderr, "vnv-check: cannot read %s%s\n", path, img ? "" : ": out of memory");
        free(img);
        return VNV_CHECK_ERROR;
    }
    int rc = vnv_check_image(img, len, path, out, quiet);
    free(img);
    return rc;
}
