/*
 * b_queue.c - the queue application (notes §11.7): a FIFO of 256-byte items, pre-filled with
 * `queue_length` items, then `iterations` x (produce one + consume one) measured.
 *
 *   queue_ram      ring buffer of length + 1 slots in RAM (fits the 4 KiB limit up to 14)
 *   queue_storage  ring buffer directly on the emulated FRAM (write 256 B, read 256 B)
 *   queue          vnv_list (include/vnvheap/list.h) on vnvheap, 4 KiB of RAM for the heap
 *                  (buffer = 4096 - RAM overhead), dirty limit = the whole buffer
 *   queue_slist    a minimal singly linked FIFO on the public vnvheap API (bench-local, not
 *                  crash-consistent: head/tail live in RAM): separates what the heap costs
 *                  from what the container's design costs
 * The policy comes from --policy. data / ops = one produce + consume.
 */
#include <string.h>

#include "bench.h"
#include "vnvheap/list.h"

#define ITEM 256u
#define RAM_LIMIT 4096u
#define MAXLEN 32u

enum { Q_RAM, Q_STORAGE, Q_LIST, Q_SLIST };

struct queue {
    struct bench_ctx *c;
    struct vnv_storage st;
    struct vnv_config cfg;
    uint32_t len, iterations, buffer, overhead;
    int variant;
    /* ring (RAM or storage) */
    uint32_t head, tail, slots;
    uint8_t *ring;
    /* vnv_list */
    vnv_obj_t list;
    /* slist */
    vnv_obj_t shead, stail;
    uint32_t scount;
    _Alignas(8) uint8_t item[ITEM];
    _Alignas(8) uint8_t out[ITEM];
    char opts[BENCH_OPT_MAX];
};
static struct queue Q;

static const uint32_t rv32_lens[] = {0, 4, 8, 12, 13, 14, 16, 24, 32};

static unsigned q_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)f;
    return BENCH_RV32 && !c->full ? (unsigned)(sizeof rv32_lens / sizeof rv32_lens[0])
                                  : MAXLEN + 1u;
}

static uint32_t q_len(struct bench_ctx *c, unsigned p)
{
    return BENCH_RV32 && !c->full ? rv32_lens[p] : p;
}

/* ---- ring buffers --------------------------------------------------------------------------- */

static int ring_put(struct queue *q)
{
    int err = 0;
    if (q->variant == Q_RAM)
        memcpy(q->ring + q->tail * ITEM, q->item, ITEM);
    else
        err = vnv_storage_write(&q->st, q->tail * ITEM, q->item, ITEM);
    q->tail = (q->tail + 1u) % q->slots;
    return err;
}

static int ring_get(struct queue *q)
{
    int err = 0;
    if (q->variant == Q_RAM)
        memcpy(q->out, q->ring + q->head * ITEM, ITEM);
    else
        err = vnv_storage_read(&q->st, q->head * ITEM, q->out, ITEM);
    q->head = (q->head + 1u) % q->slots;
    return err;
}

/* ---- singly linked FIFO on the public API: node = {next handle, pad, item} ------------------- */

#define SNODE (8u + ITEM)

static int slist_push(struct queue *q)
{
    _Alignas(8) uint8_t node[SNODE];
    memset(node, 0, 8);
    memcpy(node + 8, q->item, ITEM);
    vnv_obj_t n;
    int err = vnv_alloc(&bench_heap, SNODE, node, &n);
    if (err)
        return err;
    if (q->scount) { /* link the old tail to it */
        void *p;
        err = vnv_get_mut(&bench_heap, q->stail, &p);
        if (err)
            return err;
        memcpy(p, &n.id, 4);
        err = vnv_release(&bench_heap, q->stail);
    } else {
        q->shead = n;
    }
    q->stail = n;
    q->scount++;
    return err;
}

static int slist_pop(struct queue *q)
{
    const void *p;
    vnv_obj_t n = q->shead;
    int err = vnv_get(&bench_heap, n, &p);
    if (err)
        return err;
    memcpy(&q->shead.id, p, 4);
    memcpy(q->out, (const uint8_t *)p + 8, ITEM);
    err = vnv_release(&bench_heap, n);
    if (!err)
        err = vnv_free(&bench_heap, n);
    q->scount--;
    return err;
}

/* ---- the benchmark --------------------------------------------------------------------------- */

static int produce(struct queue *q, uint32_t i)
{
    memset(q->item, (int)(i & 0xFFu), ITEM);
    switch (q->variant) {
    case Q_RAM:
    case Q_STORAGE:
        return ring_put(q);
    case Q_LIST:
        return vnv_list_push_back(&bench_heap, q->list, q->item);
    default:
        return slist_push(q);
    }
}

static int consume(struct queue *q)
{
    switch (q->variant) {
    case Q_RAM:
    case Q_STORAGE:
        return ring_get(q);
    case Q_LIST:
        return vnv_list_pop_front(&bench_heap, q->list, q->out);
    default:
        return slist_pop(q);
    }
}

