/* test_ram_buddy.c - the power-of-two buddy RAM allocator (vnv_ram_buddy). */
#include <stdint.h>
#include <string.h>

#include "support/alloc_damage.h"
#include "support/rng.h"
#include "vnvheap/alloc.h"
#include "vtest.h"

static const struct vnv_ram_allocator *const A = &vnv_ram_buddy;

#define BUF_MAX 16384u

/* One allocator instance; the state pointer is only 4-aligned on purpose (see
 * test_ram_firstfit.c), the buffer 8-aligned. */
struct inst {
    _Alignas(8) uint32_t words[VNV_RAM_STATE_MAX / 4u + 2u];
    _Alignas(8) uint8_t buf[BUF_MAX];
    void *st;
    uint32_t size;
};

static struct inst h1, h2;

static void inst_init(struct inst *h, uint32_t size)
{
    memset(h->buf, 0xA5, sizeof h->buf);
    h->st = &h->words[1];
    h->size = size;
    CHECK_EQ(A->init(h->st, h->buf, size), VNV_OK);
    CHECK_EQ(A->check(h->st), VNV_OK);
}

static uint32_t xalloc(struct inst *h, uint32_t size)
{
    uint32_t off = 0xDEADBEEFu;
    int err = A->alloc(h->st, size, &off);
    CHECK_EQ(err, VNV_OK);
    return err ? 0xFFFFFFFFu : off;
}

/* Destructive snapshot of the free structure: allocate, from the biggest order down, every
 * block of exactly that order (alloc takes the smallest non-empty order >= the request, so
 * once the bigger orders are drained it returns blocks of exactly this order).
 * Returns the number of (order, offset) pairs written to out[] (address order per order). */
static uint32_t drain(struct inst *h, uint32_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t k = 26; k-- > 0;) {
        uint32_t bs = 16u << k, off;
        if (bs > h->size)
            continue;
        for (uint32_t guard = 0; guard <= h->size / 16u; guard++) {
            if (A->alloc(h->st, bs, &off) != VNV_OK)
                break;
            if (n + 2 <= max) {
                out[n++] = k;
                out[n++] = off;
            }
        }
    }
    return n;
}

static void test_descriptor(void)
{
    CHECK(A->name && strcmp(A->name, "buddy") == 0);
    CHECK(A->state_size > 0 && A->state_size <= VNV_RAM_STATE_MAX);
    CHECK(A->init && A->alloc && A->alloc_at && A->free && A->fits && A->footprint && A->check &&
          A->free_bytes);
}

static void test_init_args(void)
{
    h1.st = &h1.words[1];
    CHECK_EQ(A->init(h1.st, h1.buf + 4, 64), VNV_ERR_INVAL);
    CHECK_EQ(A->init(h1.st, h1.buf, 60), VNV_ERR_INVAL);
    CHECK_EQ(A->init(h1.st, NULL, 64), VNV_ERR_INVAL);
    inst_init(&h1, 8); /* smaller than the minimum block: nothing to allocate */
    uint32_t off;
    CHECK_EQ(A->free_bytes(h1.st), 8); /* the uncarvable tail counts as free */
    CHECK_EQ(A->alloc(h1.st, 1, &off), VNV_ERR_NOMEM);
    CHECK_EQ(A->fits(h1.st, 1), 0);
    CHECK_EQ(A->alloc(h1.st, 0, &off), VNV_ERR_INVAL);
}

static void test_footprint(void)
{
    inst_init(&h1, 1024);
    CHECK_EQ(A->footprint(h1.st, 1), 16);
    CHECK_EQ(A->footprint(h1.st, 16), 16);
    CHECK_EQ(A->footprint(h1.st, 17), 32);
    CHECK_EQ(A->footprint(h1.st, 1000), 1024);
    CHECK_EQ(A->footprint(h1.st, 1025), 2048);
    CHECK_EQ(A->footprint(h1.st, 0x20000000u), 0x20000000u);
    CHECK(A->footprint(h1.st, 0x20000001u) == UINT32_MAX);
    CHECK_EQ(A->fits(h1.st, 1025), 0);
    CHECK_EQ(A->fits(h1.st, 1024), 1);
}

