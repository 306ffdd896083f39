/* test_ram_firstfit.c - the address-ordered first-fit RAM allocator (vnv_ram_firstfit). */
#include <stdint.h>
#include <string.h>

#include "support/alloc_damage.h"
#include "support/rng.h"
#include "vnvheap/alloc.h"
#include "vtest.h"

static const struct vnv_ram_allocator *const A = &vnv_ram_firstfit;

#define BUF_MAX 16384u

/* One allocator instance. The state pointer is deliberately only 4-aligned (the heap
 * embeds it in a uint32_t array), and the buffer 8-aligned as the interface promises. */
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
    h->st = &h->words[1]; /* 4 mod 8 */
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

static void test_descriptor(void)
{
    CHECK(A->name && strcmp(A->name, "firstfit") == 0);
    CHECK(A->state_size > 0 && A->state_size <= VNV_RAM_STATE_MAX);
    CHECK(A->init && A->alloc && A->alloc_at && A->free && A->fits && A->footprint && A->check &&
          A->free_bytes);
}

static void test_init_args(void)
{
    h1.st = &h1.words[1];
    CHECK_EQ(A->init(h1.st, h1.buf + 4, 64), VNV_ERR_INVAL); /* misaligned base */
    CHECK_EQ(A->init(h1.st, h1.buf, 60), VNV_ERR_INVAL);     /* size not a multiple of 8 */
    CHECK_EQ(A->init(h1.st, NULL, 64), VNV_ERR_INVAL);
    inst_init(&h1, 0);
    uint32_t off;
    CHECK_EQ(A->alloc(h1.st, 8, &off), VNV_ERR_NOMEM);
    CHECK_EQ(A->free_bytes(h1.st), 0);
    CHECK_EQ(A->fits(h1.st, 1), 0);
    inst_init(&h1, 8);
    CHECK_EQ(A->free_bytes(h1.st), 8);
    CHECK_EQ(xalloc(&h1, 3), 0);
    CHECK_EQ(A->free_bytes(h1.st), 0);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->alloc(h1.st, 0, &off), VNV_ERR_INVAL);
}

static void test_footprint(void)
{
    inst_init(&h1, 256);
    CHECK_EQ(A->footprint(h1.st, 1), 8);
    CHECK_EQ(A->footprint(h1.st, 8), 8);
    CHECK_EQ(A->footprint(h1.st, 9), 16);
    CHECK_EQ(A->footprint(h1.st, 1000), 1000);
    CHECK_EQ(A->footprint(h1.st, 1001), 1008);
    CHECK(A->footprint(h1.st, UINT32_MAX) == UINT32_MAX);
}

static void test_exact_layout(void)
{
    inst_init(&h1, 1024);
    CHECK_EQ(xalloc(&h1, 10), 0);   /* 16 */
    CHECK_EQ(xalloc(&h1, 8), 16);   /* 8 */
    CHECK_EQ(xalloc(&h1, 100), 24); /* 104 */
    CHECK_EQ(A->free_bytes(h1.st), 1024 - 16 - 8 - 104);
    CHECK_EQ(A->free(h1.st, 16, 8), VNV_OK); /* hole [16,24) */
    CHECK_EQ(A->free_bytes(h1.st), 1024 - 16 - 104);
    CHECK_EQ(xalloc(&h1, 24), 128);          /* too big for the hole */
    CHECK_EQ(xalloc(&h1, 5), 16);            /* first fit: the small hole */
    CHECK_EQ(A->free(h1.st, 0, 10), VNV_OK);
    CHECK_EQ(A->free(h1.st, 16, 5), VNV_OK); /* merges with [0,16) */
    CHECK_EQ(xalloc(&h1, 20), 0);            /* [0,24) */
    CHECK_EQ(A->free_bytes(h1.st), 1024 - 24 - 104 - 24);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    /* free everything in a scrambled order: one hole again */
    CHECK_EQ(A->free(h1.st, 24, 100), VNV_OK);
    CHECK_EQ(A->free(h1.st, 0, 20), VNV_OK);
    CHECK_EQ(A->free(h1.st, 128, 24), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 1024);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(xalloc(&h1, 1024), 0);
}

