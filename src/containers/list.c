/*
 * list.c - vnv_list: doubly linked list of heap objects (see include/vnvheap/list.h).
 *
 * Uses only the public heap API. The one idea: every update
 *   1. pins (and so loads, and charges to the budget) every object it will modify; any
 *      failure here releases what was pinned and returns: nothing was changed;
 *   2. writes an intent record into the header: the new head, tail and length and the (at
 *      most two) node links to set, then commits it with one 32-bit store of `op`;
 *   3. applies the intent (idempotent plain stores into the pinned objects);
 *   4. stores op = NONE (or, for a removal, op = FREE, frees the node, then op = NONE).
 * Steps 2-4 are RAM stores that cannot fail, so an error can only happen before the commit
 * point or in the final vnv_free (which leaves the heap unchanged when it fails; the unlink
 * is then undone by a second committed intent that relinks the node). A checkpoint that
 * lands between any two stores captures either op = NONE (nothing happened) or a committed
 * intent, which recover() redoes after a restart.
 *
 * End links: the head's prev and the tail's next are "don't care" (the header names the
 * ends), so taking a node off an end touches no neighbour, and a push sets the old end's
 * link with vnv_write: a non-resident neighbour is written through, never loaded. A streaming
 * queue longer than RAM therefore costs one store and one load per item, not three loads.
 *
 * Loops: destroy and check walk at most `length` (+ 1) nodes; recover runs at most 3 rounds.
 */
#include "vnvheap/common.h"
#if !VNV_MINIMAL /* the containers: not in the minimal profile */

#include <string.h>

#include "vnvheap/list.h"

#if !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
/* Orders our stores against the power-failure interrupt; emits no instruction. */
#define FENCE() atomic_signal_fence(memory_order_seq_cst)
#else
#define FENCE() __asm__ __volatile__("" ::: "memory")
#endif

#ifndef VNV_LIST_STEP_HOOKS
#define VNV_LIST_STEP_HOOKS 1
#endif

#define L_MAGIC 0x314C4E56u /* "VNL1" */
#define N_MAGIC 0x6E4C4E56u /* "VNLn" */

/* header words; a handle field takes two (low word first, hget/hput) */
enum {
    H_MAGIC = 0,
    H_ESIZE = 1,
    H_LEN = 2,
    H_OP = 3,
    H_ILEN = 4,    /* intent: new length (with H_IHEAD, H_ITAIL) */
    H_ECHECK = 5,  /* ~H_ESIZE: a damaged element size never sizes a copy */
    H_HEAD = 6,
    H_TAIL = 8,
    H_NODE = 10,   /* node being linked / removed (freed after an UNLINK, by FREE, by DESTROY) */
    H_IHEAD = 12,  /* intent: new head, tail */
    H_ITAIL = 14,
    H_IA = 16,     /* intent: node whose next becomes H_IANEXT (0 = none) */
    H_IANEXT = 18, /* (DESTROY: the next head) */
    H_IC = 20,     /* intent: node whose prev becomes H_ICPREV (0 = none) */
    H_ICPREV = 22,
    H_WORDS = 24
};
/* node words (links: handles, two words each; owner: the low word of the list's handle,
 * its home unit and the low tag bits, enough to tell the lists apart); the value follows,
 * 8-byte aligned */
enum { N_PREV = 0, N_NEXT = 2, N_OWNER = 4, N_TAG = 5, N_WORDS = 6 };

/* op values: distinct non-trivial constants, anything else is CORRUPT */
#define OP_NONE 0u
#define OP_LINK 0x4B4E494Cu    /* apply the intent, then NONE (push; undo of a remove) */
#define OP_UNLINK 0x4B4E4C55u  /* apply the intent, then FREE */
#define OP_FREE 0x45455246u    /* free H_NODE (if still ours), then NONE */
#define OP_DESTROY 0x59545344u /* being destroyed: only destroy (and check) proceed */

typedef char vnv_list_header_size_ok[(H_WORDS * 4 == VNV_LIST_HEADER_SIZE) ? 1 : -1];
typedef char vnv_list_node_size_ok[(N_WORDS * 4 == VNV_LIST_NODE_OVERHEAD) ? 1 : -1];

#if VNV_LIST_STEP_HOOKS
static vnv_list_step_fn step_fn;
static void *step_arg;
#define STEP()                                                                             \
    do {                                                                                   \
        if (step_fn)                                                                       \
            step_fn(step_arg);                                                             \
    } while (0)
void vnv_list_set_step_hook(vnv_list_step_fn fn, void *arg)
{
    step_fn = NULL;
    step_arg = arg;
    step_fn = fn;
}
#else
#define STEP() ((void)0)
void vnv_list_set_step_hook(vnv_list_step_fn fn, void *arg)
{
    (void)fn;
    (void)arg;
}
#endif

/* One aligned 32-bit store that an interrupt sees entirely or not at all. */
static void put(uint32_t *obj, unsigned word, uint32_t v)
{
    *(volatile uint32_t *)&obj[word] = v;
    STEP();
}

/* The commit store: everything before it is visible before it, everything after after. */
static void commit(uint32_t *hp, uint32_t op)
{
    FENCE();
    *(volatile uint32_t *)&hp[H_OP] = op;
    FENCE();
    STEP();
}

/* A handle field: two aligned 32-bit stores. An interrupt may see half of one only while
 * the op word makes the field either unused (intent before its commit) or redone after a
 * restart (apply after the commit), so no checkpoint depends on a torn field. */