static void test_exact_layout(void)
{
    inst_init(&h1, 1024);
    CHECK_EQ(xalloc(&h1, 16), 0);
    CHECK_EQ(xalloc(&h1, 16), 16);
    CHECK_EQ(xalloc(&h1, 32), 32);
    CHECK_EQ(xalloc(&h1, 100), 128);
    CHECK_EQ(A->free_bytes(h1.st), 1024 - 16 - 16 - 32 - 128);
    CHECK_EQ(xalloc(&h1, 8), 64);  /* splits [64,128): 96 (32 B) and 80 (16 B) stay free */
    CHECK_EQ(xalloc(&h1, 16), 80);
    CHECK_EQ(A->free(h1.st, 16, 16), VNV_OK);
    CHECK_EQ(A->free(h1.st, 0, 16), VNV_OK); /* merges into [0,32) */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(xalloc(&h1, 20), 0);            /* lowest 32 B block */
    CHECK_EQ(xalloc(&h1, 20), 96);
    CHECK_EQ(A->free_bytes(h1.st), 1024 - 32 - 32 - 128 - 16 - 16 - 32);
    CHECK_EQ(xalloc(&h1, 200), 256);
    CHECK_EQ(xalloc(&h1, 512), 512);
    uint32_t off;
    CHECK_EQ(A->alloc(h1.st, 16, &off), VNV_ERR_NOMEM);
    CHECK_EQ(A->free_bytes(h1.st), 0);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    /* free everything: one 1024 B block again */
    static const uint32_t blk[][2] = {{0, 20}, {96, 20}, {32, 32}, {128, 100}, {64, 8},
                                      {80, 16}, {256, 200}, {512, 512}};
    for (unsigned i = 0; i < sizeof blk / sizeof blk[0]; i++) {
        CHECK_EQ(A->free(h1.st, blk[i][0], blk[i][1]), VNV_OK);
        CHECK_EQ(A->check(h1.st), VNV_OK);
    }
    CHECK_EQ(A->free_bytes(h1.st), 1024);
    CHECK_EQ(xalloc(&h1, 1024), 0);
}

static void test_carving(void)
{
    /* 1000 = 512 + 256 + 128 + 64 + 32 + 8 (unused tail) */
    inst_init(&h1, 1000);
    CHECK_EQ(A->free_bytes(h1.st), 1000); /* 992 in blocks + the 8 B tail */
    uint32_t snap[64], n = drain(&h1, snap, 64);
    static const uint32_t want[] = {5, 0, 4, 512, 3, 768, 2, 896, 1, 960};
    CHECK_EQ(n, 10);
    for (uint32_t i = 0; i < n && i < 10; i++)
        CHECK_EQ(snap[i], want[i]);
    inst_init(&h1, 1000);
    uint32_t off;
    CHECK_EQ(A->alloc(h1.st, 513, &off), VNV_ERR_NOMEM); /* no 1024 block */
    CHECK_EQ(A->fits(h1.st, 513), 0);
    CHECK_EQ(xalloc(&h1, 300), 0);
    CHECK_EQ(xalloc(&h1, 200), 512);
    CHECK_EQ(xalloc(&h1, 1), 960); /* smallest order that has a block: 32 B at 960, split */
    CHECK_EQ(xalloc(&h1, 1), 976);
    CHECK_EQ(A->free(h1.st, 960, 1), VNV_OK);
    CHECK_EQ(A->free(h1.st, 976, 1), VNV_OK);
    CHECK_EQ(A->free(h1.st, 0, 300), VNV_OK);
    CHECK_EQ(A->free(h1.st, 512, 200), VNV_OK);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 1000);
    n = drain(&h1, snap, 64); /* carved blocks never merge with each other */
    CHECK_EQ(n, 10);
    for (uint32_t i = 0; i < n && i < 10; i++)
        CHECK_EQ(snap[i], want[i]);
    /* blocks crossing carved blocks are rejected */
    inst_init(&h1, 1000);
    CHECK_EQ(A->alloc_at(h1.st, 512, 512), VNV_ERR_INVAL);
    CHECK_EQ(A->alloc_at(h1.st, 960, 64), VNV_ERR_INVAL);
    CHECK_EQ(A->alloc_at(h1.st, 992, 8), VNV_ERR_INVAL); /* the unused tail */
    CHECK_EQ(A->free(h1.st, 992, 8), VNV_ERR_INVAL);
    CHECK_EQ(A->check(h1.st), VNV_OK);
}

