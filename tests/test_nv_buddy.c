/* test_nv_buddy.c - the on-storage buddy allocator (vnv_nv_buddy) over an in-memory mock. */
#include <stdint.h>
#include <string.h>

#include "support/rng.h"
#include "vnvheap/alloc.h"
#include "vtest.h"

static const struct vnv_nv_allocator *const A = &vnv_nv_buddy;

/* ---- mock storage: a byte array that counts transactions and can fail on demand ---- */

struct mock {
    uint8_t *mem;
    uint32_t size;
    unsigned reads, writes, writevs;
    long fail_in; /* fail the n-th next transaction (1 = the next one); <= 0: never */
    int sticky;   /* once failed, keep failing until cleared */
    int failing;
};

static int mock_tick(struct mock *m)
{
    if (m->failing)
        return VNV_ERR_IO;
    if (m->fail_in > 0 && --m->fail_in == 0) {
        m->failing = m->sticky;
        return VNV_ERR_IO;
    }
    return VNV_OK;
}

static int mock_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    struct mock *m = ctx;
    m->reads++;
    if (off > m->size || len > m->size - off)
        return VNV_ERR_INVAL;
    if (mock_tick(m))
        return VNV_ERR_IO;
    memcpy(dst, m->mem + off, len);
    return VNV_OK;
}

static int mock_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct mock *m = ctx;
    m->writes++;
    if (off > m->size || len > m->size - off)
        return VNV_ERR_INVAL;
    if (mock_tick(m))
        return VNV_ERR_IO;
    memcpy(m->mem + off, src, len);
    return VNV_OK;
}

static int mock_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    struct mock *m = ctx;
    m->writevs++;
    if (mock_tick(m))
        return VNV_ERR_IO;
    for (unsigned i = 0; i < cnt; i++) {
        if (off > m->size || iov[i].len > m->size - off)
            return VNV_ERR_INVAL;
        memcpy(m->mem + off, iov[i].base, iov[i].len);
        off += iov[i].len;
    }
    return VNV_OK;
}

static unsigned tx(const struct mock *m) { return m->reads + m->writes + m->writevs; }

static struct vnv_storage mock_storage(struct mock *m, uint8_t *mem, uint32_t size)
{
    memset(m, 0, sizeof *m);
    m->mem = mem;
    m->size = size;
    struct vnv_storage s = {m, size, mock_read, mock_write, mock_writev, NULL};
    return s;
}

/* RAM states, only 4-aligned on purpose (the heap keeps them in uint32_t arrays). */
static _Alignas(8) uint32_t st_words1[VNV_NV_STATE_MAX / 4u + 2u];
static _Alignas(8) uint32_t st_words2[VNV_NV_STATE_MAX / 4u + 2u];
#define ST1 ((void *)&st_words1[1])
#define ST2 ((void *)&st_words2[1])

#define MEM_SIZE 65536u
static uint8_t mem1[MEM_SIZE], mem2[MEM_SIZE];

/* Little-endian u32 in the mock memory. */
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Region geometry as documented in nv_buddy.c (header fields at +16 hdr, +20 area size,
 * +24 nord; heads from +32). */
struct geo {
    uint32_t hdr, area, area_size, nord;
};

static struct geo read_geo(const uint8_t *mem, uint32_t off)
{
    struct geo g;
    g.hdr = rd32(mem + off + 16);
    g.area = off + g.hdr;
    g.area_size = rd32(mem + off + 20);
    g.nord = rd32(mem + off + 24);
    return g;
}

static uint32_t block_of(uint32_t size) /* block size for a request */
{
    uint32_t b = 16;
    while (b < size + 4u)
        b <<= 1;
    return b;
}