static uint64_t hget(const uint32_t *obj, unsigned word)
{
    return (uint64_t)obj[word] | (uint64_t)obj[word + 1u] << 32;
}
static void hput(uint32_t *obj, unsigned word, uint64_t v)
{
    *(volatile uint32_t *)&obj[word] = (uint32_t)v;
    *(volatile uint32_t *)&obj[word + 1u] = (uint32_t)(v >> 32);
    STEP();
}

/* A handle field that often holds its value already (an intent's IA / IC, mostly 0): the
 * stores only when it changes. */
static void hset(uint32_t *obj, unsigned word, uint64_t v)
{
    if (hget(obj, word) != v)
        hput(obj, word, v);
}

static vnv_obj_t obj(uint64_t id) { return (vnv_obj_t){id}; }

static int op_known(uint32_t op)
{
    return op == OP_NONE || op == OP_LINK || op == OP_UNLINK || op == OP_FREE ||
           op == OP_DESTROY;
}

static int node_ours(const uint32_t *n, vnv_obj_t list)
{
    return n[N_TAG] == N_MAGIC && n[N_OWNER] == (uint32_t)list.id;
}

/* After an exact-size pin of `list`: is it a list header? INVAL if not, CORRUPT if it is
 * one but its fields are impossible. */
static int hdr_valid(const uint32_t *hp)
{
    if (hp[H_MAGIC] != L_MAGIC)
        return VNV_ERR_INVAL;
    if (hp[H_ESIZE] == 0 || hp[H_ESIZE] > VNV_LIST_MAX_ELEM || hp[H_ECHECK] != ~hp[H_ESIZE] ||
        !op_known(hp[H_OP]))
        return VNV_ERR_CORRUPT;
    return VNV_OK;
}

/* Copy the header (reader pin, released again). */
static int hdr_copy(struct vnv_heap *h, vnv_obj_t list, uint32_t *c)
{
    const void *p;
    if (!h || vnv_is_null(list))
        return VNV_ERR_INVAL;
    int err = vnv_get_exact(h, list, VNV_LIST_HEADER_SIZE, &p);
    if (err)
        return err;
    err = hdr_valid(p);
    if (!err)
        memcpy(c, p, VNV_LIST_HEADER_SIZE);
    (void)vnv_release(h, list);
    return err;
}

/* Writer pin of the header; released again on error. `inline` here, in apply and in
 * new_node: they are on every push and pop, where an optimising build (-O2, -O3) then
 * saves their frames and knows the header pointer (-Os keeps one copy of each). */
static inline int hdr_pin(struct vnv_heap *h, vnv_obj_t list, uint32_t **hp)
{
    void *p;
    if (!h || vnv_is_null(list))
        return VNV_ERR_INVAL;
    int err = vnv_get_mut_exact(h, list, VNV_LIST_HEADER_SIZE, &p);
    if (err)
        return err;
    err = hdr_valid(p);
    if (err) {
        (void)vnv_release(h, list);
        return err;
    }
    *hp = p;
    return VNV_OK;
}

/* A node handle the header names that the heap refuses (INVAL) is damage - unless the heap
 * itself is no longer open (it closed itself inside this call): then INVAL, not CORRUPT,
 * which tells never to format without deciding to lose the data. */
static int dead_node(struct vnv_heap *h, int err)
{
    return err == VNV_ERR_INVAL && vnv_is_open(h) ? VNV_ERR_CORRUPT : err;
}

/* Is `node` still a node of this list? Its owner and tag words only (a node that is not
 * resident is read, not loaded). OK, CORRUPT, or the heap's error for a dead handle. */
static int node_owned(struct vnv_heap *h, vnv_obj_t list, uint64_t node)
{
    uint32_t id[N_WORDS];
    int err = vnv_read(h, obj(node), N_OWNER * 4u, &id[N_OWNER], 2u * 4u);
    return err ? err : node_ours(id, list) ? VNV_OK : VNV_ERR_CORRUPT;
}

/* Set one link word of a node of this list (check its owner, write the link: a node that
 * is not resident is written through, not loaded). */
static inline int set_link(struct vnv_heap *h, vnv_obj_t list, uint64_t node, unsigned word,
                           uint64_t v)
{
    int err = node_owned(h, list, node);
    uint32_t w[2] = {(uint32_t)v, (uint32_t)(v >> 32)};
    if (!err)
        err = vnv_write(h, obj(node), word * 4u, w, sizeof w);
    STEP();
    return dead_node(h, err);
}

/* Free `node` if it still is a node of this list, whose element size is `es` (a freed
 * handle, or one whose home now holds an object of another size, is INVAL: already done). */
static int free_if_ours(struct vnv_heap *h, vnv_obj_t list, uint32_t es, uint64_t node)
{
    const void *p;
    int err = vnv_get_exact(h, obj(node), VNV_LIST_NODE_OVERHEAD + es, &p);
    if (err == VNV_ERR_INVAL)
        return VNV_OK;
    if (err)
        return err;
    int ours = node_ours(p, list);
    (void)vnv_release(h, obj(node));
    if (!ours)
        return VNV_OK; /* the home was reused by something else: not ours to free */
    err = vnv_free(h, obj(node));
    STEP();
    return err == VNV_ERR_INVAL ? VNV_OK : err;
}

/* Apply a committed intent to the pinned objects (ap: node H_IA, cp: node H_IC). */
static inline void apply(uint32_t *hp, uint32_t *ap, uint32_t *cp)
{
    if (ap)
        hput(ap, N_NEXT, hget(hp, H_IANEXT));
    if (cp)
        hput(cp, N_PREV, hget(hp, H_ICPREV));
    hput(hp, H_HEAD, hget(hp, H_IHEAD));
    hput(hp, H_TAIL, hget(hp, H_ITAIL));
    put(hp, H_LEN, hp[H_ILEN]);
}