/* The original freed "the lowest block of that order" instead of the freed block. */
static void test_free_removes_right_block(void)
{
    inst_init(&h1, 256);
    CHECK_EQ(xalloc(&h1, 16), 0);
    CHECK_EQ(xalloc(&h1, 16), 16);
    CHECK_EQ(xalloc(&h1, 16), 32);
    CHECK_EQ(xalloc(&h1, 16), 48);
    CHECK_EQ(A->free(h1.st, 0, 16), VNV_OK);  /* lower free block of order 0 */
    CHECK_EQ(A->free(h1.st, 48, 16), VNV_OK); /* free order 0: {0, 48} */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    /* freeing 32 must merge with its buddy 48, and leave 0 alone */
    CHECK_EQ(A->free(h1.st, 32, 16), VNV_OK);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 256 - 16);
    CHECK_EQ(A->alloc_at(h1.st, 0, 16), VNV_OK);  /* 0 is still a free 16 B block */
    CHECK_EQ(A->free(h1.st, 0, 16), VNV_OK);
    CHECK_EQ(A->alloc_at(h1.st, 32, 32), VNV_OK); /* [32,64) is one free 32 B block */
    CHECK_EQ(A->free(h1.st, 32, 32), VNV_OK);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    /* the last free merges everything back */
    CHECK_EQ(A->free(h1.st, 16, 16), VNV_OK);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 256);
    CHECK_EQ(xalloc(&h1, 256), 0);

    /* the same with many free blocks of the order below the freed one */
    inst_init(&h1, 4096);
    uint32_t o[256];
    for (uint32_t i = 0; i < 256; i++)
        o[i] = xalloc(&h1, 16);
    for (uint32_t i = 0; i < 256; i += 4)
        CHECK_EQ(A->free(h1.st, o[i], 16), VNV_OK); /* order 0 holds 64 blocks */
    CHECK_EQ(A->free(h1.st, o[201], 16), VNV_OK);   /* buddy of o[200]: merge */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    for (uint32_t i = 0; i < 256; i += 4)
        if (i != 200) {
            CHECK_EQ(A->alloc_at(h1.st, o[i], 16), VNV_OK); /* all still free */
        }
    CHECK_EQ(A->alloc_at(h1.st, o[200], 32), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 0);
    CHECK_EQ(A->check(h1.st), VNV_OK);
}

static void test_invalid_frees(void)
{
    inst_init(&h1, 1024);
    uint32_t a = xalloc(&h1, 16), b = xalloc(&h1, 16), c = xalloc(&h1, 64);
    CHECK(a == 0 && b == 16 && c == 64);
    CHECK_EQ(A->free(h1.st, a, 16), VNV_OK);
    uint32_t fb = A->free_bytes(h1.st);
    CHECK_EQ(A->free(h1.st, a, 16), VNV_ERR_INVAL);   /* double free */
    CHECK_EQ(A->free(h1.st, 32, 32), VNV_ERR_INVAL);  /* a free block */
    CHECK_EQ(A->free(h1.st, 48, 16), VNV_ERR_INVAL);  /* inside a free block */
    CHECK_EQ(A->free(h1.st, 0, 32), VNV_ERR_INVAL);   /* wrong size: holds free block 0 */
    CHECK_EQ(A->free(h1.st, 0, 128), VNV_ERR_INVAL);  /* holds free blocks */
    CHECK_EQ(A->free(h1.st, 64, 128), VNV_ERR_INVAL); /* misaligned for 128 B */
    CHECK_EQ(A->free(h1.st, 8, 8), VNV_ERR_INVAL);    /* misaligned */
    CHECK_EQ(A->free(h1.st, 1024, 16), VNV_ERR_INVAL);
    CHECK_EQ(A->free(h1.st, 0xFFFFFFF0u, 16), VNV_ERR_INVAL);
    CHECK_EQ(A->free(h1.st, 0, 2048), VNV_ERR_INVAL);
    CHECK_EQ(A->free(h1.st, 0, 0), VNV_ERR_INVAL);
    CHECK_EQ(A->free_bytes(h1.st), fb);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free(h1.st, b, 16), VNV_OK);  /* merges into [0,64) */
    CHECK_EQ(A->free(h1.st, b, 16), VNV_ERR_INVAL);
    CHECK_EQ(A->free(h1.st, a, 16), VNV_ERR_INVAL);
    CHECK_EQ(A->free(h1.st, c, 64), VNV_OK);
    CHECK_EQ(A->free(h1.st, c, 64), VNV_ERR_INVAL);
    CHECK_EQ(A->free(h1.st, 512, 512), VNV_ERR_INVAL);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 1024);
}

