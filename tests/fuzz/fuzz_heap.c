/*
 * fuzz_heap.c - libFuzzer harness: input bytes become a sequence of API calls (including
 * checkpoint + RAM wipe + resume, checkpoint + restart, close + open, bad handles, partial
 * writes, and resets no checkpoint announced, with the power cut after any number of bytes
 * of the operations before them) and every result is checked against a shadow model: after
 * an unannounced reset the heap must open and hold exactly the model of the last checkpoint. Any mismatch aborts, which
 * libFuzzer reports as a crash with the input that caused it. Failure-atomic groups too:
 * begin, end and abort among the other calls; an abort, or a restart from a checkpoint
 * taken inside a group, must give back the model from before the group.
 *
 *   make fuzz FUZZ_SECONDS=600     # longer run; new inputs go to build/fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fuzz_input.h"

#define NV (16u * 1024u)
#define RAM 1536u
#define DIRTY 400u
#define SLOTS 24
#define MAXSZ 120

struct slot {
    vnv_obj_t obj;
    uint32_t size;
    uint8_t val[MAXSZ];
    int live, readers, writer, partial;
    const uint8_t *rp; /* pointer held by readers */
    uint8_t *wp;       /* pointer held by the writer */
};

static struct fixture fx;
static struct slot sl[SLOTS];
static vnv_obj_t dead[SLOTS];
static int ndead;

static int last_err; /* the last API result checked, for the failure message */

/* The model as of the last completed checkpoint (an unannounced reset returns to it). */
static struct slot sl_ck[SLOTS];
static vnv_obj_t dead_ck[SLOTS];
static int ndead_ck;

/* The open group's depth and the model from before it (an abort, or a restart from a
 * checkpoint taken inside it, returns to that). */
static int depth;
static struct slot sl_grp[SLOTS];
static vnv_obj_t dead_grp[SLOTS];
static int ndead_grp;

static void snapshot(void)
{
    memcpy(sl_ck, depth ? sl_grp : sl, sizeof sl);
    memcpy(dead_ck, depth ? dead_grp : dead, sizeof dead);
    ndead_ck = depth ? ndead_grp : ndead;
}

/* After a restart: the model of the last checkpoint, no pins, no group. */
static void back_to_checkpoint(void)
{
    memcpy(sl, sl_ck, sizeof sl);
    memcpy(dead, dead_ck, sizeof dead);
    ndead = ndead_ck;
    depth = 0;
}

#define ENSURE(cond)                                                                         \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_heap.c:%d: %s (last result %s)\n", __LINE__, #cond,       \
                    vnv_strerror(last_err));                                                 \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* VNV_FUZZ_TRACE=1 prints every decoded operation (to replay a crash by hand). */
static int tracing = -1;
#define TRACE(...)                                                                           \
    do {                                                                                     \
        if (tracing < 0)                                                                     \
            tracing = getenv("VNV_FUZZ_TRACE") != NULL;                                      \
        if (tracing)                                                                         \
            fprintf(stderr, __VA_ARGS__);                                                    \
    } while (0)


static void held_pointers_intact(void)
{
    for (int i = 0; i < SLOTS; i++) {
        if (sl[i].readers)
            ENSURE(memcmp(sl[i].rp, sl[i].val, sl[i].size) == 0);
        if (sl[i].writer)
            ENSURE(memcmp(sl[i].wp, sl[i].val, sl[i].size) == 0);
    }
}

static void drop_pins(void)
{
    for (int i = 0; i < SLOTS; i++)
        sl[i].readers = sl[i].writer = 0;
}

static void all_values(void)
{
    for (int i = 0; i < SLOTS; i++) {
        if (!sl[i].live || sl[i].writer || sl[i].readers == VNV_MAX_READERS)
            continue; /* one more reader would be (correctly) refused */
        const uint8_t *p;
        int err = vnv_get(&fx.heap, sl[i].obj, (const void **)&p);
        last_err = err;
        if (env_error(err))
            continue;
        ENSURE(err == VNV_OK);
        ENSURE(memcmp(p, sl[i].val, sl[i].size) == 0);
        ENSURE(vnv_release(&fx.heap, sl[i].obj) == VNV_OK);
    }
}