static void test_merge_both_sides(void)
{
    inst_init(&h1, 256);
    uint32_t a = xalloc(&h1, 64), b = xalloc(&h1, 64), c = xalloc(&h1, 64);
    CHECK(a == 0 && b == 64 && c == 128);
    CHECK_EQ(A->free(h1.st, a, 64), VNV_OK);
    CHECK_EQ(A->free(h1.st, c, 64), VNV_OK); /* merges with the tail */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->fits(h1.st, 128), 1);
    CHECK_EQ(A->fits(h1.st, 136), 0);
    CHECK_EQ(A->free(h1.st, b, 64), VNV_OK); /* merges with both neighbours */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 256);
    CHECK_EQ(A->fits(h1.st, 256), 1);
    CHECK_EQ(xalloc(&h1, 256), 0);
}

static void test_invalid_frees(void)
{
    inst_init(&h1, 512);
    uint32_t a = xalloc(&h1, 32), b = xalloc(&h1, 32), c = xalloc(&h1, 32);
    (void)c;
    CHECK_EQ(A->free(h1.st, a, 32), VNV_OK);
    uint32_t fb = A->free_bytes(h1.st);
    CHECK_EQ(A->free(h1.st, a, 32), VNV_ERR_INVAL);      /* double free */
    CHECK_EQ(A->free(h1.st, a + 8, 8), VNV_ERR_INVAL);   /* inside a hole */
    CHECK_EQ(A->free(h1.st, 24, 16), VNV_ERR_INVAL);     /* overlaps the front hole */
    CHECK_EQ(A->free(h1.st, 96, 16), VNV_ERR_INVAL);     /* start of the tail hole */
    CHECK_EQ(A->free(h1.st, 88, 16), VNV_ERR_INVAL);     /* overlaps the tail hole */
    CHECK_EQ(A->free(h1.st, b + 4, 8), VNV_ERR_INVAL);   /* misaligned */
    CHECK_EQ(A->free(h1.st, 512, 8), VNV_ERR_INVAL);     /* out of range */
    CHECK_EQ(A->free(h1.st, 504, 16), VNV_ERR_INVAL);    /* runs past the end */
    CHECK_EQ(A->free(h1.st, b, 0), VNV_ERR_INVAL);       /* size 0 */
    CHECK_EQ(A->free(h1.st, 0xFFFFFFF8u, 16), VNV_ERR_INVAL);
    CHECK_EQ(A->free_bytes(h1.st), fb);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free(h1.st, b, 32), VNV_OK);
    CHECK_EQ(A->free(h1.st, b, 32), VNV_ERR_INVAL);
    CHECK_EQ(A->check(h1.st), VNV_OK);
}

static void test_alloc_at_failures(void)
{
    inst_init(&h1, 512);
    uint32_t a = xalloc(&h1, 64), b = xalloc(&h1, 64);
    CHECK_EQ(A->alloc_at(h1.st, a, 64), VNV_ERR_NOMEM);     /* occupied */
    CHECK_EQ(A->alloc_at(h1.st, b + 8, 16), VNV_ERR_NOMEM); /* inside an allocation */
    CHECK_EQ(A->alloc_at(h1.st, 120, 16), VNV_ERR_NOMEM);   /* straddles b and the hole */
    CHECK_EQ(A->alloc_at(h1.st, 132, 8), VNV_ERR_INVAL);    /* misaligned */
    CHECK_EQ(A->alloc_at(h1.st, 512, 8), VNV_ERR_INVAL);    /* out of range */
    CHECK_EQ(A->alloc_at(h1.st, 496, 32), VNV_ERR_INVAL);   /* past the end */
    CHECK_EQ(A->alloc_at(h1.st, 128, 0), VNV_ERR_INVAL);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free(h1.st, a, 64), VNV_OK);
    CHECK_EQ(A->alloc_at(h1.st, 32, 40), VNV_ERR_NOMEM);    /* hole [0,64) too short */
    CHECK_EQ(A->alloc_at(h1.st, 16, 24), VNV_OK);           /* front, block, back hole */
    CHECK_EQ(A->free_bytes(h1.st), 512 - 64 - 24);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(xalloc(&h1, 16), 0);
    CHECK_EQ(xalloc(&h1, 24), 40);
    CHECK_EQ(xalloc(&h1, 8), 128);
    CHECK_EQ(A->alloc_at(h1.st, 504, 8), VNV_OK);           /* tail end */
    CHECK_EQ(A->alloc_at(h1.st, 136, 8), VNV_OK);           /* tail front */
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), 512 - 64 - 24 - 16 - 24 - 8 - 8 - 8);
}