static void test_alloc_at_failures(void)
{
    inst_init(&h1, 1024);
    uint32_t a = xalloc(&h1, 64), b = xalloc(&h1, 16);
    CHECK(a == 0 && b == 64);
    CHECK_EQ(A->alloc_at(h1.st, a, 64), VNV_ERR_NOMEM);   /* occupied */
    CHECK_EQ(A->alloc_at(h1.st, 0, 128), VNV_ERR_NOMEM);  /* partly occupied */
    CHECK_EQ(A->alloc_at(h1.st, 64, 32), VNV_ERR_NOMEM);  /* partly occupied */
    CHECK_EQ(A->alloc_at(h1.st, 16, 16), VNV_ERR_NOMEM);  /* inside an allocation */
    CHECK_EQ(A->alloc_at(h1.st, 80, 32), VNV_ERR_INVAL);  /* misaligned for 32 B */
    CHECK_EQ(A->alloc_at(h1.st, 88, 8), VNV_ERR_INVAL);   /* misaligned for 16 B */
    CHECK_EQ(A->alloc_at(h1.st, 1024, 16), VNV_ERR_INVAL);
    CHECK_EQ(A->alloc_at(h1.st, 0, 2048), VNV_ERR_INVAL);
    CHECK_EQ(A->alloc_at(h1.st, 0, 0), VNV_ERR_INVAL);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->alloc_at(h1.st, 80, 16), VNV_OK);         /* the free buddy of b */
    CHECK_EQ(A->alloc_at(h1.st, 80, 16), VNV_ERR_NOMEM);
    CHECK_EQ(A->alloc_at(h1.st, 768 + 48, 16), VNV_OK);   /* deep inside the 512 block */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 1024 - 64 - 16 - 16 - 16);
    CHECK_EQ(xalloc(&h1, 16), 800); /* split-off half next to 816 (order 0 beats 96's order 1) */
    CHECK_EQ(xalloc(&h1, 16), 96);
    CHECK_EQ(xalloc(&h1, 256), 256);
    CHECK_EQ(xalloc(&h1, 256), 512);
    uint32_t off;
    CHECK_EQ(A->alloc(h1.st, 256, &off), VNV_ERR_NOMEM); /* [768,1024) holds 816 */
    CHECK_EQ(A->check(h1.st), VNV_OK);
}

/* Same random alloc/free sequence on two instances: identical results. */
static void same_future(struct inst *x, struct inst *y, uint32_t seed, uint32_t ops)
{
    struct rng r;
    rng_seed(&r, seed);
    uint32_t offs[64], sizes[64], n = 0;
    for (uint32_t i = 0; i < ops; i++) {
        if (n < 64 && (n == 0 || rng_below(&r, 3) != 0)) {
            uint32_t size = 1 + rng_below(&r, 96);
            uint32_t ox = 0, oy = 0;
            int ex = A->alloc(x->st, size, &ox), ey = A->alloc(y->st, size, &oy);
            CHECK_EQ(ex, ey);
            if (ex == VNV_OK) {
                CHECK_EQ(ox, oy);
                offs[n] = ox;
                sizes[n++] = size;
            }
        } else {
            uint32_t j = rng_below(&r, n);
            CHECK_EQ(A->free(x->st, offs[j], sizes[j]), VNV_OK);
            CHECK_EQ(A->free(y->st, offs[j], sizes[j]), VNV_OK);
            offs[j] = offs[--n];
            sizes[j] = sizes[n];
        }
        CHECK_EQ(A->free_bytes(x->st), A->free_bytes(y->st));
    }
    CHECK_EQ(A->check(x->st), VNV_OK);
    CHECK_EQ(A->check(y->st), VNV_OK);
}

