/*
 * fuzz_list.c - libFuzzer harness for vnv_list: input bytes become pushes, pops, peeks,
 * in-place writes, removals and walks on one list in a small heap, checked against a model
 * (a plain array), with checkpoints, checkpoints that lose RAM, close + reopen, and resets
 * that no checkpoint announced with the power cut after any number of bytes of the list
 * operations before them. After every restart the list must attach and hold exactly the
 * last checkpoint's elements; after every error it must hold what it held before. A
 * checkpoint requested from inside any storage call of an operation (so taken in the
 * middle of it), then a reset, must bring the list back as before or as after it.
 *
 *   make fuzz FUZZ_SECONDS=600     # longer run; new inputs go to build/fuzz/corpus_list
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fuzz_input.h"
#include "vnvheap/list.h"

#define NV (32u * 1024u)
#define RAM 2048u
#define DIRTY 600u
#define MAXLEN 40u
#define MAXES 48u

static struct fixture fx;
static vnv_obj_t list;
static uint32_t es;                         /* element size of this run */
static uint8_t model[MAXLEN][MAXES], saved[MAXLEN][MAXES];
static uint32_t len, saved_len;             /* the model now, and at the last checkpoint */
static int last_err;

/* The storage as the heap sees it: the emulator's, with a power-fail request raised from
 * inside the `countdown`-th call (the heap defers it to the end of that transaction's
 * critical section: a checkpoint in the middle of a list operation). */
static struct vnv_storage inner;
static uint32_t countdown;
static int fired;

static void tick(void)
{
    if (countdown && --countdown == 0) {
        fired = 1;
        (void)vnv_persist_all();
    }
}

static int w_read(void *ctx, uint32_t off, void *dst, uint32_t n)
{
    tick();
    return inner.read(ctx, off, dst, n);
}

static int w_write(void *ctx, uint32_t off, const void *src, uint32_t n)
{
    tick();
    return inner.write(ctx, off, src, n);
}

static int w_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    tick();
    return inner.writev(ctx, off, iov, cnt);
}

#define ENSURE(cond)                                                                         \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_list.c:%d: %s (last result %s)\n", __LINE__, #cond,       \
                    vnv_strerror(last_err));                                                 \
            abort();                                                                         \
        }                                                                                    \
    } while (0)


static void take_value(struct input *in, uint8_t *v)
{
    memset(v, 0, MAXES);
    for (uint32_t i = 0; i < es && in->n; i++)
        v[i] = (uint8_t)take(in);
}

/* 1 if the list holds exactly m[0..n), front to back, and both checks pass (or a node read
 * ran out of room: the heap cannot make it now, nothing to compare). */
static int list_is(const uint8_t (*m)[MAXES], uint32_t n)
{
    struct vnv_heap *h = &fx.heap;
    uint32_t got = 0;
    if (vnv_list_length(h, list, &got) != VNV_OK || got != n)
        return 0;
    vnv_obj_t node = VNV_NULL;
    int err = vnv_list_first(h, list, &node);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t v[MAXES];
        if (!err)
            err = vnv_list_get(h, list, node, v);
        last_err = err;
        if (env_error(err))
            return 1;
        if (err || memcmp(v, m[i], es) != 0)
            return 0;
        err = vnv_list_next(h, list, node, &node);
    }
    last_err = err;
    if (env_error(err))
        return 1;
    return !err && vnv_is_null(node) && vnv_list_check(h, list) == VNV_OK &&
           vnv_check(h) == VNV_OK;
}

static void list_matches(void) { ENSURE(list_is((const uint8_t(*)[MAXES])model, len)); }

static void save(void)
{
    memcpy(saved, model, sizeof model);
    saved_len = len;
}

/* A restart: the heap opens, the root names the list, attach finishes any committed
 * operation. */
static void reboot(void)
{
    countdown = 0;
    int err = fx_reboot(&fx);
    last_err = err;
    ENSURE(err == VNV_OK);
    vnv_obj_t r;
    ENSURE(vnv_root(&fx.heap, &r) == VNV_OK && vnv_same(r, list));
    err = vnv_list_attach(&fx.heap, list);
    last_err = err;
    ENSURE(err == VNV_OK);
}

/* After a restart the list holds the last checkpoint's elements. */
static void restarted(void)
{
    reboot();
    memcpy(model, saved, sizeof model);
    len = saved_len;
    list_matches();
}

static void insert_model(uint32_t at, const uint8_t *v)
{
    memmove(model[at + 1], model[at], (len - at) * sizeof model[0]);
    memcpy(model[at], v, MAXES);
    len++;
}

static void erase_model(uint32_t at)
{
    memmove(model[at], model[at + 1], (len - at - 1) * sizeof model[0]);
    len--;
}