/* Finish an interrupted update (header writer-pinned). Leaves OP_NONE or OP_DESTROY, or
 * returns the error with the intent still committed (retried by the next call). */
static int recover_op(struct vnv_heap *h, vnv_obj_t list, uint32_t *hp)
{
    for (int round = 0; round < 3; round++) {
        uint32_t op = hp[H_OP];
        if (op == OP_NONE || op == OP_DESTROY)
            return VNV_OK;
        int err = VNV_OK;
        if (op == OP_LINK || op == OP_UNLINK) {
            if (hget(hp, H_IA))
                err = set_link(h, list, hget(hp, H_IA), N_NEXT, hget(hp, H_IANEXT));
            if (!err && hget(hp, H_IC))
                err = set_link(h, list, hget(hp, H_IC), N_PREV, hget(hp, H_ICPREV));
            if (err)
                return err;
            apply(hp, NULL, NULL);
            commit(hp, op == OP_UNLINK ? OP_FREE : OP_NONE);
        } else if (op == OP_FREE) {
            err = free_if_ours(h, list, hp[H_ESIZE], hget(hp, H_NODE));
            if (err)
                return err;
            commit(hp, OP_NONE);
        } else {
            return VNV_ERR_CORRUPT;
        }
    }
    return VNV_ERR_CORRUPT;
}

/* The common case, nothing to finish, without a call. */
static inline int recover(struct vnv_heap *h, vnv_obj_t list, uint32_t *hp)
{
    return (hp[H_OP] == OP_NONE || hp[H_OP] == OP_DESTROY) ? VNV_OK : recover_op(h, list, hp);
}

/* Header copy for readers: an interrupted link/unlink is finished first (only possible
 * after a restart without attach); FREE does not change what readers see. */
static int hdr_read(struct vnv_heap *h, vnv_obj_t list, uint32_t *c)
{
    int err = hdr_copy(h, list, c);
    if (err)
        return err;
    if (c[H_OP] == OP_DESTROY)
        return VNV_ERR_INVAL;
    if (c[H_OP] != OP_LINK && c[H_OP] != OP_UNLINK)
        return VNV_OK;
    uint32_t *hp;
    err = hdr_pin(h, list, &hp);
    if (err)
        return err;
    err = recover(h, list, hp);
    if (!err)
        memcpy(c, hp, VNV_LIST_HEADER_SIZE);
    (void)vnv_release(h, list);
    return err;
}

/* ---- create, attach, destroy ----------------------------------------------------------------- */

int vnv_list_create(struct vnv_heap *h, size_t elem_size, vnv_obj_t *list)
{
    if (!h || !list || elem_size == 0 || elem_size > VNV_LIST_MAX_ELEM)
        return VNV_ERR_INVAL;
    uint32_t init[H_WORDS];
    memset(init, 0, sizeof init);
    init[H_MAGIC] = L_MAGIC;
    init[H_ESIZE] = (uint32_t)elem_size;
    init[H_ECHECK] = ~(uint32_t)elem_size;
    return vnv_alloc(h, sizeof init, init, list);
}

int vnv_list_attach(struct vnv_heap *h, vnv_obj_t list)
{
    uint32_t c[H_WORDS];
    int err = hdr_copy(h, list, c);
    if (err)
        return err;
    if (c[H_OP] == OP_DESTROY)
        return VNV_ERR_INVAL;
    if (c[H_OP] == OP_NONE)
        return VNV_OK;
    uint32_t *hp;
    err = hdr_pin(h, list, &hp);
    if (err)
        return err;
    err = recover(h, list, hp);
    (void)vnv_release(h, list);
    return err;
}

int vnv_list_destroy(struct vnv_heap *h, vnv_obj_t list)
{
    uint32_t *hp;
    int err = hdr_pin(h, list, &hp);
    if (err)
        return err;
    err = recover(h, list, hp);
    if (!err && hp[H_OP] != OP_DESTROY) {
        hput(hp, H_NODE, 0);
        commit(hp, OP_DESTROY);
    }
    /* H_NODE != 0: that node was (being) taken off the front and is (being) freed;
     * H_IANEXT is the head that follows it. H_LEN stays an upper bound of the nodes left. */
    uint32_t bound = hp[H_LEN];
    for (uint32_t i = 0; !err && i <= bound + 1u; i++) {
        uint64_t x = hget(hp, H_NODE);
        if (x) {
            if (hget(hp, H_HEAD) == x)
                hput(hp, H_HEAD, hget(hp, H_IANEXT));
            err = free_if_ours(h, list, hp[H_ESIZE], x);
            if (err)
                break;
            hput(hp, H_NODE, 0);
        }
        x = hget(hp, H_HEAD);
        if (!x)
            break;
        const void *p;
        err = vnv_get_exact(h, obj(x), VNV_LIST_NODE_OVERHEAD + hp[H_ESIZE], &p);
        if (err) {
            err = dead_node(h, err);
            break;
        }
        const uint32_t *n = p;
        uint64_t next = x == hget(hp, H_TAIL) ? 0 : hget(n, N_NEXT); /* tail's next: stale */
        int ours = node_ours(n, list);
        (void)vnv_release(h, obj(x));
        if (!ours) {
            err = VNV_ERR_CORRUPT;
            break;
        }
        hput(hp, H_IANEXT, next);
        FENCE();
        hput(hp, H_NODE, x); /* commit of this step (a torn value names no node of ours) */
        FENCE();
        hput(hp, H_HEAD, next);
        if (hp[H_LEN])
            put(hp, H_LEN, hp[H_LEN] - 1u);
        err = vnv_free(h, obj(x));
        STEP();
        if (err)
            break;
        hput(hp, H_NODE, 0);
    }
    if (!err && (hget(hp, H_HEAD) || hget(hp, H_NODE)))
        err = VNV_ERR_CORRUPT; /* more nodes than the length allowed: a cycle */
    (void)vnv_release(h, list);
    if (!err) {
        err = vnv_free(h, list);
        STEP();
    }
    return err;
}

