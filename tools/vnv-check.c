/*
 * vnv-check - validate a vnvheap storage image offline, read-only.
 *
 *   vnv-check [-q] IMAGE
 *
 * Checks, following docs/FORMAT.md (decoded here independently of the library's internals,
 * so the tool also checks the specification):
 *   1. superblock: magic, version, CRC, geometry;
 *   2. NV allocator region: the default buddy allocator's structure (via its walk), and
 *      every allocated block's object header: live, freed-but-leaked, or garbage;
 *   3. checkpoint: header, CRC over body, every record names a live object, the root too;
 *   4. the library's own view: vnv_open on the image (read-only) followed by vnv_check.
 * Exit status: 0 consistent, 1 problems found, 2 usage or I/O error.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnvheap.h"

static int quiet;
static unsigned problems;

#define SAY(...) (quiet ? (void)0 : (void)printf(__VA_ARGS__))
#define PROBLEM(...) (problems++, printf("PROBLEM: "), printf(__VA_ARGS__))

/* ---- read-only storage over the image file -------------------------------------------------- */

static int ro_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    int fd = *(int *)ctx;
    uint8_t *p = dst;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n <= 0)
            return VNV_ERR_IO;
        p += n;
        off += (uint32_t)n;
        len -= (uint32_t)n;
    }
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

/* Decode the 8-byte object header at `home`. */
static enum hdr_kind object_header(const uint8_t *b, uint32_t home, uint32_t *size, uint32_t *tag)
{
    uint8_t off[4] = {(uint8_t)home, (uint8_t)(home >> 8), (uint8_t)(home >> 16),
                      (uint8_t)(home >> 24)};
    if (b[7] != crc8(b, 7, crc8(off, 4, 0x5Au)))
        return HDR_GARBAGE;
    *size = le32(b) & 0x3FFFFFu;
    *tag = (uint32_t)b[4] | (uint32_t)b[5] << 8;
    if (b[6] == 0xA7u && *size && (le32(b) >> 25) == 0 && *tag && *tag < 1024)
        return HDR_LIVE;
    return b[6] == 0 ? HDR_FREED : HDR_GARBAGE;
}

/* ---- NV region walk ------------------------------------------------------------------------------ */

#define MAX_LIVE 65536

struct walk_ctx {
    struct vnv_storage *st;
    uint32_t live, freed, garbage, live_bytes;
    uint32_t nlive;
    uint32_t *live_ids; /* sorted by construction: the walk goes in address order */
};