static uint32_t xalloc(const struct vnv_storage *s, void *st, uint32_t size)
{
    uint32_t out = 0xDEADBEEFu;
    int err = A->alloc(st, s, size, &out);
    CHECK_EQ(err, VNV_OK);
    return err ? 0 : out;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_descriptor(void)
{
    CHECK(A->name && strcmp(A->name, "nv-buddy") == 0);
    CHECK(A->state_size > 0 && A->state_size <= VNV_NV_STATE_MAX);
    CHECK(A->format && A->attach && A->alloc && A->free && A->check && A->free_bytes);
}

static void test_format_args(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 0, 40), VNV_ERR_INVAL);             /* too small */
    CHECK_EQ(A->format(ST1, &s, MEM_SIZE - 100, 200), VNV_ERR_INVAL); /* past the device */
    CHECK_EQ(A->format(ST1, NULL, 0, 1024), VNV_ERR_INVAL);
    uint32_t out;
    CHECK_EQ(A->alloc(ST1, &s, 8, &out), VNV_ERR_INVAL); /* not attached */
    CHECK_EQ(A->format(ST1, &s, 0, 64), VNV_OK);         /* smallest: 48 B header + 16 B */
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    CHECK_EQ(A->free_bytes(ST1), 12);
    CHECK_EQ(A->alloc(ST1, &s, 13, &out), VNV_ERR_NOSPC);
    out = xalloc(&s, ST1, 12);
    CHECK_EQ(A->alloc(ST1, &s, 1, &out), VNV_ERR_NOSPC);
    CHECK_EQ(A->alloc(ST1, &s, 0, &out), VNV_ERR_INVAL);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

static void test_exact_layout(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    memset(mem1, 0x5A, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 256, 16384), VNV_OK);
    struct geo g = read_geo(mem1, 256);
    /* 16384 - 32 >= 16 << 9: 10 orders, header 32 + 40 -> 80 */
    CHECK_EQ(g.nord, 10);
    CHECK_EQ(g.hdr, 80);
    CHECK_EQ(g.area_size, 16304); /* 8192+4096+2048+1024+512+256+128+32+16 */
    CHECK_EQ(A->free_bytes(ST1), 16304 - 9 * 4);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    CHECK_EQ(xalloc(&s, ST1, 10), g.area + 16288 + 4); /* the 16 B carved block */
    CHECK_EQ(xalloc(&s, ST1, 10), g.area + 16256 + 4); /* the 32 B one, split */
    CHECK_EQ(xalloc(&s, ST1, 12), g.area + 16272 + 4); /* its upper half */
    CHECK_EQ(xalloc(&s, ST1, 100), g.area + 16128 + 4);
    CHECK_EQ(xalloc(&s, ST1, 8188), g.area + 0 + 4);   /* exactly the 8 KiB block */
    uint32_t out;
    CHECK_EQ(A->alloc(ST1, &s, 8189, &out), VNV_ERR_NOSPC);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    /* the ALLOC header sits just before the returned offset, the rest is the caller's */
    CHECK_EQ(A->free(ST1, &s, g.area + 16256 + 4), VNV_OK);
    CHECK_EQ(A->free(ST1, &s, g.area + 16272 + 4), VNV_OK); /* merges back to 32 B */
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    CHECK_EQ(xalloc(&s, ST1, 20), g.area + 16256 + 4);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

/* Fill until NOSPC, free all: one maximal block per carved region comes back. */
static void test_nospc_and_full_free(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 1000, 5000), VNV_OK);
    struct geo g = read_geo(mem1, 1000);
    uint32_t initial = A->free_bytes(ST1);
    static uint32_t outs[1024];
    uint32_t n = 0, out;
    int err;
    struct rng r;
    rng_seed(&r, 3);
    while (n < 1024 && (err = A->alloc(ST1, &s, 1 + rng_below(&r, 40), &out)) == VNV_OK)
        outs[n++] = out;
    CHECK_EQ(err, VNV_ERR_NOSPC);
    while (A->alloc(ST1, &s, 1, &out) == VNV_OK && n < 1024) /* now the crumbs */
        outs[n++] = out;
    CHECK_EQ(A->free_bytes(ST1), 0);
    CHECK_EQ(A->alloc(ST1, &s, 1, &out), VNV_ERR_NOSPC);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    for (uint32_t i = 0; i < n; i++) { /* free in a scrambled order */
        uint32_t j = rng_below(&r, n - i) + i, t = outs[i];
        outs[i] = outs[j];
        outs[j] = t;
        CHECK_EQ(A->free(ST1, &s, outs[i]), VNV_OK);
    }
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    CHECK_EQ(A->free_bytes(ST1), initial);
    /* every carved block is whole again: a payload of (block - 4) fits in each */
    uint32_t rest = g.area_size, pos = 0;
    for (uint32_t b = 1u << 24; b >= 16; b >>= 1) {
        if (rest & b) {
            CHECK_EQ(xalloc(&s, ST1, b - 4), g.area + pos + 4);
            pos += b;
        }
    }
    CHECK_EQ(A->alloc(ST1, &s, 1, &out), VNV_ERR_NOSPC);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