/* ---- push ------------------------------------------------------------------------------------ */

/* Allocate a complete node; the caller holds its neighbours. */
static inline int new_node(struct vnv_heap *h, vnv_obj_t list, uint32_t es, uint64_t prev,
                           uint64_t next, const void *value, vnv_obj_t *out)
{
    uint32_t links[N_WORDS];
    links[N_PREV] = (uint32_t)prev;
    links[N_PREV + 1] = (uint32_t)(prev >> 32);
    links[N_NEXT] = (uint32_t)next;
    links[N_NEXT + 1] = (uint32_t)(next >> 32);
    links[N_OWNER] = (uint32_t)list.id;
    links[N_TAG] = N_MAGIC;
    /* links + value in one gathered allocation: the node is complete from its first byte
     * and never needs loading back (a streaming queue writes each item once) */
    struct vnv_iovec init[2] = {{links, sizeof links}, {value, es}};
    if (value)
        return vnv_alloc_gather(h, init, 2, out);
    int err = vnv_alloc(h, VNV_LIST_NODE_OVERHEAD + es, NULL, out); /* zero value */
    if (!err)
        err = vnv_write(h, *out, 0, links, sizeof links);
    if (err && !vnv_is_null(*out))
        (void)vnv_free(h, *out); /* if even this fails, the node leaks (unreachable) */
    STEP();
    return err;
}

/* Before a pop loads the end node `x`: a streaming queue past RAM keeps its newest node
 * in RAM, so the next push links it there; the node next to it, which the last push
 * linked, is the one to leave RAM (one write of it, header and all) when loading `x`
 * would otherwise have the policy pick a victim - perhaps an item that would have been
 * popped from RAM. Nothing moves when `x` is resident or RAM has room: a list that fits
 * in RAM costs no storage traffic. Best effort: a failed or refused unload (IO, pinned,
 * a member of the open group) leaves that node resident, and the load makes room as
 * usual. `far`: the other end's handle, not x; x not resident (pop_needs_room, in the
 * caller: the usual early-outs without a call); depth: vnv_atomic_depth. */
/* RAM a grouped pop's and the next grouped push's undo entries take: the header's ends
 * (32 bytes) and a link */
#define GROUP_UNDO_RAM (VNV_UNDO_ENTRY_RAM(32u) + VNV_UNDO_ENTRY_RAM(8u))

static void make_room_for_pop(struct vnv_heap *h, uint64_t x, uint64_t far, int front,
                              uint32_t es, int depth)
{
    uint32_t w[2], need = VNV_LIST_NODE_OVERHEAD + es;
    if (depth)
        need += GROUP_UNDO_RAM;
    if (!vnv_is_resident(h, obj(far)) || vnv_has_room(h, need) ||
        vnv_read(h, obj(far), (front ? N_PREV : N_NEXT) * 4u, w, sizeof w))
        return;
    uint64_t inner = (uint64_t)w[1] << 32 | w[0];
    if (inner && inner != x && vnv_is_resident(h, obj(inner)))
        (void)vnv_unload(h, obj(inner));
}

/* Cheapest first: one node (the other end is x), x resident (one index lookup; room, the
 * next test, walks the RAM allocator's holes). */
static inline int pop_needs_room(const struct vnv_heap *h, uint64_t x, uint64_t far)
{
    return far != x && !vnv_is_resident(h, obj(x));
}

/* ---- inside a failure-atomic group ----------------------------------------------------------
 * A group makes an operation all-or-nothing by itself (a restart rolls it back, a resume
 * continues it), so push and pop at the ends skip the intent protocol: they change only
 * the words that change, with small vnv_writes, which the group keeps as undo entries of a
 * few bytes instead of a pre-image of the whole header (RAM the group would hold: the
 * grouped queue would spill to storage one item earlier). A header with an operation
 * pending takes the ordinary path, which finishes it first. On an error nothing is left
 * changed, except where undoing it failed too: then abort the group. */

/* Words H_LEN .. H_TAIL of the header copy `c`, written back in one vnv_write (32 bytes:
 * one undo entry in a group). */
static int hdr_put_ends(struct vnv_heap *h, vnv_obj_t list, const uint32_t *c)
{
    return vnv_write(h, list, H_LEN * 4u, &c[H_LEN], (H_TAIL + 2u - H_LEN) * 4u);
}

/* Called in a group only (vnv_atomic_depth, asked once by the caller: an out-of-line call).
 * 1: not applicable (an operation pending): take the ordinary path. */
static int push_grouped(struct vnv_heap *h, vnv_obj_t list, const void *value, int front)
{
    uint32_t c[H_WORDS];
    if (hdr_copy(h, list, c) || c[H_OP] != OP_NONE)
        return 1;
    if (c[H_LEN] == UINT32_MAX)
        return VNV_ERR_CORRUPT; /* as the ordinary push: the length would wrap */
    uint64_t end = front ? hget(c, H_HEAD) : hget(c, H_TAIL);
    vnv_obj_t n = VNV_NULL;
    int err = new_node(h, list, c[H_ESIZE], front ? 0 : end, front ? end : 0, value, &n);
    if (err)
        return err;
    if (end) /* (the old end's outer link is don't-care until this one names it) */
        err = set_link(h, list, end, front ? N_PREV : N_NEXT, n.id);
    c[H_LEN]++;
    if (front || !end) {
        c[H_HEAD] = (uint32_t)n.id;
        c[H_HEAD + 1] = (uint32_t)(n.id >> 32);
    }
    if (!front || !end) {
        c[H_TAIL] = (uint32_t)n.id;
        c[H_TAIL + 1] = (uint32_t)(n.id >> 32);
    }
    if (!err)
        err = hdr_put_ends(h, list, c);
    /* allocated in the group: gone at once, unless the free finds the budget full too (a
     * node that went home needs a record of its own): then the group goes back to its
     * start, node included (else it would stay allocated, in no list: a leak) */
    if (err && vnv_free(h, n))
        (void)vnv_atomic_abort(h);
    return err;
}