static void test_alloc_at_three(void)
{
    inst_init(&h1, 2048);
    uint32_t a = xalloc(&h1, 16), b = xalloc(&h1, 16), c = xalloc(&h1, 16);
    CHECK_EQ(A->free(h1.st, a, 16), VNV_OK);
    inst_init(&h2, 2048);
    CHECK_EQ(A->alloc_at(h2.st, b, 16), VNV_OK);
    CHECK_EQ(A->alloc_at(h2.st, c, 16), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), A->free_bytes(h2.st));
    CHECK_EQ(A->check(h2.st), VNV_OK);
    same_future(&h1, &h2, 7, 2000);

    /* mixed sizes */
    inst_init(&h1, 2048);
    a = xalloc(&h1, 40);
    b = xalloc(&h1, 100);
    c = xalloc(&h1, 24);
    CHECK_EQ(A->free(h1.st, a, 40), VNV_OK);
    inst_init(&h2, 2048);
    CHECK_EQ(A->alloc_at(h2.st, c, 24), VNV_OK);
    CHECK_EQ(A->alloc_at(h2.st, b, 100), VNV_OK);
    same_future(&h1, &h2, 8, 2000);
}

static void sort_pairs(uint32_t *offs, uint32_t *sizes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            if (offs[j] < offs[i]) {
                uint32_t t = offs[i]; offs[i] = offs[j]; offs[j] = t;
                t = sizes[i]; sizes[i] = sizes[j]; sizes[j] = t;
            }
}

static void restore_case(uint32_t seed, int shuffled, uint32_t size)
{
    struct rng r;
    rng_seed(&r, seed);
    uint32_t offs[48], sizes[48], n = 0;
    inst_init(&h1, size);
    inst_init(&h2, size);
    for (uint32_t i = 0; i < 48; i++) {
        uint32_t sz = 1 + rng_below(&r, 60), o1 = 0, o2 = 0;
        int e1 = A->alloc(h1.st, sz, &o1), e2 = A->alloc(h2.st, sz, &o2);
        CHECK_EQ(e1, e2);
        if (e1)
            continue;
        CHECK_EQ(o1, o2);
        offs[n] = o1;
        sizes[n++] = sz;
    }
    for (uint32_t f = 0; f < 14 && n; f++) {
        uint32_t j = rng_below(&r, n);
        CHECK_EQ(A->free(h1.st, offs[j], sizes[j]), VNV_OK);
        CHECK_EQ(A->free(h2.st, offs[j], sizes[j]), VNV_OK);
        offs[j] = offs[--n];
        sizes[j] = sizes[n];
    }
    sort_pairs(offs, sizes, n);
    if (shuffled) {
        for (uint32_t i = n; i > 1; i--) {
            uint32_t j = rng_below(&r, i);
            uint32_t t = offs[i - 1]; offs[i - 1] = offs[j]; offs[j] = t;
            t = sizes[i - 1]; sizes[i - 1] = sizes[j]; sizes[j] = t;
        }
    }
    CHECK_EQ(A->init(h2.st, h2.buf, size), VNV_OK);
    for (uint32_t i = 0; i < n; i++) {
        CHECK_EQ(A->alloc_at(h2.st, offs[i], sizes[i]), VNV_OK);
        CHECK_EQ(A->check(h2.st), VNV_OK);
    }
    CHECK_EQ(A->free_bytes(h1.st), A->free_bytes(h2.st));
    for (uint32_t s = 16; s <= size; s *= 2)
        CHECK_EQ(A->fits(h1.st, s), A->fits(h2.st, s));
    same_future(&h1, &h2, seed * 31u + 1u, 3000);
    /* and the free structures are equal, block for block */
    static uint32_t d1[2048], d2[2048];
    uint32_t n1 = drain(&h1, d1, 2048), n2 = drain(&h2, d2, 2048);
    CHECK_EQ(n1, n2);
    CHECK(n1 == n2 && memcmp(d1, d2, n1 * sizeof d1[0]) == 0);
}

static void test_restore_ascending(void)
{
    for (uint32_t seed = 1; seed <= 8; seed++)
        restore_case(seed, 0, 4096);
    restore_case(9, 0, 3000); /* carved */
}

static void test_restore_shuffled(void)
{
    for (uint32_t seed = 100; seed <= 108; seed++)
        restore_case(seed, 1, 4096);
    restore_case(109, 1, 4040);
}