static void random_ops(const struct vnv_storage *s, void *st, uint32_t *outs, uint32_t *n,
                       struct rng *r, uint32_t ops, uint32_t *log)
{
    for (uint32_t i = 0; i < ops; i++) {
        uint32_t out = 0;
        if (*n < 256 && (*n == 0 || rng_below(r, 3))) {
            int err = A->alloc(st, s, 1 + rng_below(r, 200), &out);
            if (err == VNV_OK)
                outs[(*n)++] = out;
            if (log)
                log[i] = err == VNV_OK ? out : (uint32_t)err;
        } else {
            uint32_t j = rng_below(r, *n);
            int err = A->free(st, s, outs[j]);
            CHECK_EQ(err, VNV_OK);
            outs[j] = outs[--(*n)];
            if (log)
                log[i] = (uint32_t)err;
        }
    }
}

/* attach on a copy of the storage, with a fresh RAM state, behaves identically. */
static void test_attach_copy(void)
{
    struct mock m1, m2;
    struct vnv_storage s1 = mock_storage(&m1, mem1, MEM_SIZE);
    struct vnv_storage s2 = mock_storage(&m2, mem2, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s1, 512, 30000), VNV_OK);
    static uint32_t outs1[256], outs2[256], log1[4000], log2[4000];
    uint32_t n1 = 0, n2;
    struct rng r, r1, r2;
    rng_seed(&r, 11);
    random_ops(&s1, ST1, outs1, &n1, &r, 3000, NULL);
    CHECK_EQ(A->check(ST1, &s1), VNV_OK);
    memcpy(mem2, mem1, MEM_SIZE);
    memset(st_words2, 0xEE, sizeof st_words2);
    CHECK_EQ(A->attach(ST2, &s2, 512, 30000), VNV_OK);
    CHECK_EQ(A->check(ST2, &s2), VNV_OK);
    CHECK_EQ(A->free_bytes(ST2), A->free_bytes(ST1));
    memcpy(outs2, outs1, sizeof outs1);
    n2 = n1;
    r1 = r;
    r2 = r;
    random_ops(&s1, ST1, outs1, &n1, &r1, 4000, log1);
    random_ops(&s2, ST2, outs2, &n2, &r2, 4000, log2);
    CHECK(memcmp(log1, log2, sizeof log1) == 0);
    CHECK(memcmp(mem1, mem2, MEM_SIZE) == 0); /* byte-identical storage */
    CHECK_EQ(A->free_bytes(ST2), A->free_bytes(ST1));
    CHECK_EQ(A->check(ST2, &s2), VNV_OK);
    /* attaching the original again (after a "reset") also matches */
    CHECK_EQ(A->attach(ST1, &s1, 512, 30000), VNV_OK);
    CHECK_EQ(A->free_bytes(ST1), A->free_bytes(ST2));
}