/* Pop an end, in a group; 1: not applicable, as above. The header stays pinned while the
 * node loads (making room must not evict it); its words change after the node is copied
 * out. */
static int pop_grouped(struct vnv_heap *h, vnv_obj_t list, int front, void *out)
{
    uint32_t c[H_WORDS], was[H_WORDS];
    const void *hv;
    if (vnv_get_exact(h, list, VNV_LIST_HEADER_SIZE, &hv))
        return 1;
    int err = hdr_valid(hv);
    if (!err)
        memcpy(c, hv, sizeof c);
    uint64_t hd = err ? 0 : hget(c, H_HEAD), tl = err ? 0 : hget(c, H_TAIL);
    uint64_t x = front ? hd : tl;
    if (err || c[H_OP] != OP_NONE || !x) {
        (void)vnv_release(h, list);
        return err || c[H_OP] != OP_NONE ? 1 : VNV_ERR_INVAL; /* (1: the ordinary path) */
    }
    if (pop_needs_room(h, x, front ? tl : hd))
        make_room_for_pop(h, x, front ? tl : hd, front, c[H_ESIZE], 1);
    const void *xv;
    err = vnv_get_exact(h, obj(x), VNV_LIST_NODE_OVERHEAD + c[H_ESIZE], &xv);
    (void)vnv_release(h, list);
    if (err)
        return dead_node(h, err); /* the header names a dead node */
    const uint32_t *xp = xv;
    /* the new end: the ends' outer links are don't-care, the header says which is an end */
    uint64_t next = hd == tl ? 0 : front ? hget(xp, N_NEXT) : hget(xp, N_PREV);
    if (!node_ours(xp, list) || (hd != tl && !next) || c[H_LEN] == 0)
        err = VNV_ERR_CORRUPT;
    if (!err && out)
        memcpy(out, &xp[N_WORDS], c[H_ESIZE]);
    (void)vnv_release(h, obj(x));
    if (err)
        return err;
    if (!vnv_is_dirty(h, obj(x))) /* its home has it: give its RAM to the header's undo */
        (void)vnv_unload(h, obj(x)); /* entry (the free needs none: access.c, free_ghost) */
    memcpy(was, c, sizeof was);
    c[H_LEN]--;
    if (front || hd == tl) {
        c[H_HEAD] = (uint32_t)next;
        c[H_HEAD + 1] = (uint32_t)(next >> 32);
    }
    if (!front || hd == tl) {
        c[H_TAIL] = (uint32_t)next;
        c[H_TAIL + 1] = (uint32_t)(next >> 32);
    }
    err = hdr_put_ends(h, list, c);
    if (!err) {
        err = vnv_free(h, obj(x));
        /* the node stays: name it again; that write needs an undo entry of its own, and
         * when the budget that refused the free refuses it too, the group goes back to
         * its start, list included (else the node would be out of the list, not freed) */
        if (err && hdr_put_ends(h, list, was))
            (void)vnv_atomic_abort(h);
    }
    return err;
}

static int push(struct vnv_heap *h, vnv_obj_t list, const void *value, int front)
{
    int g = vnv_atomic_depth(h) ? push_grouped(h, list, value, front) : 1;
    if (g <= 0)
        return g;
    uint32_t *hp;
    int err = hdr_pin(h, list, &hp);
    if (err)
        return err;
    err = recover(h, list, hp);
    if (!err && hp[H_OP] == OP_DESTROY)
        err = VNV_ERR_INVAL;
    if (!err && hp[H_LEN] == UINT32_MAX)
        err = VNV_ERR_CORRUPT; /* no heap holds that many nodes: a damaged length */
    /* (the old end must be ours: set_link checks that without loading it, and a push it
     * refuses backs out below) */
    uint64_t end = front ? hget(hp, H_HEAD) : hget(hp, H_TAIL);
    vnv_obj_t n = VNV_NULL;
    if (!err)
        err = new_node(h, list, hp[H_ESIZE], front ? 0 : end, front ? end : 0, value, &n);
    if (!err) {
        STEP();
        uint64_t head = hget(hp, H_HEAD), tail = hget(hp, H_TAIL);
        uint32_t len = hp[H_LEN];
        /* intent (invisible while op == NONE), then commit */
        hput(hp, H_NODE, n.id);
        hput(hp, H_IHEAD, front || !end ? n.id : head);
        hput(hp, H_ITAIL, !front || !end ? n.id : tail);
        put(hp, H_ILEN, len + 1u);
        hset(hp, H_IA, front ? 0 : end); /* (H_IANEXT / H_ICPREV count only beside a node) */
        if (!front && end)
            hput(hp, H_IANEXT, n.id);
        hset(hp, H_IC, front ? end : 0);
        if (front && end)
            hput(hp, H_ICPREV, n.id);
        commit(hp, OP_LINK);
        /* the old end's link: a write-through when it is not resident (no load) */
        if (end)
            err = set_link(h, list, end, front ? N_PREV : N_NEXT, n.id);
        if (!err) {
            apply(hp, NULL, NULL);
            commit(hp, OP_NONE);
        } else {
            /* Back out: the header still names the old ends (the old end's outer link is
             * don't-care whatever the failed write left there); the new node goes. */
            hput(hp, H_IHEAD, head);
            hput(hp, H_ITAIL, tail);
            put(hp, H_ILEN, len);
            hset(hp, H_IA, 0);
            hset(hp, H_IC, 0);
            commit(hp, OP_LINK);
            apply(hp, NULL, NULL);
            commit(hp, OP_NONE);
            (void)vnv_free(h, n); /* if this fails too, the node leaks (unreachable) */
            STEP();
        }
    }
    (void)vnv_release(h, list);
    return err;
}

