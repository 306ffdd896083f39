/*
 * vnv_check_lib.c - validate a vnvheap storage image offline, read-only (vnv_check_lib.h).
 *
 * Checks, following docs/FORMAT.md (decoded here independently of the library's internals,
 * so the tool also checks the specification):
 *   1. superblock: size, magic, version, CRC, geometry, free-cache count, arena size;
 *   2. NV allocator region: the default buddy allocator's structure (via its walk), and
 *      every allocated block's object header: live, freed-but-leaked, or garbage;
 *   3. checkpoint: header, CRC over body, every record names a live object, the root too;
 *   4. the library's own view: vnv_open on the image (read-only) followed by vnv_check.
 * Every field is bounded before it is used as a length, a count or an offset; all reads of
 * the image go through one bounds-checked function.
 */
#define _POSIX_C_SOURCE 200809L
#include "vnv_check_lib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnvheap.h"

#define SB_SIZE 64u
#define CK_FIXED 32u             /* checkpoint header without the parked homes */
#define MAX_ARENA (65534u * 8u)  /* a record's arena unit is (offset / 8) + 1 in 16 bits */
#define MAX_LIVE 65536u          /* live handles remembered for the checkpoint's records */

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
    c->problems++;
    if (!c->out)
        return;
    fputs("PROBLEM: ", c->out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
}

/* ---- read-only storage over the image in memory ------------------------------------------ */

struct image {
    const uint8_t *p;
    size_t len;
};

static int ro_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    const struct image *im = ctx;
    if (off > im->len || len > im->len - off)
        return VNV_ERR_INVAL;
    if (len)
        memcpy(dst, im->p + off, len);
    return VNV_OK;
}

static int ro_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    (void)ctx, (void)off, (void)src, (void)len;
    return VNV_ERR_IO; /* the checker never modifies the image */
}

/* ---- format primitives (docs/FORMAT.md) ------------------------------------------------------- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

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

static uint8_t crc8(const uint8_t *p, size_t n, uint8_t crc)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t)((crc & 0x80u) ? ((unsigned)crc << 1) ^ 0x07u : (unsigned)crc << 1);
    }
    return crc;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t x = 2166136261u;
    for (; *s; s++)
        x = (x ^ (uint8_t)*s) * 16777619u;
    return x;
}

enum hdr_kind { HDR_LIVE, HDR_FREED, HDR_GARBAGE };

/* Decode the 8-byte object header at `home` (GARBAGE also if it is outside the image). */
static enum hdr_kind object_header(const struct vnv_storage *st, uint32_t home, uint32_t *size,
                                   uint32_t *tag)
{
    uint8_t b[8];
    uint8_t off[4] = {(uint8_t)home, (uint8_t)(home >> 8), (uint8_t)(home >> 16),
                      (uint8_t)(home >> 24)};
    *size = *tag = 0;
    if (vnv_storage_read(st, home, b, 8) || b[7] != crc8(b, 7, crc8(off, 4, 0x5Au)))
        return HDR_GARBAGE;
    *size = le32(b) & 0x3FFFFFu;
    *tag = (uint32_t)b[4] | (uint32_t)b[5] << 8;
    if (b[6] == 0xA7u && *size && (le32(b) >> 25) == 0 && *tag && *tag < 1024)
        return HDR_LIVE;
    return b[6] == 0 ? HDR_FREED : HDR_GARBAGE;
}

/* ---- NV region walk ------------------------------------------------------------------------------ */

struct walk_ctx {
    struct ctx *c;
    struct vnv_storage *st;
    uint32_t live, freed, garbage, live_bytes;
    uint32_t nlive, max_live;
    uint32_t *live_ids; /* sorted by construction: the walk goes in address order */
};

static int visit(void *ctx, uint32_t off, uint32_t size)
{
    struct walk_ctx *w = ctx;
    uint32_t osize, tag;
    if (size < 8)
        return VNV_ERR_CORRUPT;
    switch (object_header(w->st, off, &osize, &tag)) {
    case HDR_LIVE:
        if (osize > size - 8) {
            problem(w->c, "object at %u: size %u exceeds its block (%u usable)\n", off, osize,
                    size - 8);
            break;
        }
        w->live++;
        w->live_bytes += osize;
        if (w->nlive < w->max_live)
            w->live_ids[w->nlive++] = (off >> 2) << 10 | tag;
        break;
    case HDR_FREED:
        w->freed++; /* freed, but the allocator could not take the block back */
        break;
    default:
        w->garbage++; /* allocated block without a valid header: an interrupted alloc */
        break;
    }
    return 0;
}

static int is_live(const struct walk_ctx *w, uint32_t id)
{
    size_t lo = 0, hi = w->nlive;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->live_ids[mid] == id)
            return 1;
        if ((w->live_ids[mid] >> 10) < (id >> 10))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* ---- checkpoint ----------------------------------------------------------------------------------- */

/* `img` is the whole image; the superblock check has put [ckpt_off, ckpt_off + cap) inside
 * it and hsize <= cap. */