/* Run the same random alloc/free sequence on two instances: identical results. */
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
    uint32_t a = xalloc(&h1, 40), b = xalloc(&h1, 64), c = xalloc(&h1, 24);
    CHECK_EQ(A->free(h1.st, a, 40), VNV_OK);
    inst_init(&h2, 2048);
    CHECK_EQ(A->alloc_at(h2.st, b, 64), VNV_OK);
    CHECK_EQ(A->alloc_at(h2.st, c, 24), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), A->free_bytes(h2.st));
    CHECK_EQ(A->check(h2.st), VNV_OK);
    same_future(&h1, &h2, 7, 2000);
}

/* Same allocations in two instances, free some; rebuild instance 2 from the survivors with
 * alloc_at (ascending or shuffled): both must then behave identically. */
static void restore_case(uint32_t seed, int shuffled)
{
    struct rng r;
    rng_seed(&r, seed);
    uint32_t offs[48], sizes[48], n = 0;
    inst_init(&h1, 4096);
    inst_init(&h2, 4096);
    for (uint32_t i = 0; i < 48; i++) {
        uint32_t size = 1 + rng_below(&r, 120), o1 = 0, o2 = 0;
        CHECK_EQ(A->alloc(h1.st, size, &o1), VNV_OK);
        CHECK_EQ(A->alloc(h2.st, size, &o2), VNV_OK);
        CHECK_EQ(o1, o2);
        offs[n] = o1;
        sizes[n++] = size;
    }
    for (uint32_t f = 0; f < 12; f++) { /* free a dozen in both */
        uint32_t j = rng_below(&r, n);
        CHECK_EQ(A->free(h1.st, offs[j], sizes[j]), VNV_OK);
        CHECK_EQ(A->free(h2.st, offs[j], sizes[j]), VNV_OK);
        offs[j] = offs[--n];
        sizes[j] = sizes[n];
    }
    /* survivors in ascending order, or shuffled */
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            if (offs[j] < offs[i]) {
                uint32_t t = offs[i]; offs[i] = offs[j]; offs[j] = t;
                t = sizes[i]; sizes[i] = sizes[j]; sizes[j] = t;
            }
    if (shuffled) {
        for (uint32_t i = n; i > 1; i--) {
            uint32_t j = rng_below(&r, i);
            uint32_t t = offs[i - 1]; offs[i - 1] = offs[j]; offs[j] = t;
            t = sizes[i - 1]; sizes[i - 1] = sizes[j]; sizes[j] = t;
        }
    }
    CHECK_EQ(A->init(h2.st, h2.buf, 4096), VNV_OK);
    for (uint32_t i = 0; i < n; i++) {
        CHECK_EQ(A->alloc_at(h2.st, offs[i], sizes[i]), VNV_OK);
        CHECK_EQ(A->check(h2.st), VNV_OK);
    }
    CHECK_EQ(A->free_bytes(h1.st), A->free_bytes(h2.st));
    for (uint32_t s = 8; s <= 4096; s += 8)
        CHECK_EQ(A->fits(h1.st, s), A->fits(h2.st, s));
    same_future(&h1, &h2, seed * 31u + 1u, 3000);
}

static void test_restore_ascending(void)
{
    for (uint32_t seed = 1; seed <= 8; seed++)
        restore_case(seed, 0);
}

static void test_restore_shuffled(void)
{
    for (uint32_t seed = 100; seed <= 108; seed++)
        restore_case(seed, 1);
}

/* fits() agrees with alloc() and has no side effect. */
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

/* Randomized stress against a shadow map of used bytes. */
#define ST_SIZE 8192u
#define ST_LIVE 512u
static uint8_t shadow[ST_SIZE];