static int visit(void *ctx, uint32_t off, uint32_t size)
{
    struct walk_ctx *w = ctx;
    uint8_t b[8];
    uint32_t osize, tag;
    if (size < 8 || vnv_storage_read(w->st, off, b, 8))
        return VNV_ERR_IO;
    switch (object_header(b, off, &osize, &tag)) {
    case HDR_LIVE:
        if (osize > size - 8) {
            PROBLEM("object at %u: size %u exceeds its block (%u usable)\n", off, osize, size - 8);
            break;
        }
        w->live++;
        w->live_bytes += osize;
        if (w->nlive < MAX_LIVE)
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

static int check_checkpoint(struct vnv_storage *st, uint32_t ckpt_off, uint32_t cap,
                            uint32_t ncache, const struct walk_ctx *w)
{
    uint8_t h[32];
    uint32_t hsize = 32 + 8 * ncache; /* fixed part + parked homes (FORMAT.md 2.1) */
    if (vnv_storage_read(st, ckpt_off, h, 32))
        return VNV_ERR_IO;
    uint32_t len = le32(h + 8), nrec = le32(h + 16), root = le32(h + 20);
    if (le32(h) != 0x43564E56u) {
        PROBLEM("no valid checkpoint (voided: power was lost after the heap wrote to storage "
                "without a new checkpoint, or the last checkpoint was torn)\n");
        return VNV_OK;
    }
    if (len < hsize || len > cap) {
        PROBLEM("checkpoint length %u outside [%u, %u]\n", len, hsize, cap);
        return VNV_OK;
    }
    uint8_t *body = malloc(len);
    if (!body || vnv_storage_read(st, ckpt_off, body, len)) {
        free(body);
        return VNV_ERR_IO;
    }
    uint32_t crc = crc32(0, body + hsize, len - hsize);
    memset(body + 12, 0, 4);
    if (crc32(crc, body, hsize) != le32(h + 12)) {
        PROBLEM("checkpoint CRC mismatch (torn or corrupted)\n");
        free(body);
        return VNV_OK;
    }
    SAY("checkpoint: seq %u, %u bytes, %u resident objects, flags %s\n", le32(h + 4), len, nrec,
        (le32(h + 28) & 1u) ? "clean" : "power-fail");
    if (root && !is_live(w, root))
        PROBLEM("root handle %08x names no live object\n", root);
    SAY("root: %s\n", root ? "set" : "none");
    uint32_t parked = 0;
    for (uint32_t i = 0; i < ncache; i++) {
        uint32_t home = le32(body + 32 + 8 * i), size = le32(body + 36 + 8 * i);
        uint8_t oh[8];
        uint32_t osize, tag;
        if (!size)
            continue;
        parked++;
        if (vnv_storage_read(st, home, oh, 8) || object_header(oh, home, &osize, &tag) != HDR_FREED)
            PROBLEM("parked home %u does not hold a freed object header\n", home);
    }
    if (parked)
        SAY("parked for reuse: %u freed homes (counted among the freed blocks above)\n", parked);
    /* records: id, unit, status; then bitmap / dirty bytes whose length needs the size */
    uint32_t pos = hsize;
    for (uint32_t i = 0; i < nrec && pos + 8 <= len; i++) {
        uint32_t id = le32(body + pos), st16 = (uint32_t)body[pos + 6] | body[pos + 7] << 8;
        pos += 8;
        uint8_t oh[8];
        uint32_t size = 0, tag;
        if (!is_live(w, id) || vnv_storage_read(st, (id >> 10) << 2, oh, 8) ||
            object_header(oh, (id >> 10) << 2, &size, &tag) != HDR_LIVE) {
            PROBLEM("checkpoint record %u names handle %08x: not a live object\n", i, id);
            free(body);
            return VNV_OK;
        }
        if (st16 & 0x80u) { /* partial: bitmap, then each dirty block */
            uint32_t bs = 16u << ((st16 >> 8) & 3u), nb = (size + bs - 1) / bs;
            const uint8_t *bm = body + pos;
            pos += (nb + 7) / 8;
            for (uint32_t b = 0; b < nb && pos <= len; b++)
                if (bm[b / 8] & (1u << (b % 8)))
                    pos += (b + 1) * bs <= size ? bs : size - b * bs;
        } else if (st16 & 0x20u) {
            pos += size;
        }
    }
    if (pos != len)
        PROBLEM("checkpoint body does not parse to its length (%u != %u)\n", pos, len);
    free(body);
    return VNV_OK;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "-q") == 0) {
        quiet = 1;
        a++;
    }
    if (a + 1 != argc) {
        fprintf(stderr, "usage: vnv-check [-q] IMAGE\n");
        return 2;
    }
    int fd = open(argv[a], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || sb.st_size < 64 || sb.st_size > VNV_MAX_STORAGE_SIZE) {
        fprintf(stderr, "vnv-check: cannot use %s\n", argv[a]);
        return 2;
    }
    struct vnv_storage st = {&fd, (uint32_t)sb.st_size, ro_read, ro_write, NULL, NULL};
    uint8_t s[64];
    if (vnv_storage_read(&st, 0, s, 64))
        return 2;
    if (le32(s) != 0x484E4E56u || le32(s + 4) != 0x31504145u) {
        printf("PROBLEM: not a vnvheap image (bad magic)\n");
        return 1;
    }
    if (le32(s + 60) != crc32(0, s, 60)) {
        printf("PROBLEM: superblock CRC mismatch\n");
        return 1;
    }
    if (le32(s + 8) != 2) {
        printf("PROBLEM: format version %u, this tool reads version 2\n", le32(s + 8));
        return 1;
    }
    uint32_t size = le32(s + 12), max_dirty = le32(s + 16), ckpt_off = le32(s + 20);
    uint32_t ckpt_cap = le32(s + 24), nv_off = le32(s + 28), nv_size = le32(s + 32);
    uint32_t arena = le32(s + 36);
    SAY("superblock: format 2, storage %u B, max_dirty %u B, checkpoint [%u, +%u), "
        "objects [%u, +%u), RAM arena >= %u B\n", size, max_dirty, ckpt_off, ckpt_cap, nv_off,
        nv_size, arena);
    if (size != st.size)
        PROBLEM("image is %u bytes, superblock says %u\n", st.size, size);
    if (ckpt_off != 64 || ckpt_cap < max_dirty || nv_off < ckpt_off + ckpt_cap ||
        nv_off + nv_size != size)
        PROBLEM("inconsistent geometry\n");
    if (le32(s + 40) != fnv1a(vnv_nv_buddy.name)) {
        printf("PROBLEM: the NV allocator is not the default buddy; only the checkpoint and the "
               "superblock can be checked\n");
        return 1;
    }

    /* 2. the NV allocator's structure and every allocated block */
    static uint32_t nv_state[VNV_NV_STATE_MAX / 4];
    struct walk_ctx w = {&st, 0, 0, 0, 0, 0, calloc(MAX_LIVE, sizeof(uint32_t))};
    int err = vnv_nv_buddy.attach(nv_state, &st, nv_off, nv_size);
    if (!err)
        err = vnv_nv_buddy.check(nv_state, &st);
    if (!err)
        err = vnv_nv_buddy.walk(nv_state, &st, visit, &w);
    if (err) {
        PROBLEM("NV allocator structure: %s\n", vnv_strerror(err));
    } else {
        SAY("objects: %u live (%u bytes), free space %u B\n", w.live, w.live_bytes,
            vnv_nv_buddy.free_bytes(nv_state));
        if (w.freed)
            SAY("note: %u freed blocks not yet returned to the allocator (parked for reuse, or "
                "leaked by a failed free)\n", w.freed);
        if (w.garbage)
            SAY("note: %u allocated blocks without an object (interrupted allocations)\n",
                w.garbage);
    }

    /* 3. the checkpoint */
    if (!err && check_checkpoint(&st, ckpt_off, ckpt_cap, le32(s + 48), &w) == VNV_ERR_IO) {
        fprintf(stderr, "vnv-check: read error\n");
        return 2;
    }

    /* 4. the library's view: open and check */
    if (!problems) {
        size_t bufsize = (size_t)arena + arena / 16u + 4096u;
        void *buf = aligned_alloc(8, (bufsize + 7) & ~(size_t)7);
        static struct vnv_heap heap;
        struct vnv_config cfg = {.storage = &st, .buffer = buf, .buffer_size = bufsize,
                                 .max_dirty_bytes = max_dirty};
        err = vnv_open(&heap, &cfg);
        if (!err)
            err = vnv_check(&heap);
        if (err)
            PROBLEM("vnv_open + vnv_check: %s\n", vnv_strerror(err));
        else
            SAY("vnv_open + vnv_check: ok\n");
        vnv_abandon(&heap);
        free(buf);
    }
    free(w.live_ids);
    close(fd);
    printf("%s: %s\n", argv[a], problems ? "PROBLEMS FOUND" : "consistent");
    return problems ? 1 : 0;
}