static void test_fits_agrees(void)
{
    struct rng r;
    rng_seed(&r, 99);
    inst_init(&h1, 2048);
    uint32_t offs[128], sizes[128], n = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        uint32_t size = 1 + rng_below(&r, 300);
        uint32_t fb = A->free_bytes(h1.st);
        int f = A->fits(h1.st, size);
        CHECK_EQ(A->free_bytes(h1.st), fb);
        uint32_t off;
        int err = A->alloc(h1.st, size, &off);
        CHECK_EQ(f, err == VNV_OK);
        if (err == VNV_OK) {
            if (n < 128 && rng_below(&r, 4) != 0) {
                offs[n] = off;
                sizes[n++] = size;
            } else {
                CHECK_EQ(A->free(h1.st, off, size), VNV_OK);
            }
        } else {
            CHECK_EQ(err, VNV_ERR_NOMEM);
        }
        if (n && (err || rng_below(&r, 2))) {
            uint32_t j = rng_below(&r, n);
            CHECK_EQ(A->free(h1.st, offs[j], sizes[j]), VNV_OK);
            offs[j] = offs[--n];
            sizes[j] = sizes[n];
        }
    }
    CHECK_EQ(A->check(h1.st), VNV_OK);
}

/* Randomized stress against a shadow map of used bytes, on a carved buffer with an
 * unusable 8 B tail: 9272 = 8192 + 1024 + 32 + 16 + 8. */
#define ST_SIZE 9272u
#define ST_USABLE 9264u
#define ST_LIVE 512u
static uint8_t shadow[ST_SIZE];

static void test_stress(void)
{
    struct rng r;
    rng_seed(&r, 0xB0DD);
    inst_init(&h1, ST_SIZE);
    CHECK_EQ(A->free_bytes(h1.st), ST_SIZE); /* footprints + free_bytes == size, always */
    static uint32_t initial[64], after[64];
    uint32_t ni = drain(&h1, initial, 64);
    CHECK_EQ(ni, 8);
    inst_init(&h1, ST_SIZE);
    memset(shadow, 0, sizeof shadow);
    static uint32_t offs[ST_LIVE], sizes[ST_LIVE];
    uint32_t n = 0, used = 0, bad = 0, nomem = 0;
    for (uint32_t op = 0; op < 200000u && bad < 10; op++) {
        uint32_t kind = rng_below(&r, 100);
        if (kind < 55 && n < ST_LIVE) {
            uint32_t size = rng_below(&r, 8) ? 1 + rng_below(&r, 64) : 1 + rng_below(&r, 1024);
            uint32_t off = 0;
            int f = A->fits(h1.st, size);
            int err = A->alloc(h1.st, size, &off);
            if (f != (err == VNV_OK))
                bad++;
            if (err == VNV_OK) {
                uint32_t fp = A->footprint(h1.st, size);
                if (off % fp || off > ST_USABLE || fp > ST_USABLE - off) {
                    bad++;
                    continue;
                }
                for (uint32_t i = off; i < off + fp; i++) {
                    if (shadow[i])
                        bad++;
                    shadow[i] = 1;
                }
                memset(h1.buf + off, (int)(off >> 4), size);
                offs[n] = off;
                sizes[n++] = size;
                used += fp;
            } else if (err == VNV_ERR_NOMEM) {
                nomem++;
            } else {
                bad++;
            }
        } else if (kind < 95 && n) {
            uint32_t j = rng_below(&r, n), off = offs[j], size = sizes[j];
            uint32_t fp = A->footprint(h1.st, size);
            for (uint32_t i = 0; i < size; i++)
                if (h1.buf[off + i] != (uint8_t)(off >> 4)) {
                    bad++;
                    break;
                }
            if (A->free(h1.st, off, size) != VNV_OK)
                bad++;
            memset(shadow + off, 0, fp);
            used -= fp;
            offs[j] = offs[--n];
            sizes[j] = sizes[n];
        } else if (n) {
            uint32_t j = rng_below(&r, n), off = offs[j], size = sizes[j];
            if (A->alloc_at(h1.st, off, size) != VNV_ERR_NOMEM)
                bad++;
            if (A->free(h1.st, off, size) != VNV_OK || A->free(h1.st, off, size) != VNV_ERR_INVAL)
                bad++;
            if (A->alloc_at(h1.st, off, size) != VNV_OK)
                bad++;
            memset(h1.buf + off, (int)(off >> 4), size);
        }
        if (A->free_bytes(h1.st) != ST_SIZE - used)
            bad++;
        if (op % 64 == 0 && A->check(h1.st) != VNV_OK)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK(nomem > 100); /* the buffer really filled up now and then */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    while (n) {
        n--;
        CHECK_EQ(A->free(h1.st, offs[n], sizes[n]), VNV_OK);
    }
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), ST_SIZE);
    uint32_t na = drain(&h1, after, 64); /* exactly the initial carving */
    CHECK_EQ(na, ni);
    CHECK(na == ni && memcmp(initial, after, na * sizeof after[0]) == 0);
}