/* One list operation (no checkpoint). */
static void list_op(struct input *in, uint32_t op)
{
    struct vnv_heap *h = &fx.heap;
    uint8_t v[MAXES], out[MAXES];
    int err = VNV_OK;
    switch (op) {
    case 0: /* push back / front */
    case 1:
        take_value(in, v);
        if (len == MAXLEN)
            return;
        err = op ? vnv_list_push_front(h, list, v) : vnv_list_push_back(h, list, v);
        last_err = err;
        if (!err)
            insert_model(op ? 0 : len, v);
        break;
    case 2: /* pop front / back */
    case 3:
        err = op == 2 ? vnv_list_pop_front(h, list, out) : vnv_list_pop_back(h, list, out);
        last_err = err;
        if (!len) {
            ENSURE(err == VNV_ERR_INVAL);
            return;
        }
        if (!err) {
            uint32_t at = op == 2 ? 0 : len - 1;
            ENSURE(memcmp(out, model[at], es) == 0);
            erase_model(at);
        }
        break;
    case 4: { /* peek one end, or write into it in place */
        vnv_obj_t node;
        void *p;
        uint32_t which = take(in);
        if (which & 1u) {
            take_value(in, v);
            err = which & 2u ? vnv_list_peek_back_mut(h, list, &node, &p)
                             : vnv_list_peek_front_mut(h, list, &node, &p);
            last_err = err;
            if (!err) {
                memcpy(p, v, es);
                ENSURE(vnv_list_release(h, node) == VNV_OK);
                memcpy(model[which & 2u ? len - 1 : 0], v, MAXES);
            }
        } else {
            err = which & 2u ? vnv_list_peek_back(h, list, out)
                             : vnv_list_peek_front(h, list, out);
            last_err = err;
            if (!err)
                ENSURE(memcmp(out, model[which & 2u ? len - 1 : 0], es) == 0);
        }
        if (!len) {
            ENSURE(err == VNV_ERR_INVAL); /* an empty list has no ends */
            return;
        }
        break;
    }
    default: { /* remove the k-th element, found by a walk */
        if (!len)
            return;
        uint32_t k = take(in) % len;
        vnv_obj_t node;
        err = vnv_list_first(h, list, &node);
        for (uint32_t i = 0; i < k && !err; i++)
            err = vnv_list_next(h, list, node, &node);
        last_err = err;
        if (!err)
            err = vnv_list_remove(h, list, node, out);
        last_err = err;
        if (!err) {
            ENSURE(memcmp(out, model[k], es) == 0);
            erase_model(k);
        }
        break;
    }
    }
    ENSURE(err == VNV_OK || env_error(err));
}

/* The power is cut after 8 * k bytes of the next 1-4 list operations; then the device
 * restarts: the list must hold exactly the last checkpoint's elements. */
static void unannounced_reset(struct input *in, uint32_t a)
{
    uint32_t k = take(in), ops = 1u + (a >> 4) % 4u;
    vnv_emu_cut_power_after(&fx.emu, 8u * (uint64_t)k);
    for (uint32_t i = 0; i < ops && in->n && !vnv_emu_power_is_off(&fx.emu); i++)
        list_op(in, take(in) % 5u);
    restarted();
}

/* A checkpoint requested inside the k-th storage call of the next list operation, then a
 * reset with no checkpoint after it: the list must come back as before the operation or,
 * if the checkpoint came after its commit point, as after it. */
static void interrupted_op(struct input *in)
{
    uint8_t before[MAXLEN][MAXES];
    uint32_t before_len = len;
    memcpy(before, model, sizeof model);
    fired = 0;
    countdown = 1u + take(in) % 16u;
    list_op(in, take(in) % 5u);
    countdown = 0;
    if (!fired)
        return; /* the operation made fewer storage calls */
    reboot();
    if (list_is((const uint8_t(*)[MAXES])model, len)) {
        save();
        return;
    }
    memcpy(model, before, sizeof model);
    len = before_len;
    list_matches();
    save();
}

static void step(struct input *in)
{
    uint32_t a = take(in);
    switch (a % 10u) {
    case 5: /* a checkpoint */
        ENSURE(vnv_checkpoint(&fx.heap) == VNV_OK);
        save();
        break;
    case 6: /* the power-fail interrupt, RAM lost and rebuilt, the program resumes */
        fx.wipe = 1;
        ENSURE(vnv_persist_all() == VNV_OK);
        fx.wipe = 0;
        save();
        list_matches();
        break;
    case 7: /* close and reopen */
        last_err = vnv_close(&fx.heap);
        ENSURE(last_err == VNV_OK);
        save();
        restarted();
        break;
    case 8:
        unannounced_reset(in, a);
        break;
    case 9:
        if (a & 16u)
            interrupted_op(in);
        else
            list_matches();
        break;
    default:
        list_op(in, a % 5u);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    es = 1u + take(&in) % MAXES;
    len = 0;
    fx_init(&fx, NV, RAM, DIRTY);
    inner = fx.storage;
    fx.storage.read = w_read;
    fx.storage.write = w_write;
    fx.storage.writev = inner.writev ? w_writev : NULL;
    countdown = 0;
    if (vnv_format(&fx.heap, &fx.cfg) != VNV_OK ||
        vnv_list_create(&fx.heap, es, &list) != VNV_OK ||
        vnv_set_root(&fx.heap, list) != VNV_OK || vnv_checkpoint(&fx.heap) != VNV_OK)
        abort();
    save();
    for (int n = 0; in.n && n < 2000; n++)
        step(&in);
    list_matches();
    fx_free(&fx);
    return 0;
}