static void test_attach_corrupt(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    memset(mem1, 0, MEM_SIZE);
    CHECK_EQ(A->attach(ST1, &s, 0, 8192), VNV_ERR_CORRUPT); /* never formatted */
    CHECK_EQ(A->format(ST1, &s, 64, 8192), VNV_OK);
    uint32_t a = xalloc(&s, ST1, 100);
    (void)a;
    CHECK_EQ(A->attach(ST1, &s, 64, 8192), VNV_OK);
    CHECK_EQ(A->attach(ST1, &s, 0, 8192), VNV_ERR_CORRUPT);  /* other offset */
    CHECK_EQ(A->attach(ST1, &s, 64, 8208), VNV_ERR_CORRUPT); /* other size */
    CHECK_EQ(A->attach(ST1, &s, 64, 4096), VNV_ERR_CORRUPT);
    uint32_t out;
    CHECK_EQ(A->alloc(ST1, &s, 8, &out), VNV_ERR_INVAL); /* failed attach: detached */
    memcpy(mem2, mem1, MEM_SIZE);
    /* every byte of the static header matters */
    for (uint32_t i = 0; i < 32; i++) {
        memcpy(mem1, mem2, MEM_SIZE);
        mem1[64 + i] ^= (uint8_t)(1u << (i % 8));
        CHECK_EQ(A->attach(ST1, &s, 64, 8192), VNV_ERR_CORRUPT);
    }
    struct geo g = read_geo(mem2, 64);
    /* a head that is misaligned / out of range / points at a non-free block */
    static const uint32_t bad_heads[] = {8, 0x7FFFFFF0u, 0};
    for (unsigned i = 0; i < 3; i++) {
        memcpy(mem1, mem2, MEM_SIZE);
        wr32(mem1 + 64 + 32 + 4 * 3, bad_heads[i]); /* head of order 3 */
        CHECK_EQ(A->attach(ST1, &s, 64, 8192), VNV_ERR_CORRUPT);
    }
    /* a free block's header on a list */
    memcpy(mem1, mem2, MEM_SIZE);
    uint32_t h = rd32(mem1 + 64 + 32 + 4 * (g.nord - 1)); /* some non-empty list */
    for (uint32_t k = 0; k < g.nord && h == 0xFFFFFFFFu; k++)
        h = rd32(mem1 + 64 + 32 + 4 * k);
    REQUIRE(h != 0xFFFFFFFFu);
    mem1[g.area + h] ^= 0x01; /* order bits of the tag */
    CHECK_EQ(A->attach(ST1, &s, 64, 8192), VNV_ERR_CORRUPT);
    memcpy(mem1, mem2, MEM_SIZE);
    CHECK_EQ(A->attach(ST1, &s, 64, 8192), VNV_OK);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

static void test_invalid_free(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    memset(mem1, 0, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 0, 4096), VNV_OK);
    struct geo g = read_geo(mem1, 0);
    uint32_t a = xalloc(&s, ST1, 12), b = xalloc(&s, ST1, 12), c = xalloc(&s, ST1, 60);
    uint32_t fb = A->free_bytes(ST1);
    CHECK_EQ(A->free(ST1, &s, a), VNV_OK);
    fb = A->free_bytes(ST1);
    CHECK_EQ(A->free(ST1, &s, a), VNV_ERR_INVAL);        /* double free */
    CHECK_EQ(A->free(ST1, &s, b + 16), VNV_ERR_INVAL);   /* not a block start */
    CHECK_EQ(A->free(ST1, &s, b + 1), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, b - 4), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, c + 32), VNV_ERR_INVAL);   /* inside c */
    CHECK_EQ(A->free(ST1, &s, 0), VNV_ERR_INVAL);        /* region header */
    CHECK_EQ(A->free(ST1, &s, g.area), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, 4096 + 4), VNV_ERR_INVAL); /* past the region */
    CHECK_EQ(A->free(ST1, &s, 0xFFFFFFFCu), VNV_ERR_INVAL);
    CHECK_EQ(A->free_bytes(ST1), fb);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    /* after b's free merges a and b, neither header says ALLOC any more */
    CHECK_EQ(A->free(ST1, &s, b), VNV_OK);
    CHECK_EQ(A->free(ST1, &s, b), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, a), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, c), VNV_OK);
    CHECK_EQ(A->free(ST1, &s, c), VNV_ERR_INVAL);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    /* a stale block inside a newly allocated bigger block is not freeable */
    uint32_t d = xalloc(&s, ST1, 12), e = xalloc(&s, ST1, 12);
    CHECK_EQ(e, d + 16); /* buddies */
    CHECK_EQ(A->free(ST1, &s, d), VNV_OK);
    CHECK_EQ(A->free(ST1, &s, e), VNV_OK); /* e becomes an interior: its tag dies */
    uint32_t f = xalloc(&s, ST1, 28);
    CHECK_EQ(f, d);
    CHECK_EQ(A->free(ST1, &s, e), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, b), VNV_ERR_INVAL);
    CHECK_EQ(A->free(ST1, &s, c), VNV_ERR_INVAL);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    CHECK_EQ(A->free(ST1, &s, f), VNV_OK);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