static void test_stress(void)
{
    struct rng r;
    rng_seed(&r, 0x5EED);
    inst_init(&h1, ST_SIZE);
    memset(shadow, 0, sizeof shadow);
    static uint32_t offs[ST_LIVE], sizes[ST_LIVE];
    uint32_t n = 0, used = 0, bad = 0;
    for (uint32_t op = 0; op < 200000u && bad < 10; op++) {
        uint32_t kind = rng_below(&r, 100);
        if (kind < 55 && n < ST_LIVE) { /* alloc */
            uint32_t size = rng_below(&r, 8) ? 1 + rng_below(&r, 64) : 1 + rng_below(&r, 1024);
            uint32_t off = 0;
            int f = A->fits(h1.st, size);
            int err = A->alloc(h1.st, size, &off);
            if (f != (err == VNV_OK))
                bad++;
            if (err == VNV_OK) {
                uint32_t fp = A->footprint(h1.st, size);
                if (off % 8 || off > ST_SIZE || fp > ST_SIZE - off) {
                    bad++;
                    continue;
                }
                for (uint32_t i = off; i < off + fp; i++) {
                    if (shadow[i])
                        bad++;
                    shadow[i] = 1;
                }
                memset(h1.buf + off, (int)(off >> 3), size); /* owner pattern */
                offs[n] = off;
                sizes[n++] = size;
                used += fp;
            } else if (err != VNV_ERR_NOMEM) {
                bad++;
            }
        } else if (kind < 95 && n) { /* free */
            uint32_t j = rng_below(&r, n), off = offs[j], size = sizes[j];
            uint32_t fp = A->footprint(h1.st, size);
            for (uint32_t i = 0; i < size; i++) /* the allocator never touched it */
                if (h1.buf[off + i] != (uint8_t)(off >> 3)) {
                    bad++;
                    break;
                }
            if (A->free(h1.st, off, size) != VNV_OK)
                bad++;
            memset(shadow + off, 0, fp);
            used -= fp;
            offs[j] = offs[--n];
            sizes[j] = sizes[n];
        } else if (n) { /* free + alloc_at the same block, or a rejected double free */
            uint32_t j = rng_below(&r, n), off = offs[j], size = sizes[j];
            if (A->alloc_at(h1.st, off, size) != VNV_ERR_NOMEM)
                bad++;
            if (A->free(h1.st, off, size) != VNV_OK || A->free(h1.st, off, size) != VNV_ERR_INVAL)
                bad++;
            if (A->alloc_at(h1.st, off, size) != VNV_OK)
                bad++;
            memset(h1.buf + off, (int)(off >> 3), size);
        }
        if (A->free_bytes(h1.st) != ST_SIZE - used)
            bad++;
        if (A->check(h1.st) != VNV_OK)
            bad++;
    }
    CHECK_EQ(bad, 0);
    while (n) {
        n--;
        CHECK_EQ(A->free(h1.st, offs[n], sizes[n]), VNV_OK);
    }
    CHECK_EQ(A->check(h1.st), VNV_OK);
    CHECK_EQ(A->free_bytes(h1.st), ST_SIZE);
    CHECK_EQ(xalloc(&h1, ST_SIZE), 0); /* one full free range */
}

/* ---- check finds damage ---------------------------------------------------------------
 * White-box: the state's words (magic, size, free bytes, first hole) and each hole's
 * descriptor {size, next hole} in its first 8 bytes. Each damage of a state with several
 * holes must make check say CORRUPT, and the state passes again once it is undone. */

enum { W_SIZE = 1, W_FREE = 2, W_HEAD = 3 };

/* A stray write into a hole (the list lives in the arena, among the application's objects):
 * alloc, alloc_at, fits and free answer CORRUPT or refuse, and never store outside the
 * buffer (the bytes after it keep their fill). */
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static int outside_untouched(const struct inst *h)
{
    for (uint32_t i = h->size; i < h->size + 256u; i++)
        if (h->buf[i] != 0xA5)
            return 0;
    return 1;
}