int vnv_list_push_back(struct vnv_heap *h, vnv_obj_t list, const void *value)
{
    return push(h, list, value, 0);
}

int vnv_list_push_front(struct vnv_heap *h, vnv_obj_t list, const void *value)
{
    return push(h, list, value, 1);
}

/* ---- remove ---------------------------------------------------------------------------------- */

enum which { W_FRONT, W_BACK, W_NODE };

static int unlink_node(struct vnv_heap *h, vnv_obj_t list, enum which which, vnv_obj_t node,
                       void *out)
{
    uint32_t *hp, *pp = NULL, *qp = NULL;
    int depth = which == W_NODE ? 0 : vnv_atomic_depth(h); /* (a remove makes no room) */
    if (depth) {
        int g = pop_grouped(h, list, which == W_FRONT, out);
        if (g <= 0)
            return g;
    }
    int err = hdr_pin(h, list, &hp);
    if (err)
        return err;
    err = recover(h, list, hp);
    if (!err && hp[H_OP] == OP_DESTROY)
        err = VNV_ERR_INVAL;
    if (err) {
        (void)vnv_release(h, list);
        return err;
    }
    uint64_t x = which == W_FRONT ? hget(hp, H_HEAD) : which == W_BACK ? hget(hp, H_TAIL) : node.id;
    if (!x || x == list.id) {
        (void)vnv_release(h, list);
        return VNV_ERR_INVAL; /* empty, or VNV_NULL given */
    }
    uint64_t far = which == W_FRONT ? hget(hp, H_TAIL) : hget(hp, H_HEAD);
    if (which != W_NODE && pop_needs_room(h, x, far))
        make_room_for_pop(h, x, far, which == W_FRONT, hp[H_ESIZE], depth);
    const void *xv; /* a node of this list's size exactly: header and data in one read */
    err = vnv_get_exact(h, obj(x), VNV_LIST_NODE_OVERHEAD + hp[H_ESIZE], &xv);
    if (err) {
        if (which != W_NODE && err == VNV_ERR_INVAL)
            err = VNV_ERR_CORRUPT; /* the header names a dead node */
        (void)vnv_release(h, list);
        return err;
    }
    const uint32_t *xp = xv;
    int bad = which == W_NODE ? VNV_ERR_INVAL : VNV_ERR_CORRUPT;
    /* the ends' outer links are don't-care: the header says which node is an end */
    uint64_t hd = hget(hp, H_HEAD), tl = hget(hp, H_TAIL);
    uint64_t p = hd == x ? 0 : hget(xp, N_PREV), q = tl == x ? 0 : hget(xp, N_NEXT);
    if (!node_ours(xp, list) || (hd != x && !p) || (tl != x && !q))
        err = bad;
    else if (hp[H_LEN] == 0)
        err = VNV_ERR_CORRUPT;
    /* Only an interior node's neighbours change; taking an end off touches none. */
    int interior = p && q;
    void *v;
    if (!err && interior) {
        err = vnv_get_mut_exact(h, obj(p), VNV_LIST_NODE_OVERHEAD + hp[H_ESIZE], &v);
        if (!err) {
            pp = v;
            if (!node_ours(pp, list) || hget(pp, N_NEXT) != x)
                err = bad;
        } else if (err == VNV_ERR_INVAL) {
            err = bad;
        }
    }
    if (!err && interior) {
        err = vnv_get_mut_exact(h, obj(q), VNV_LIST_NODE_OVERHEAD + hp[H_ESIZE], &v);
        if (!err) {
            qp = v;
            if (!node_ours(qp, list) || hget(qp, N_PREV) != x)
                err = bad;
        } else if (err == VNV_ERR_INVAL) {
            err = bad;
        }
    }
    if (!err) {
        if (out)
            memcpy(out, &xp[N_WORDS], hp[H_ESIZE]);
        uint64_t head = hd, tail = tl;
        uint32_t len = hp[H_LEN];
        hput(hp, H_NODE, x);
        hput(hp, H_IHEAD, p ? head : q);
        hput(hp, H_ITAIL, q ? tail : p);
        put(hp, H_ILEN, len - 1u);
        hset(hp, H_IA, interior ? p : 0); /* (an end's removal touches no neighbour) */
        hset(hp, H_IC, interior ? q : 0);
        if (interior) {
            hput(hp, H_IANEXT, q);
            hput(hp, H_ICPREV, p);
        }
        commit(hp, OP_UNLINK);
        apply(hp, pp, qp);
        commit(hp, OP_FREE);
        (void)vnv_release(h, obj(x));
        xp = NULL;
        err = vnv_free(h, obj(x));
        STEP();
        if (!err) {
            commit(hp, OP_NONE);
        } else {
            /* The heap is unchanged by a failed free: put the node back (H_NODE is still x,
             * which is all a FREE redo would use, until the LINK commit replaces it). */
            hput(hp, H_IHEAD, head);
            hput(hp, H_ITAIL, tail);
            put(hp, H_ILEN, len);
            hset(hp, H_IA, interior ? p : 0);
            hset(hp, H_IC, interior ? q : 0);
            if (interior) {
                hput(hp, H_IANEXT, x);
                hput(hp, H_ICPREV, x);
            }
            commit(hp, OP_LINK);
            apply(hp, pp, qp);
            commit(hp, OP_NONE);
        }
    }
    if (qp)
        (void)vnv_release(h, obj(q));
    if (pp)
        (void)vnv_release(h, obj(p));
    if (xp)
        (void)vnv_release(h, obj(x));
    (void)vnv_release(h, list);
    return err;
}