static void check_checkpoint(struct ctx *c, struct vnv_storage *st, const uint8_t *img,
                             uint32_t ckpt_off, uint32_t cap, uint32_t ncache,
                             const struct walk_ctx *w)
{
    const uint8_t *h = img + ckpt_off;
    uint32_t hsize = CK_FIXED + 8u * ncache; /* fixed part + parked homes (FORMAT.md 2.1) */
    uint32_t len = le32(h + 8), nrec = le32(h + 16), root = le32(h + 20);
    if (le32(h) != 0x43564E56u) {
        problem(c, "no valid checkpoint (voided: power was lost after the heap wrote to "
                   "storage without a new checkpoint, or the last checkpoint was torn)\n");
        return;
    }
    if (len < hsize || len > cap) {
        problem(c, "checkpoint length %u outside [%u, %u]\n", len, hsize, cap);
        return;
    }
    uint8_t hdr[CK_FIXED];
    memcpy(hdr, h, CK_FIXED);
    memset(hdr + 12, 0, 4);
    uint32_t crc = crc32(0, h + hsize, len - hsize);
    crc = crc32(crc, hdr, CK_FIXED);
    if (crc32(crc, h + CK_FIXED, hsize - CK_FIXED) != le32(h + 12)) {
        problem(c, "checkpoint CRC mismatch (torn or corrupted)\n");
        return;
    }
    say(c, "checkpoint: seq %u, %u bytes, %u resident objects, flags %s\n", le32(h + 4), len,
        nrec, (le32(h + 28) & 1u) ? "clean" : "power-fail");
    if (root && !is_live(w, root))
        problem(c, "root handle %08x names no live object\n", root);
    say(c, "root: %s\n", root ? "set" : "none");
    uint32_t parked = 0;
    for (uint32_t i = 0; i < ncache; i++) {
        uint32_t home = le32(h + CK_FIXED + 8 * i), size = le32(h + CK_FIXED + 4 + 8 * i);
        uint32_t osize, tag;
        if (!size)
            continue;
        parked++;
        if (object_header(st, home, &osize, &tag) != HDR_FREED)
            problem(c, "parked home %u does not hold a freed object header\n", home);
    }
    if (parked)
        say(c, "parked for reuse: %u freed homes (counted among the freed blocks above)\n",
            parked);
    /* records: id, unit, status; then bitmap / dirty bytes whose length needs the size */
    uint32_t pos = hsize;
    for (uint32_t i = 0; i < nrec; i++) {
        if (len - pos < 8) {
            problem(c, "checkpoint record %u of %u runs past the checkpoint's end\n", i, nrec);
            return;
        }
        uint32_t id = le32(h + pos), st16 = (uint32_t)h[pos + 6] | (uint32_t)h[pos + 7] << 8;
        uint32_t home = (id >> 10) << 2, size = 0, tag;
        pos += 8;
        if (!is_live(w, id) || object_header(st, home, &size, &tag) != HDR_LIVE) {
            problem(c, "checkpoint record %u names handle %08x: not a live object\n", i, id);
            return;
        }
        uint64_t need = 0; /* bytes of this record after its 8-byte head */
        if (st16 & 0x80u) { /* partial: bitmap, then each dirty block */
            uint32_t bs = 16u << ((st16 >> 8) & 3u), nb = (size + bs - 1) / bs;
            uint32_t bmlen = (nb + 7) / 8;
            if (len - pos < bmlen) {
                problem(c, "checkpoint record %u (handle %08x) runs past the checkpoint's "
                           "end\n", i, id);
                return;
            }
            const uint8_t *bm = h + pos;
            need = bmlen;
            for (uint32_t b = 0; b < nb; b++)
                if (bm[b / 8] & (1u << (b % 8)))
                    need += (uint64_t)(b + 1) * bs <= size ? bs : size - b * bs;
        } else if (st16 & 0x20u) {
            need = size;
        }
        if (need > len - pos) {
            problem(c, "checkpoint record %u (handle %08x) runs past the checkpoint's end\n", i,
                    id);
            return;
        }
        pos += (uint32_t)need;
    }
    if (pos != len)
        problem(c, "checkpoint body does not parse to its length (%u != %u)\n", pos, len);
}

/* ---- the image ------------------------------------------------------------------------------------ */

static int verdict(struct ctx *c, const char *name)
{
    if (c->out)
        fprintf(c->out, "%s: %s\n", name, c->problems ? "PROBLEMS FOUND" : "consistent");
    return c->problems ? VNV_CHECK_PROBLEMS : VNV_CHECK_OK;
}