/* ---- check finds damage ---------------------------------------------------------------
 * White-box: the state's words (magic, size, free bytes, one tree root per order) and the
 * in-band node of a free block ({child 0, child 1, bit} at its start; a node pointer is its
 * host's offset | 1). Each damage of a fragmented state must make check say CORRUPT, and
 * the state passes again once the damage is undone. */

enum { W_SIZE = 1, W_FREE = 2, W_ROOT = 3 };

static uint32_t buf_word(const struct inst *h, uint32_t off)
{
    uint32_t v;
    memcpy(&v, h->buf + off, sizeof v);
    return v;
}

static void test_check_finds_damage(void)
{
    /* every other 16-byte block of the first 1 KiB free: 32 unmergeable order-0 leaves */
    inst_init(&h1, 4096);
    uint32_t off[64];
    for (int i = 0; i < 64; i++)
        off[i] = xalloc(&h1, 16);
    for (int i = 0; i < 64; i += 2)
        CHECK_EQ(A->free(h1.st, off[i], 16), VNV_OK);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    uint32_t *W = (uint32_t *)h1.st;
    uint32_t root = W[W_ROOT + 0];
    REQUIRE((root & 1u) && root != 0xFFFFFFFFu); /* an internal node */
    uint32_t host = root & ~1u;

#define DAMAGE(at, bad) CHECK_EQ(alloc_damage(A, h1.st, (at), (bad)), 0)
    uint8_t *node = h1.buf + host;
    DAMAGE(&W[W_FREE], W[W_FREE] + 16u);    /* free bytes disagree with the trees */
    DAMAGE(&W[W_FREE], W[W_FREE] - 16u);
    DAMAGE(&W[W_SIZE], W[W_SIZE] + 4u);     /* not a multiple of the alignment */
    DAMAGE(&W[W_ROOT + 0], off[1]);         /* a root naming an allocated block */
    DAMAGE(&W[W_ROOT + 3], off[1] | 1u);    /* an empty order naming garbage */
    DAMAGE(&W[W_ROOT + 0], 4096u + 16u);    /* past the buffer */
    DAMAGE(node + 8, 40u);                  /* a node bit out of range */
    DAMAGE(node + 8, buf_word(&h1, host + 8u) + 1u); /* a wrong node bit */
    DAMAGE(node + 0, root);                 /* a child that is the node: a cycle */
    DAMAGE(node + 4, root);
    DAMAGE(node + 0, off[1]);               /* a child naming an allocated block */
    DAMAGE(node + 4, buf_word(&h1, host));  /* both children the same */
#undef DAMAGE

    /* two free buddies side by side: the tree must have merged them */
    inst_init(&h2, 4096);
    uint32_t a = xalloc(&h2, 16), b = xalloc(&h2, 16);
    REQUIRE(a == 0 && b == 16);
    uint32_t *V = (uint32_t *)h2.st;
    REQUIRE(V[W_ROOT + 0] == 0xFFFFFFFFu);
    const uint32_t pair[3] = {0, 16, 4}; /* hosted by block 0: leaves 0 and 16, bit 4 */
    memcpy(h2.buf, pair, sizeof pair);
    V[W_ROOT + 0] = 0u | 1u;
    V[W_FREE] += 32u;
    CHECK_EQ(A->check(h2.st), VNV_ERR_CORRUPT);
}

int main(void)
{
    RUN(test_descriptor);
    RUN(test_init_args);
    RUN(test_footprint);
    RUN(test_exact_layout);
    RUN(test_carving);
    RUN(test_free_removes_right_block);
    RUN(test_invalid_frees);
    RUN(test_alloc_at_failures);
    RUN(test_alloc_at_three);
    RUN(test_restore_ascending);
    RUN(test_restore_shuffled);
    RUN(test_fits_agrees);
    RUN(test_stress);
    RUN(test_check_finds_damage);
    return vtest_summary();
}