int vnv_list_pop_back(struct vnv_heap *h, vnv_obj_t list, void *out)
{
    return unlink_node(h, list, W_BACK, VNV_NULL, out);
}

int vnv_list_pop_front(struct vnv_heap *h, vnv_obj_t list, void *out)
{
    return unlink_node(h, list, W_FRONT, VNV_NULL, out);
}

int vnv_list_remove(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, void *out)
{
    return unlink_node(h, list, W_NODE, node, out);
}

/* ---- reading --------------------------------------------------------------------------------- */

int vnv_list_length(struct vnv_heap *h, vnv_obj_t list, uint32_t *len)
{
    uint32_t c[H_WORDS];
    if (!len)
        return VNV_ERR_INVAL;
    int err = hdr_read(h, list, c);
    if (!err)
        *len = c[H_LEN];
    return err;
}

int vnv_list_elem_size(struct vnv_heap *h, vnv_obj_t list, uint32_t *elem_size)
{
    uint32_t c[H_WORDS];
    if (!elem_size)
        return VNV_ERR_INVAL;
    int err = hdr_copy(h, list, c);
    if (!err)
        *elem_size = c[H_ESIZE];
    return err;
}

static int end_node(struct vnv_heap *h, vnv_obj_t list, int front, vnv_obj_t *node)
{
    uint32_t c[H_WORDS];
    if (!node)
        return VNV_ERR_INVAL;
    int err = hdr_read(h, list, c);
    if (!err)
        *node = obj(hget(c, front ? H_HEAD : H_TAIL));
    return err;
}

int vnv_list_first(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node)
{
    return end_node(h, list, 1, node);
}

int vnv_list_last(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node)
{
    return end_node(h, list, 0, node);
}

/* Reader pin of a node of this list, whose element size is `es` (the header's): exactly
 * that large, so neither the owner check nor a caller's copy of es bytes reaches past it;
 * released again on error. */
static int node_get(struct vnv_heap *h, vnv_obj_t list, uint32_t es, vnv_obj_t node,
                    const uint32_t **np)
{
    const void *p;
    if (vnv_is_null(node) || vnv_same(list, node))
        return VNV_ERR_INVAL;
    int err = vnv_get_exact(h, node, VNV_LIST_NODE_OVERHEAD + es, &p);
    if (err)
        return err;
    if (!node_ours(p, list)) {
        (void)vnv_release(h, node);
        return VNV_ERR_INVAL;
    }
    *np = p;
    return VNV_OK;
}

/* node_get after reading the header (into c). */
static int node_pin(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, uint32_t *c,
                    const uint32_t **np)
{
    if (vnv_is_null(node))
        return VNV_ERR_INVAL;
    int err = hdr_read(h, list, c);
    return err ? err : node_get(h, list, c[H_ESIZE], node, np);
}

static int step_node(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, unsigned word,
                     vnv_obj_t *out)
{
    const uint32_t *n;
    uint32_t c[H_WORDS];
    if (!out)
        return VNV_ERR_INVAL;
    int err = node_pin(h, list, node, c, &n); /* the ends' outer links are don't-care */
    if (err)
        return err;
    int at_end = node.id == hget(c, word == N_NEXT ? H_TAIL : H_HEAD);
    *out = obj(at_end ? 0 : hget(n, word));
    (void)vnv_release(h, node);
    return VNV_OK;
}

int vnv_list_next(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, vnv_obj_t *out)
{
    return step_node(h, list, node, N_NEXT, out);
}

int vnv_list_prev(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, vnv_obj_t *out)
{
    return step_node(h, list, node, N_PREV, out);
}

int vnv_list_get(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, void *out)
{
    const uint32_t *n;
    uint32_t c[H_WORDS];
    if (!out)
        return VNV_ERR_INVAL;
    int err = node_pin(h, list, node, c, &n);
    if (err)
        return err;
    memcpy(out, &n[N_WORDS], c[H_ESIZE]);
    (void)vnv_release(h, node);
    return VNV_OK;
}

int vnv_list_ref(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, const void **value)
{
    const uint32_t *n;
    uint32_t c[H_WORDS];
    if (!value)
        return VNV_ERR_INVAL;
    int err = node_pin(h, list, node, c, &n);
    if (!err)
        *value = &n[N_WORDS];
    return err;
}

int vnv_list_ref_mut(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, void **value)
{
    void *p;
    uint32_t c[H_WORDS];
    if (!value)
        return VNV_ERR_INVAL;
    /* Check ownership with a reader pin first: a writer pin would charge the object dirty
     * even when it turns out not to be ours. */
    const uint32_t *n;
    int err = node_pin(h, list, node, c, &n);
    if (err)
        return err;
    (void)vnv_release(h, node);
    err = vnv_get_mut_exact(h, node, VNV_LIST_NODE_OVERHEAD + c[H_ESIZE], &p);
    if (!err)
        *value = (uint32_t *)p + N_WORDS;
    return err;
}

int vnv_list_release(struct vnv_heap *h, vnv_obj_t node) { return vnv_release(h, node); }