static void test_check_detects(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 128, 8192), VNV_OK);
    struct geo g = read_geo(mem1, 128);
    uint32_t a = xalloc(&s, ST1, 30), b = xalloc(&s, ST1, 30), c = xalloc(&s, ST1, 300);
    CHECK_EQ(A->free(ST1, &s, b), VNV_OK);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    memcpy(mem2, mem1, MEM_SIZE);
    /* an allocated block's header */
    mem1[a - 4] ^= 0x40;
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_CORRUPT);
    memcpy(mem1, mem2, MEM_SIZE);
    mem1[c - 4 + 1] ^= 0x10; /* position hash bits */
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_CORRUPT);
    /* a free block's back link */
    memcpy(mem1, mem2, MEM_SIZE);
    wr32(mem1 + b - 4 + 8, 0x40);
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_CORRUPT);
    /* a head on storage that disagrees with the RAM cache */
    memcpy(mem1, mem2, MEM_SIZE);
    wr32(mem1 + 128 + 32, rd32(mem1 + 128 + 32) ^ 0x10);
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_CORRUPT);
    /* a free block that is on no list: turn an allocated header into a free one */
    memcpy(mem1, mem2, MEM_SIZE);
    mem1[a - 4] = (uint8_t)((mem1[a - 4] & 0x1F) | (1u << 5));
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_CORRUPT);
    memcpy(mem1, mem2, MEM_SIZE);
    CHECK_EQ(c - 4, g.area + 7168); /* the carved 512 B block: it has no buddy */
    mem1[c - 4] = (uint8_t)((mem1[c - 4] & 0x1F) | (1u << 5));
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_CORRUPT);
    memcpy(mem1, mem2, MEM_SIZE);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

/* A storage error at any transaction of alloc/free rolls the operation back: header and
 * RAM state unchanged, structure valid, and a retry gives exactly the result (and storage
 * bytes) of an undisturbed run. (Stale split headers inside a free block are not undone,
 * so the storage is not byte-identical right after the failure - by design.) */
static uint8_t mem3[MEM_SIZE];

static void test_io_errors(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    const uint32_t RS = 16384 + 80;
    memset(mem1, 0, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 0, RS), VNV_OK);
    struct rng r;
    rng_seed(&r, 17);
    static uint32_t outs[256];
    uint32_t n = 0, sites = 0;
    for (uint32_t round = 0; round < 300; round++) {
        int do_alloc = n == 0 || (n < 256 && rng_below(&r, 2));
        uint32_t size = 1 + rng_below(&r, rng_below(&r, 4) ? 60 : 3000);
        uint32_t j = n ? rng_below(&r, n) : 0, out = 0, out1 = 0;
        uint32_t fb = A->free_bytes(ST1);
        memcpy(mem2, mem1, MEM_SIZE);
        unsigned t0 = tx(&m);
        int err = do_alloc ? A->alloc(ST1, &s, size, &out1) : A->free(ST1, &s, outs[j]);
        unsigned nt = tx(&m) - t0;
        if (err == VNV_ERR_NOSPC)
            continue;
        CHECK_EQ(err, VNV_OK);
        uint32_t fb1 = A->free_bytes(ST1);
        memcpy(mem3, mem1, MEM_SIZE); /* the undisturbed result */
        for (unsigned i = 1; i <= nt; i++) {
            memcpy(mem1, mem2, MEM_SIZE);
            CHECK_EQ(A->attach(ST1, &s, 0, RS), VNV_OK);
            m.fail_in = (long)i;
            err = do_alloc ? A->alloc(ST1, &s, size, &out) : A->free(ST1, &s, outs[j]);
            m.fail_in = 0;
            sites++;
            CHECK_EQ(err, VNV_ERR_IO);
            CHECK(memcmp(mem1, mem2, 80) == 0); /* region header incl. heads */
            CHECK_EQ(A->free_bytes(ST1), fb);
            CHECK_EQ(A->check(ST1, &s), VNV_OK);
            err = do_alloc ? A->alloc(ST1, &s, size, &out) : A->free(ST1, &s, outs[j]);
            CHECK_EQ(err, VNV_OK);
            if (do_alloc)
                CHECK_EQ(out, out1);
            CHECK_EQ(A->free_bytes(ST1), fb1);
            CHECK(memcmp(mem1, mem3, MEM_SIZE) == 0);
        }
        memcpy(mem1, mem3, MEM_SIZE);
        CHECK_EQ(A->attach(ST1, &s, 0, RS), VNV_OK);
        if (do_alloc) {
            outs[n++] = out1;
        } else {
            outs[j] = outs[--n];
        }
    }
    CHECK(sites > 1000);
    /* a failing rollback detaches; attach re-reads whatever storage now holds */
    uint32_t out;
    m.sticky = 1;
    m.fail_in = 2; /* the first write fails, and so does every write of the rollback */
    CHECK_EQ(A->alloc(ST1, &s, 1, &out), VNV_ERR_IO);
    m.failing = m.sticky = 0;
    CHECK_EQ(A->alloc(ST1, &s, 1, &out), VNV_ERR_INVAL); /* detached */
    CHECK_EQ(A->check(ST1, &s), VNV_ERR_INVAL);
    CHECK_EQ(A->attach(ST1, &s, 0, RS), VNV_OK); /* the mock's failed writes never landed */
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    m.fail_in = 1;
    CHECK_EQ(A->attach(ST1, &s, 0, RS), VNV_ERR_IO);
    CHECK_EQ(A->alloc(ST1, &s, 8, &out), VNV_ERR_INVAL); /* detached */
    CHECK_EQ(A->attach(ST1, &s, 0, RS), VNV_OK);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