static int q_prepare(void *arg, unsigned rep)
{
    struct queue *q = arg;
    (void)rep;
    int err = 0;
    q->head = q->tail = 0;
    q->scount = 0;
    switch (q->variant) {
    case Q_RAM:
        q->ring = bench_scratch;
        break;
    case Q_STORAGE:
        bench_storage(q->c, 64 * 1024, &q->st);
        break;
    default:
        bench_storage(q->c, 64 * 1024, &q->st);
        bench_heap_config(q->c, &q->cfg, &q->st, bench_scratch, q->buffer, q->buffer);
        err = vnv_format(&bench_heap, &q->cfg);
        if (!err && q->variant == Q_LIST)
            err = vnv_list_create(&bench_heap, ITEM, &q->list);
        break;
    }
    for (uint32_t i = 0; !err && i < q->len; i++)
        err = produce(q, i);
    return err;
}

static int q_run(void *arg, unsigned rep)
{
    struct queue *q = arg;
    (void)rep;
    int err = 0;
    for (uint32_t i = 0; !err && i < q->iterations; i++) {
        err = produce(q, q->len + i);
        if (!err)
            err = consume(q);
    }
    return err;
}

static void q_extra(void *arg, struct jw *w)
{
    struct queue *q = arg;
    if (q->variant == Q_LIST || q->variant == Q_SLIST) {
        struct vnv_stats s;
        vnv_stats(&bench_heap, &s);
        jw_ku64(w, "resident_objects", s.resident_objects);
        jw_ku64(w, "loads", s.loads);
        jw_ku64(w, "flushes", s.flushes);
        jw_ku64(w, "evictions", s.evictions);
        jw_ku64(w, "peak_checkpoint_bytes", s.peak_checkpoint_bytes);
    }
}

static int q_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct queue *q = &Q;
    memset(q, 0, sizeof *q);
    q->c = c;
    q->variant = f->variant;
    q->len = q_len(c, point);
    q->iterations = BENCH_RV32 && !c->full ? 100u : c->full ? 10000u : 1000u;
    q->slots = q->len + 1u;
    struct jw w;
    jw_init(&w, q->opts, sizeof q->opts);
    jw_obj_begin(&w);
    jw_ku64(&w, "object_size", ITEM);
    jw_ku64(&w, "queue_length", q->len);
    jw_ku64(&w, "iterations", q->iterations);
    switch (q->variant) {
    case Q_RAM:
        q->overhead = (uint32_t)(3u * sizeof(uint32_t) + sizeof(void *));
        jw_ku64(&w, "buffer_size", q->slots * ITEM);
        jw_ku64(&w, "ram_overhead", q->overhead);
        jw_kbool(&w, "fits_ram_limit", q->slots * ITEM + q->overhead <= RAM_LIMIT);
        break;
    case Q_STORAGE:
        jw_ku64(&w, "ram_overhead", (uint32_t)(3u * sizeof(uint32_t) + sizeof(q->st)));
        break;
    default:
        /* The heap's control block and the container's handle(s) come out of the 4 KiB. */
        q->overhead = (uint32_t)(sizeof(struct vnv_heap) +
                                 (q->variant == Q_LIST ? sizeof(vnv_obj_t)
                                                       : 2u * sizeof(vnv_obj_t) + 4u));
        q->buffer = RAM_LIMIT - q->overhead;
        bench_heap_config(c, &q->cfg, &q->st, bench_scratch, q->buffer, q->buffer);
        jw_ku64(&w, "buffer_size", q->buffer);
        jw_ku64(&w, "ram_overhead", q->overhead);
        jw_ku64(&w, "max_dirty", q->buffer);
        bench_modules_json(&w, &q->cfg);
        break;
    }
    jw_obj_end(&w);
    struct bench_spec s = {.name = f->name, .options = q->opts, .reps = bench_reps(c, 1, 1),
                           .cold = 0, .ops = q->iterations, .prepare = q_prepare, .run = q_run,
                           .extra = q_extra};
    return bench_measure(c, &s, q);
}

const struct bench_family bench_queue_families[] = {
    {"queue_ram", "app", "FIFO of 256 B items in a RAM ring buffer", Q_RAM, q_points, q_point},
    {"queue_storage", "app", "FIFO of 256 B items in a ring buffer on storage", Q_STORAGE,
     q_points, q_point},
    {"queue", "app", "FIFO of 256 B items: vnv_list on vnvheap, 4 KiB RAM", Q_LIST, q_points,
     q_point},
    {"queue_slist", "app", "FIFO of 256 B items: bench-local singly linked list, 4 KiB RAM",
     Q_SLIST, q_points, q_point},
};
const unsigned bench_queue_count = sizeof bench_queue_families / sizeof bench_queue_families[0];