static int peek_ref(struct vnv_heap *h, vnv_obj_t list, int front, vnv_obj_t *node,
                    const void **value, void **mvalue)
{
    vnv_obj_t n;
    if (!node || !(value || mvalue))
        return VNV_ERR_INVAL;
    int err = end_node(h, list, front, &n);
    if (err)
        return err;
    if (vnv_is_null(n))
        return VNV_ERR_INVAL; /* empty */
    err = value ? vnv_list_ref(h, list, n, value) : vnv_list_ref_mut(h, list, n, mvalue);
    if (err == VNV_ERR_INVAL)
        err = VNV_ERR_CORRUPT; /* the header names something that is not our node */
    if (!err)
        *node = n;
    return err;
}

static int peek_copy(struct vnv_heap *h, vnv_obj_t list, int front, void *out)
{
    vnv_obj_t n;
    uint32_t c[H_WORDS];
    if (!out)
        return VNV_ERR_INVAL;
    int err = hdr_read(h, list, c);
    if (err)
        return err;
    n = obj(hget(c, front ? H_HEAD : H_TAIL));
    if (vnv_is_null(n))
        return VNV_ERR_INVAL;
    const uint32_t *np;
    err = node_get(h, list, c[H_ESIZE], n, &np);
    if (err)
        return dead_node(h, err);
    memcpy(out, &np[N_WORDS], c[H_ESIZE]);
    (void)vnv_release(h, n);
    return VNV_OK;
}

int vnv_list_peek_back(struct vnv_heap *h, vnv_obj_t list, void *out)
{
    return peek_copy(h, list, 0, out);
}

int vnv_list_peek_front(struct vnv_heap *h, vnv_obj_t list, void *out)
{
    return peek_copy(h, list, 1, out);
}

int vnv_list_peek_back_ref(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node,
                           const void **value)
{
    return peek_ref(h, list, 0, node, value, NULL);
}

int vnv_list_peek_front_ref(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node,
                            const void **value)
{
    return peek_ref(h, list, 1, node, value, NULL);
}

int vnv_list_peek_back_mut(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node, void **value)
{
    return peek_ref(h, list, 0, node, NULL, value);
}

int vnv_list_peek_front_mut(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node, void **value)
{
    return peek_ref(h, list, 1, node, NULL, value);
}

/* ---- check ----------------------------------------------------------------------------------- */

int vnv_list_check(struct vnv_heap *h, vnv_obj_t list)
{
    uint32_t c[H_WORDS];
    int err = hdr_copy(h, list, c);
    if (err)
        return err;
    uint32_t op = c[H_OP], es = c[H_ESIZE];
    int redo = op == OP_LINK || op == OP_UNLINK;
    uint64_t head = hget(c, redo ? H_IHEAD : H_HEAD);
    uint64_t tail = hget(c, redo ? H_ITAIL : H_TAIL);
    uint32_t len = redo ? c[H_ILEN] : c[H_LEN];
    uint64_t gone = (op == OP_UNLINK || op == OP_FREE) ? hget(c, H_NODE) : 0;
    if (op == OP_DESTROY) {
        /* only a chain from head of at most `length` of our nodes is required */
        uint64_t hd = hget(c, H_HEAD), nd = hget(c, H_NODE);
        head = hd == nd && nd ? hget(c, H_IANEXT) : hd;
        tail = hget(c, H_TAIL); /* its next link is stale (destroy ignores it too) */
        gone = nd;              /* being freed: destroy frees it before it walks on */
    } else if ((head == 0) != (tail == 0) || (head == 0) != (len == 0)) {
        return VNV_ERR_CORRUPT;
    }
    /* The redo writes its links with set_link, which refuses anything but a node of this
     * list: a node it names off the walk below is checked here, as attach would. */
    for (unsigned k = 0; redo && k < 2u; k++) {
        uint64_t x = hget(c, k ? H_IC : H_IA);
        err = x ? node_owned(h, list, x) : VNV_OK;
        if (err)
            return dead_node(h, err);
    }
    /* A cycle ends the walk within twice its reach (Brent: `mark` is a node seen again
     * on a cycle once the stride passes its length), not after `length` steps, which
     * the stored length can put at 2^32 (destroy's walk checks no back links). */
    uint64_t prev = 0, cur = head, mark = 0;
    uint32_t count = 0, stride = 1u, since = 0;
    while (cur) {
        if (count >= len || cur == gone || cur == mark)
            return VNV_ERR_CORRUPT; /* longer than its length, a cycle, a removed node */
        if (++since == stride && stride < 0x80000000u) {
            mark = cur;
            stride <<= 1;
            since = 0;
        }
        const void *p;
        err = vnv_get_exact(h, obj(cur), VNV_LIST_NODE_OVERHEAD + es, &p);
        if (err)
            return dead_node(h, err); /* dead, or another size */
        const uint32_t *n = p;
        uint64_t np = hget(n, N_PREV), nn = hget(n, N_NEXT);
        int ok = node_ours(n, list);
        (void)vnv_release(h, obj(cur));
        if (!ok)
            return VNV_ERR_CORRUPT;
        if (redo && cur == hget(c, H_IA))
            nn = hget(c, H_IANEXT);
        if (redo && cur == hget(c, H_IC))
            np = hget(c, H_ICPREV);
        if (cur == head)
            np = 0; /* the ends' outer links are don't-care */
        if (cur == tail)
            nn = 0;
        if (op != OP_DESTROY && np != prev)
            return VNV_ERR_CORRUPT;
        prev = cur;
        cur = nn;
        count++;
    }
    if (op == OP_DESTROY)
        return VNV_OK;
    if (count != len || prev != tail)
        return VNV_ERR_CORRUPT;
    return VNV_OK;
}

#endif /* !VNV_MINIMAL */