static void step(struct input *in);

/* The power is cut after 8 * k bytes (k from the input) of the next few operations, which
 * take no checkpoint; then the device restarts: the heap must open and hold exactly the
 * last checkpoint's model. */
static void unannounced_reset(struct input *in, uint32_t a)
{
    uint32_t k = take(in), ops = 1u + (a >> 1) % 8u;
    vnv_emu_cut_power_after(&fx.emu, 8u * (uint64_t)k);
    /* once the power is off the device is dead: nothing after the cut runs (the emulated
     * storage drops writes silently, so reads back and vnv_check would see a dead device) */
    for (uint32_t i = 0; i < ops && in->n && !vnv_emu_power_is_off(&fx.emu); i++) {
        if (in->n >= 1u && (in->p[0] % 16u) >= 8u && (in->p[0] % 16u) <= 10u)
            (void)take(in); /* no checkpoint, no close in between: skip that byte */
        else if (in->n >= 1u && (in->p[0] % 16u) == 14u)
            (void)take(in);
        else
            step(in);
    }
    TRACE("unannounced reset (cut after %u bytes, power %s)\n", (unsigned)(8u * k),
          vnv_emu_power_is_off(&fx.emu) ? "cut" : "still on");
    /* (handles made since the checkpoint died with the RAM that held them: the allocation
     * counter is back at the checkpoint's, so they may name new objects later) */
    back_to_checkpoint();
    int err = fx_reboot(&fx); /* powers the storage on again */
    last_err = err;
    ENSURE(err == VNV_OK);
    drop_pins();
    ENSURE(vnv_check(&fx.heap) == VNV_OK);
    all_values();
}

/* 1 begin, 2 end, 3 abort, against the model. */
static void group_op(uint32_t which)
{
    struct vnv_heap *h = &fx.heap;
    int writer = 0, pinned = 0;
    for (int i = 0; i < SLOTS; i++) {
        writer |= sl[i].live && sl[i].writer;
        pinned |= sl[i].live && (sl[i].writer || sl[i].readers);
    }
    int err = which == 1 ? vnv_atomic_begin(h) : which == 2 ? vnv_atomic_end(h)
                                                            : vnv_atomic_abort(h);
    last_err = err;
    TRACE("group %s at depth %d: %s\n", which == 1 ? "begin" : which == 2 ? "end" : "abort",
          depth, vnv_strerror(err));
    if (which == 1) {
        if (!depth && writer) {
            ENSURE(err == VNV_ERR_BUSY); /* a writer pin taken outside the group */
            return;
        }
        ENSURE(err == VNV_OK);
        if (!depth++) {
            memcpy(sl_grp, sl, sizeof sl);
            memcpy(dead_grp, dead, sizeof dead);
            ndead_grp = ndead;
        }
        return;
    }
    if (!depth) {
        ENSURE(err == VNV_ERR_INVAL);
        return;
    }
    if (which == 2) {
        ENSURE(err == VNV_OK);
        depth--;
        return;
    }
    if (err == VNV_ERR_BUSY) { /* a member is pinned: the group goes on */
        ENSURE(pinned);
        return;
    }
    ENSURE(err == VNV_OK);
    /* back to before the group; what is still pinned was not changed in it */
    for (int i = 0; i < SLOTS; i++) {
        struct slot now = sl[i];
        sl[i] = sl_grp[i];
        if (now.live && (now.readers || now.writer)) {
            ENSURE(sl[i].live && sl[i].obj.id == now.obj.id);
            ENSURE(memcmp(sl[i].val, now.val, now.size) == 0);
            sl[i] = now;
        } else {
            sl[i].readers = sl[i].writer = 0;
        }
    }
    memcpy(dead, dead_grp, sizeof dead);
    ndead = ndead_grp;
    depth = 0;
    if (fx.emu.cut_armed || vnv_emu_power_is_off(&fx.emu))
        return; /* a cut is due (its reset follows): loads could write and trip it */
    all_values();
    ENSURE(vnv_check(h) == VNV_OK);
}