int vnv_check_image(const uint8_t *img, size_t len, const char *name, FILE *out, int quiet)
{
    struct ctx c = {out, quiet, 0};
    if (!name)
        name = "image";
    if (len < SB_SIZE) {
        problem(&c, "%zu bytes: too small for a vnvheap image (the superblock alone is %u)\n",
                len, SB_SIZE);
        return verdict(&c, name);
    }
    if (len > VNV_MAX_STORAGE_SIZE) {
        problem(&c, "%zu bytes: larger than any vnvheap image (at most %u)\n", len,
                VNV_MAX_STORAGE_SIZE);
        return verdict(&c, name);
    }
    struct image im = {img, len};
    struct vnv_storage st = {&im, (uint32_t)len, ro_read, ro_write, NULL, NULL};
    const uint8_t *s = img;
    if (le32(s) != 0x484E4E56u || le32(s + 4) != 0x31504145u) {
        problem(&c, "not a vnvheap image (bad magic)\n");
        return verdict(&c, name);
    }
    if (le32(s + 60) != crc32(0, s, 60)) {
        problem(&c, "superblock CRC mismatch\n");
        return verdict(&c, name);
    }
    if (le32(s + 8) != 2) {
        problem(&c, "format version %u, this tool reads version 2\n", le32(s + 8));
        return verdict(&c, name);
    }
    uint32_t size = le32(s + 12), max_dirty = le32(s + 16), ckpt_off = le32(s + 20);
    uint32_t ckpt_cap = le32(s + 24), nv_off = le32(s + 28), nv_size = le32(s + 32);
    uint32_t arena = le32(s + 36), ncache = le32(s + 48);
    say(&c, "superblock: format 2, storage %u B, max_dirty %u B, checkpoint [%u, +%u), "
            "objects [%u, +%u), RAM arena >= %u B\n", size, max_dirty, ckpt_off, ckpt_cap,
        nv_off, nv_size, arena);
    /* Nothing below may trust a field the superblock check has not bounded. */
    if (size != len)
        problem(&c, "image is %zu bytes, superblock says %u\n", len, size);
    if (ckpt_off != SB_SIZE || ckpt_cap < max_dirty || (uint64_t)ckpt_off + ckpt_cap > nv_off ||
        (uint64_t)nv_off + nv_size != size) {
        problem(&c, "superblock: inconsistent geometry\n");
        return verdict(&c, name);
    }
    if ((uint64_t)CK_FIXED + 8u * (uint64_t)ncache > ckpt_cap) {
        problem(&c, "superblock: free-cache count %u does not fit the checkpoint region "
                    "(%u bytes)\n", ncache, ckpt_cap);
        return verdict(&c, name);
    }
    if (arena > MAX_ARENA) {
        problem(&c, "superblock: RAM arena size %u exceeds the format's limit of %u bytes\n",
                arena, MAX_ARENA);
        return verdict(&c, name);
    }
    if (c.problems)
        return verdict(&c, name);
    if (le32(s + 40) != fnv1a(vnv_nv_buddy.name)) {
        problem(&c, "the NV allocator is not the default buddy; only the checkpoint and the "
                    "superblock can be checked\n");
        return verdict(&c, name);
    }

    /* 2. the NV allocator's structure and every allocated block (at most one per 16 B) */
    static uint32_t nv_state[VNV_NV_STATE_MAX / 4];
    uint32_t max_live = nv_size / 16u + 1u < MAX_LIVE ? nv_size / 16u + 1u : MAX_LIVE;
    struct walk_ctx w = {&c, &st, 0, 0, 0, 0, 0, max_live, calloc(max_live, sizeof(uint32_t))};
    if (!w.live_ids) {
        if (out)
            fprintf(out, "vnv-check: out of memory\n");
        return VNV_CHECK_ERROR;
    }
    int err = vnv_nv_buddy.attach(nv_state, &st, nv_off, nv_size);
    if (!err)
        err = vnv_nv_buddy.check(nv_state, &st);
    if (!err)
        err = vnv_nv_buddy.walk(nv_state, &st, visit, &w);
    if (err) {
        problem(&c, "NV allocator structure: %s\n", vnv_strerror(err));
    } else {
        say(&c, "objects: %u live (%u bytes), free space %u B\n", w.live, w.live_bytes,
            vnv_nv_buddy.free_bytes(nv_state));
        if (w.freed)
            say(&c, "note: %u freed blocks not yet returned to the allocator (parked for "
                    "reuse, or leaked by a failed free)\n", w.freed);
        if (w.garbage)
            say(&c, "note: %u allocated blocks without an object (interrupted allocations)\n",
                w.garbage);
    }

    /* 3. the checkpoint */
    if (!err)
        check_checkpoint(&c, &st, img, ckpt_off, ckpt_cap, ncache, &w);
    free(w.live_ids);

    /* 4. the library's view: open and check, with a buffer the bounded arena fits in */
    if (!c.problems) {
        size_t bufsize = (size_t)arena + arena / 16u + 4096u;
        void *buf = aligned_alloc(8, (bufsize + 7) & ~(size_t)7);
        if (!buf) {
            if (out)
                fprintf(out, "vnv-check: out of memory\n");
            return VNV_CHECK_ERROR;
        }
        static struct vnv_heap heap;
        struct vnv_config cfg = {.storage = &st, .buffer = buf, .buffer_size = bufsize,
                                 .max_dirty_bytes = max_dirty};
        err = vnv_open(&heap, &cfg);
        if (!err)
            err = vnv_check(&heap);
        if (err)
            problem(&c, "vnv_open + vnv_check: %s\n", vnv_strerror(err));
        else
            say(&c, "vnv_open + vnv_check: ok\n");
        vnv_abandon(&heap);
        free(buf);
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