static void test_damaged_links_stay_inside(void)
{
    /* hole header: size at +0, next at +4 */
    static const uint32_t bad[][2] = {
        {0, 512},         /* next: the buffer's end */
        {0, 504 + 64},    /* next: past the end */
        {0, 508},         /* next: 4 bytes before the end, misaligned */
        {0, 130},         /* next: misaligned, inside */
        {1, 4096},        /* size: past the end */
        {1, 68},          /* size: not a multiple of 8 */
        {1, 0xFFFFFFF8u}, /* size: wraps */
    };
    for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        inst_init(&h1, 512);
        uint32_t a = xalloc(&h1, 64), b = xalloc(&h1, 64), c = xalloc(&h1, 64);
        CHECK_EQ(A->free(h1.st, b, 64), VNV_OK); /* the first hole: [64, 128) */
        CHECK(a == 0 && b == 64 && c == 128);
        put32(h1.buf + b + (bad[k][0] ? 0u : 4u), bad[k][1]);
        CHECK_EQ(A->check(h1.st), VNV_ERR_CORRUPT);
        uint32_t off = 0;
        int r = A->alloc(h1.st, 200, &off); /* past the first hole: follows its link */
        CHECK(r == VNV_ERR_CORRUPT || (r == VNV_OK && off + 200u <= 512u));
        r = A->alloc_at(h1.st, 400, 16);
        CHECK(r == VNV_ERR_CORRUPT || r == VNV_ERR_NOMEM || r == VNV_OK);
        (void)A->fits(h1.st, 300);
        r = A->free(h1.st, c, 64);
        CHECK(r == VNV_ERR_CORRUPT || r == VNV_ERR_INVAL || r == VNV_OK);
        r = A->alloc(h1.st, 8, &off);
        CHECK(r != VNV_OK || off + 8u <= 512u);
        CHECK(outside_untouched(&h1));
    }
}

static void test_check_finds_damage(void)
{
    /* holes of 16 bytes between 24-byte allocations, then the tail */
    inst_init(&h1, 1024);
    uint32_t off[16];
    for (int i = 0; i < 16; i++)
        off[i] = xalloc(&h1, i % 2 ? 24 : 16);
    for (int i = 0; i < 16; i += 2)
        CHECK_EQ(A->free(h1.st, off[i], 16), VNV_OK);
    CHECK_EQ(A->check(h1.st), VNV_OK);
    uint32_t *W = (uint32_t *)h1.st;
    REQUIRE(W[W_HEAD] == off[0]);
    uint8_t *first = h1.buf + off[0], *second = h1.buf + off[2];
#define DAMAGE(at, bad) CHECK_EQ(alloc_damage(A, h1.st, (at), (bad)), 0)
    DAMAGE(&W[W_FREE], W[W_FREE] + 8u);     /* free bytes disagree with the holes */
    DAMAGE(&W[W_FREE], W[W_FREE] - 8u);
    DAMAGE(&W[W_SIZE], W[W_SIZE] + 4u);     /* not a multiple of the alignment */
    DAMAGE(&W[W_HEAD], off[0] + 4u);        /* a misaligned hole */
    DAMAGE(&W[W_HEAD], 1024u);              /* past the buffer */
    DAMAGE(&W[W_HEAD], off[1]);             /* an allocated block */
    DAMAGE(first + 0, 0u);                  /* an empty hole */
    DAMAGE(first + 0, 20u);                 /* a misaligned size */
    DAMAGE(first + 0, 2048u);               /* a hole past the end */
    DAMAGE(first + 0, 16u + 24u);           /* a hole running into the next one */
    DAMAGE(first + 4, off[0]);              /* a cycle */
    DAMAGE(second + 4, off[0]);             /* out of address order */
    DAMAGE(second + 4, off[2] + 12u);       /* a misaligned next */
#undef DAMAGE
    /* two adjacent holes, the free count kept consistent: free should have merged them */
    uint32_t size = 40u, keep;
    memcpy(&keep, first, sizeof keep);
    memcpy(first, &size, sizeof size); /* the first hole now ends where the second starts */
    W[W_FREE] += 24u;
    CHECK_EQ(A->check(h1.st), VNV_ERR_CORRUPT);
    memcpy(first, &keep, sizeof keep);
    W[W_FREE] -= 24u;
    CHECK_EQ(A->check(h1.st), VNV_OK);
}

int main(void)
{
    RUN(test_descriptor);
    RUN(test_init_args);
    RUN(test_footprint);
    RUN(test_exact_layout);
    RUN(test_merge_both_sides);
    RUN(test_invalid_frees);
    RUN(test_alloc_at_failures);
    RUN(test_alloc_at_three);
    RUN(test_restore_ascending);
    RUN(test_restore_shuffled);
    RUN(test_fits_agrees);
    RUN(test_stress);
    RUN(test_check_finds_damage);
    RUN(test_damaged_links_stay_inside);
    return vtest_summary();
}