/* Worst-case transaction counts: split from the top order down to order 0, then merge all
 * the way up again. */
static void test_transaction_counts(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    CHECK_EQ(A->format(ST1, &s, 0, 32768 + 80), VNV_OK); /* 12 orders, 80 B header */
    struct geo g = read_geo(mem1, 0);
    CHECK_EQ(g.area_size, 32768);
    uint32_t n0 = tx(&m), out, maxo = 0;
    while ((16u << (maxo + 1)) <= g.area_size && maxo + 1 < g.nord)
        maxo++;
    out = xalloc(&s, ST1, 1);
    unsigned ta = tx(&m) - n0;
    n0 = tx(&m);
    CHECK_EQ(A->free(ST1, &s, out), VNV_OK);
    unsigned tf = tx(&m) - n0;
    printf("nv-buddy: nord=%u, alloc splitting %u levels: %u transactions (bound %u), "
           "free merging %u levels: %u (bound %u)\n",
           (unsigned)g.nord, (unsigned)maxo, ta, (unsigned)g.nord + 3u, (unsigned)maxo, tf,
           3u * (unsigned)g.nord + 2u);
    CHECK(ta <= g.nord + 3u);
    CHECK(tf <= 3u * g.nord + 2u);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
}

/* Randomized stress against a shadow map, with transaction bounds and re-attaches. */
#define SR_OFF 300u
#define SR_SIZE 60000u
#define SR_LIVE 600u
static uint8_t owned[MEM_SIZE];

static void test_stress(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, mem1, MEM_SIZE);
    memset(mem1, 0xC3, MEM_SIZE);
    memset(owned, 0, sizeof owned);
    CHECK_EQ(A->format(ST1, &s, SR_OFF, SR_SIZE), VNV_OK);
    struct geo g = read_geo(mem1, SR_OFF);
    uint32_t initial = A->free_bytes(ST1);
    static uint32_t outs[SR_LIVE], sizes[SR_LIVE];
    uint32_t n = 0, bad = 0, nospc = 0;
    unsigned max_ta = 0, max_tf = 0;
    unsigned long sum_ta = 0, sum_tf = 0, cnt_a = 0, cnt_f = 0;
    struct rng r;
    rng_seed(&r, 0x5EED5);
    for (uint32_t op = 0; op < 60000u && bad < 10; op++) {
        uint32_t kind = rng_below(&r, 100);
        if (kind < 52 && n < SR_LIVE) {
            uint32_t size = rng_below(&r, 10) ? 1 + rng_below(&r, 120) : 1 + rng_below(&r, 4000);
            uint32_t out = 0;
            unsigned t0 = tx(&m);
            int err = A->alloc(ST1, &s, size, &out);
            unsigned t = tx(&m) - t0;
            if (t > max_ta)
                max_ta = t;
            if (t > g.nord + 3u)
                bad++;
            if (err == VNV_OK) {
                sum_ta += t;
                cnt_a++;
                uint32_t blk = block_of(size), start = out - 4u;
                if (start < g.area || start - g.area >= g.area_size ||
                    blk > g.area_size - (start - g.area) || (start - g.area) % blk) {
                    bad++;
                    continue;
                }
                for (uint32_t i = start; i < start + blk; i++) {
                    if (owned[i])
                        bad++;
                    owned[i] = 1;
                }
                memset(mem1 + out, (int)(out >> 2), size); /* the caller's bytes */
                outs[n] = out;
                sizes[n++] = size;
            } else if (err == VNV_ERR_NOSPC) {
                nospc++;
            } else {
                bad++;
            }
        } else if (kind < 97 && n) {
            uint32_t j = rng_below(&r, n), out = outs[j], size = sizes[j];
            for (uint32_t i = 0; i < size; i++)
                if (mem1[out + i] != (uint8_t)(out >> 2)) {
                    bad++;
                    break;
                }
            unsigned t0 = tx(&m);
            if (A->free(ST1, &s, out) != VNV_OK)
                bad++;
            unsigned t = tx(&m) - t0;
            if (t > max_tf)
                max_tf = t;
            if (t > 3u * g.nord + 2u)
                bad++;
            sum_tf += t;
            cnt_f++;
            if (A->free(ST1, &s, out) != VNV_ERR_INVAL) /* double free */
                bad++;
            memset(owned + out - 4u, 0, block_of(size));
            outs[j] = outs[--n];
            sizes[j] = sizes[n];
        } else {
            /* "reset": a fresh RAM state attaches to the same storage */
            memset(st_words1, 0x77, sizeof st_words1);
            if (A->attach(ST1, &s, SR_OFF, SR_SIZE) != VNV_OK)
                bad++;
        }
        if (op % 256 == 0 && A->check(ST1, &s) != VNV_OK)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK(nospc > 20);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    printf("nv-buddy stress: alloc max %u avg %.2f tx, free max %u avg %.2f tx (nord %u)\n",
           max_ta, cnt_a ? (double)sum_ta / (double)cnt_a : 0.0, max_tf,
           cnt_f ? (double)sum_tf / (double)cnt_f : 0.0, (unsigned)g.nord);
    while (n) {
        n--;
        CHECK_EQ(A->free(ST1, &s, outs[n]), VNV_OK);
    }
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    CHECK_EQ(A->free_bytes(ST1), initial);
}

