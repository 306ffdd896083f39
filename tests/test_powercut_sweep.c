/*
 * test_powercut_sweep.c - cut the power at every byte the heap writes, then restart.
 *
 * A representative workload runs between two checkpoints: updates (flushes for budget and
 * evictions), allocations resident and written home, frees, partial-array writes. For every
 * byte offset c of everything it writes (phase A), and of the final checkpoint (phase B),
 * the emulated FRAM loses power after c bytes; then the device "reboots" and vnv_open runs.
 * Every outcome must be either exactly a checkpointed state (S0 or S1) or VNV_ERR_CORRUPT;
 * never a heap whose values differ from a state that existed.
 */
#include <stdlib.h>

#include "fixture.h"
#include "rng.h"
#include "vtest.h"

#define NV (32u * 1024u)
#define RAM 3072u
#define DIRTY 700u
#define NOBJ 20
#define MAXV 96

struct state {
    vnv_obj_t obj[NOBJ + 4];
    uint8_t val[NOBJ + 4][MAXV];
    uint32_t size[NOBJ + 4];
    int live[NOBJ + 4];
    int n;
};

/* 1 if the heap holds exactly `s` (and nothing else reachable from the root). */
static int heap_equals(struct fixture *f, const struct state *s)
{
    vnv_obj_t root;
    if (vnv_root(&f->heap, &root) || !vnv_same(root, s->obj[0]))
        return 0;
    for (int i = 0; i < s->n; i++) {
        const uint8_t *p;
        int err = vnv_get(&f->heap, s->obj[i], (const void **)&p);
        if (!s->live[i]) {
            if (err != VNV_ERR_INVAL)
                return 0;
            continue;
        }
        if (err)
            return 0;
        int same = memcmp(p, s->val[i], s->size[i]) == 0;
        vnv_release(&f->heap, s->obj[i]);
        if (!same)
            return 0;
    }
    return vnv_check(&f->heap) == VNV_OK;
}

static void workload(struct fixture *f, struct state *s, uint32_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int k = 0; k < 30; k++) { /* updates: budget forces flushes and evictions */
        int i = 1 + (int)rng_below(&r, NOBJ - 1);
        if (!s->live[i])
            continue;
        uint8_t *p;
        if (vnv_get_mut(&f->heap, s->obj[i], (void **)&p))
            return;
        rng_fill(&r, s->val[i], s->size[i]);
        memcpy(p, s->val[i], s->size[i]);
        vnv_release(&f->heap, s->obj[i]);
    }
    for (int k = 0; k < 2; k++) { /* allocations: one resident, one written home */
        int i = s->n;
        s->size[i] = k ? MAXV : 12;
        rng_fill(&r, s->val[i], s->size[i]);
        if (vnv_alloc(&f->heap, s->size[i], s->val[i], &s->obj[i]))
            return;
        s->live[i] = 1;
        s->n++;
    }
    if (vnv_free(&f->heap, s->obj[5]) == VNV_OK) /* frees */
        s->live[5] = 0;
    if (vnv_unload(&f->heap, s->obj[7]) == VNV_OK && vnv_free(&f->heap, s->obj[7]) == VNV_OK)
        s->live[7] = 0;
    uint8_t *p; /* a partial write into the array object (index 1) */
    if (vnv_get_mut_range(&f->heap, s->obj[1], 40, 5, (void **)&p) == VNV_OK) {
        memset(p + 40, 0xAB, 5);
        memset(s->val[1] + 40, 0xAB, 5);
        vnv_release(&f->heap, s->obj[1]);
    }
}

static void test_sweep(void)
{
    struct fixture f;
    struct state s0, s1, s;
    struct rng r;
    rng_seed(&r, 77);
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    memset(&s0, 0, sizeof s0);
    for (int i = 0; i < NOBJ; i++) {
        s0.size[i] = i == 1 ? MAXV : 4 + rng_below(&r, MAXV - 4);
        rng_fill(&r, s0.val[i], s0.size[i]);
        int err = i == 1 ? vnv_alloc_blocks(&f.heap, s0.size[i], 16, s0.val[i], &s0.obj[i])
                         : vnv_alloc(&f.heap, s0.size[i], s0.val[i], &s0.obj[i]);
        CHECK_EQ(err, VNV_OK);
        s0.live[i] = 1;
    }
    s0.n = NOBJ;
    CHECK_EQ(vnv_set_root(&f.heap, s0.obj[0]), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* S0 */

    uint8_t *image = malloc(NV), *ram = malloc(RAM);
    struct vnv_heap heap0 = f.heap;
    memcpy(image, f.nv, NV);
    memcpy(ram, f.ram, RAM);

    /* the uninterrupted run: bytes written between checkpoints, and in the final one */
    s1 = s0;
    vnv_emu_reset_counters(&f.emu);
    workload(&f, &s1, 5);
    uint32_t between = (uint32_t)f.emu.write_bytes;
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* S1 */
    uint32_t final = (uint32_t)f.emu.write_bytes;
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK(heap_equals(&f, &s1));
    vnv_abandon(&f.heap);
    CHECK(between > 500);

    unsigned tried = 0, as_s0 = 0, as_s1 = 0, reported = 0, wrong = 0;
    for (uint32_t c = 0; c <= between + final; c++) {
        memcpy(f.nv, image, NV);
        memcpy(f.ram, ram, RAM);
        f.heap = heap0;
        f.emu.power_off = 0;
        vnv_emu_cut_power_after(&f.emu, c);
        s = s0;
        workload(&f, &s, 5);
        (void)vnv_checkpoint(&f.heap); /* the power-fail checkpoint, possibly cut */
        tried++;
        int err = fx_reboot(&f);
        if (err == VNV_ERR_CORRUPT) {
            reported++;
        } else if (err == VNV_OK && heap_equals(&f, &s0)) {
            as_s0++;
        } else if (err == VNV_OK && heap_equals(&f, &s1)) {
            as_s1++;
        } else {
            wrong++;
            fprintf(stderr, "cut at byte %u: open %s, state matches neither checkpoint\n",
                    (unsigned)c, vnv_strerror(err));
        }
        vnv_abandon(&f.heap);
    }
    printf("power-cut sweep: %u cuts tried, %u recovered S0, %u recovered S1, %u reported "
           "corrupt, %u silently wrong\n", tried, as_s0, as_s1, reported, wrong);
    CHECK_EQ(wrong, 0);
    CHECK(as_s1 >= 1);   /* the complete run */
    CHECK(as_s0 >= 1);   /* a cut before anything landed */
    CHECK(reported > between);
    free(image);
    free(ram);
    fx_free(&f);
}

int main(void)
{
    RUN(test_sweep);
    return vtest_summary();
}