static void step(struct input *in)
{
    struct vnv_heap *h = &fx.heap;
    uint32_t op = take(in) % 16, a = take(in);
    struct slot *s = &sl[a % SLOTS];
    int err;
    TRACE("op %u slot %u live %d readers %d writer %d\n", (unsigned)op, (unsigned)(a % SLOTS),
          s->live, s->readers, s->writer);
    switch (op) {
    case 0: /* alloc, plain or partial */
    case 1:
        if (s->live)
            return;
        s->size = 1 + take(in) % MAXSZ;
        for (uint32_t k = 0; k < s->size; k++)
            s->val[k] = (uint8_t)(a * 31u + k);
        s->partial = op == 1;
        int room = !s->partial && vnv_has_room(h, s->size);
        uint64_t io = fx.emu.read_calls + fx.emu.write_calls;
        struct vnv_stats s0;
        ENSURE(vnv_stats(h, &s0) == VNV_OK);
        err = s->partial ? vnv_alloc_blocks(h, s->size, 16, s->val, &s->obj)
                         : vnv_alloc(h, s->size, s->val, &s->obj);
        if (env_error(err))
            return;
        ENSURE(err == VNV_OK);
        if (room) { /* vnv_has_room's promise: nothing else evicted or flushed; outside a
                       group in RAM, no storage traffic but a tag reservation's write */
            struct vnv_stats s1;
            ENSURE(vnv_stats(h, &s1) == VNV_OK);
            ENSURE(s1.evictions == s0.evictions && s1.flushes == s0.flushes);
            ENSURE(vnv_atomic_depth(h) || vnv_is_resident(h, s->obj));
            ENSURE(vnv_atomic_depth(h) || fx.emu.read_calls + fx.emu.write_calls ==
                                              io + s1.tag_reserves - s0.tag_reserves);
        }
        s->live = 1;
        s->readers = s->writer = 0;
        return;
    case 2: /* free */
        if (!s->live)
            return;
        err = vnv_free(h, s->obj);
        if (s->readers || s->writer) {
            ENSURE(err == VNV_ERR_BUSY);
            return;
        }
        if (depth && env_error(err))
            return; /* no room for what a rollback needs: nothing changed */
        ENSURE(err == VNV_OK);
        s->live = 0;
        if (ndead < SLOTS)
            dead[ndead++] = s->obj;
        return;
    case 3: /* get */
    case 4: {
        if (!s->live)
            return;
        const uint8_t *p;
        err = vnv_get(h, s->obj, (const void **)&p);
        if (s->writer || s->readers == VNV_MAX_READERS) {
            ENSURE(err == VNV_ERR_BUSY);
            return;
        }
        if (env_error(err))
            return;
        ENSURE(err == VNV_OK);
        ENSURE(memcmp(p, s->val, s->size) == 0);
        s->readers++;
        s->rp = p;
        return;
    }
    case 5: /* release */
        if (!s->live)
            return;
        err = vnv_release(h, s->obj);
        if (!s->readers && !s->writer) {
            ENSURE(err == VNV_ERR_INVAL);
            return;
        }
        ENSURE(err == VNV_OK);
        if (s->writer)
            s->writer = 0;
        else
            s->readers--;
        return;
    case 6: { /* get_mut (whole, or a range of a partial object) and write */
        if (!s->live)
            return;
        uint8_t *p;
        uint32_t off = s->partial ? take(in) % s->size : 0;
        uint32_t len = s->partial ? take(in) % (s->size - off + 1) : s->size;
        err = s->partial ? vnv_get_mut_range(h, s->obj, off, len, (void **)&p)
                         : vnv_get_mut(h, s->obj, (void **)&p);
        if (s->writer || s->readers) {
            ENSURE(err == VNV_ERR_BUSY);
            return;
        }
        if (env_error(err))
            return;
        ENSURE(err == VNV_OK);
        ENSURE(memcmp(p, s->val, s->size) == 0);
        for (uint32_t k = off; k < off + len; k++)
            s->val[k] = p[k] = (uint8_t)(p[k] + 1u + a);
        s->writer = 1;
        s->wp = p;
        return;
    }
    case 7: /* flush / unload */
        if (!s->live)
            return;
        err = (a & 1) ? vnv_unload(h, s->obj) : vnv_flush(h, s->obj);
        if ((a & 1) ? (s->readers || s->writer) : s->writer)
            ENSURE(err == VNV_ERR_BUSY);
        else /* (a group member stays where it is until the group ends) */
            ENSURE(err == VNV_OK || (depth && err == VNV_ERR_BUSY));
        return;
    case 8: /* power failure: checkpoint, RAM wiped (or kept), resume */
        fx.wipe = (int)(a & 1);
        ENSURE(vnv_persist_all() == VNV_OK);
        snapshot();
        ENSURE(vnv_check(h) == VNV_OK);
        held_pointers_intact();
        return;
    case 9: /* power failure then restart from main */
        fx.wipe = 0;
        ENSURE(vnv_checkpoint(h) == VNV_OK);
        snapshot();
        back_to_checkpoint();
        ENSURE(fx_reboot(&fx) == VNV_OK);
        drop_pins();
        ENSURE(vnv_check(h) == VNV_OK);
        all_values();
        return;
    case 10: /* clean shutdown and open */
        err = vnv_close(h);
        if (depth) {
            ENSURE(err == VNV_ERR_BUSY); /* not inside a group */
            return;
        }
        for (int i = 0; i < SLOTS; i++)
            if (sl[i].live && (sl[i].readers || sl[i].writer)) {
                ENSURE(err == VNV_ERR_BUSY);
                return;
            }
        ENSURE(err == VNV_OK);
        snapshot();
        ENSURE(fx_reboot(&fx) == VNV_OK);
        all_values();
        return;
    case 11: { /* freed and forged handles */
        const void *p;
        if (ndead)
            ENSURE(vnv_get(h, dead[a % (uint32_t)ndead], &p) == VNV_ERR_INVAL);
        vnv_obj_t forged = {(a << 24) | (take(in) << 10) | (a & 0x3FFu)};
        for (int i = 0; i < SLOTS; i++)
            if (sl[i].live && sl[i].obj.id == forged.id)
                return;
        err = vnv_get(h, forged, &p);
        ENSURE(err == VNV_ERR_INVAL || err == VNV_OK);
        if (err == VNV_OK) /* 2^-18 chance: a forged id naming a live object we do not know */
            abort();
        return;
    }
    case 12:
        if (s->live) {
            ENSURE(vnv_set_root(h, s->obj) == VNV_OK);
            vnv_obj_t r;
            ENSURE(vnv_root(h, &r) == VNV_OK && vnv_same(r, s->obj));
        }
        return;
    case 13:
        if (a % 4u == 0)
            ENSURE(vnv_check(h) == VNV_OK);
        else
            group_op(a % 4u);
        return;
    case 14: /* a reset no checkpoint announced (watchdog, fault, brown-out) */
        if (a & 1)
            unannounced_reset(in, a);
        else
            ENSURE(vnv_check(h) == VNV_OK);
        return;
    default: { /* writes through a held writer pointer */
        if (!s->live || !s->writer)
            return;
        if (s->partial)
            return; /* only the marked range may change */
        uint32_t k = take(in) % s->size;
        s->val[k] = s->wp[k] = (uint8_t)take(in);
        return;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(sl, 0, sizeof sl);
    ndead = 0;
    depth = 0;
    if (fx_format(&fx, NV, RAM, DIRTY) != VNV_OK)
        abort();
    snapshot();
    struct input in = {data, size};
    for (int n = 0; in.n && n < 4000; n++) {
        step(&in);
        struct vnv_stats st;
        ENSURE(vnv_stats(&fx.heap, &st) == VNV_OK);
        ENSURE(st.checkpoint_bytes <= DIRTY);
    }
    ENSURE(vnv_check(&fx.heap) == VNV_OK);
    held_pointers_intact();
    all_values();
    fx_free(&fx);
    return 0;
}