/* More than one top-order (16 MiB) carved block: they never merge with each other. */
#define BIG (2u * 16777216u + 4096u + 128u)
#ifndef VNV_TEST_CROSS
static uint8_t big_mem[BIG]; /* 32 MiB: host only, the emulated boards have 4 MiB of RAM */
#endif

#ifndef VNV_TEST_CROSS
static void test_big_region(void)
{
    struct mock m;
    struct vnv_storage s = mock_storage(&m, big_mem, BIG);
    CHECK_EQ(A->format(ST1, &s, 0, BIG), VNV_OK);
    struct geo g = read_geo(big_mem, 0);
    CHECK_EQ(g.nord, 21);
    CHECK_EQ(g.hdr, 128);
    CHECK_EQ(g.area_size, 2u * 16777216u + 4096u);
    uint32_t a = xalloc(&s, ST1, 16777216u - 4u), b = xalloc(&s, ST1, 16777216u - 4u), out;
    CHECK_EQ(a, g.area + 4);
    CHECK_EQ(b, g.area + 16777216u + 4);
    CHECK_EQ(A->alloc(ST1, &s, 16777216u - 3u, &out), VNV_ERR_NOSPC);
    CHECK_EQ(A->alloc(ST1, &s, 5000, &out), VNV_ERR_NOSPC);
    uint32_t c = xalloc(&s, ST1, 4092);
    CHECK_EQ(c, g.area + 2u * 16777216u + 4);
    CHECK_EQ(A->free(ST1, &s, b), VNV_OK);
    CHECK_EQ(A->free(ST1, &s, a), VNV_OK);
    CHECK_EQ(A->check(ST1, &s), VNV_OK);
    uint32_t x = xalloc(&s, ST1, 1);
    CHECK_EQ(x, g.area + 4); /* lowest top block is the list head after the frees */
    CHECK_EQ(A->free(ST1, &s, x), VNV_OK);
    CHECK_EQ(A->attach(ST2, &s, 0, BIG), VNV_OK);
    CHECK_EQ(A->free_bytes(ST2), A->free_bytes(ST1));
    CHECK_EQ(A->check(ST2, &s), VNV_OK);
    (void)c;
}
#endif

int main(void)
{
    RUN(test_descriptor);
    RUN(test_format_args);
    RUN(test_exact_layout);
    RUN(test_nospc_and_full_free);
    RUN(test_attach_copy);
    RUN(test_attach_corrupt);
    RUN(test_invalid_free);
    RUN(test_check_detects);
    RUN(test_io_errors);
    RUN(test_transaction_counts);
    RUN(test_stress);
#ifndef VNV_TEST_CROSS
    RUN(test_big_region);
#endif
    return vtest_summary();
}
