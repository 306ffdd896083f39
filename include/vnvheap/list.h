/*
 * vnvheap/list.h - vnv_list: a doubly linked list of heap objects that survives checkpoints,
 * RAM wipes and restarts.
 *
 * Every node is a heap object and every link is a handle (vnv_obj_t), so nothing in the list
 * depends on RAM addresses. The list's own state (head, tail, length, element size and a
 * small intent record, see below) lives in a 96-byte heap object, the LIST HEADER; its handle
 * is "the list". Store it as the heap root (vnv_set_root) or inside another object, and after
 * a restart call vnv_list_attach(h, handle) before anything else touches the heap.
 *
 * The API is stateless: every function takes the heap and the list handle, nothing is cached
 * in RAM outside the heap. Built on the public API of vnvheap.h only.
 *
 * Layout (native byte order, 32-bit words; a handle takes two, low word first; exact
 * word positions in docs/FORMAT.md section 5):
 *   node   = { prev (handle), next (handle), owner (the low word of the list's handle),
 *              node magic } then the value: 24 + elem_size bytes; the value is 8-byte
 *            aligned like every heap pointer.
 *   header = { magic, elem_size, length, op, head, tail, the node being changed, intent
 *              record } in 24 words (96 bytes)
 *
 * ---- Conventions (in addition to those of vnvheap.h) -------------------------------------
 *   - Returns 0 or a negative VNV_ERR_*. On an error of push, pop, remove, peek or the
 *     readers the list is unchanged: an update pins everything it will modify BEFORE its
 *     first change, so every later step is a RAM store that cannot fail, and a failing free
 *     is rolled back (see "pop"). (destroy and attach document their own partial progress.)
 *     vnv_check() and vnv_list_check() pass after every error (barring a corrupt image).
 *   - INVAL: NULL heap, VNV_NULL or a handle that is not a list header (wrong size or magic),
 *     a node handle that is not linked into this list, popping/peeking an empty list, a list
 *     whose destruction has begun. Errors of the heap (NOMEM, BUDGET, BUSY, IO, CORRUPT) are
 *     passed on unchanged. CORRUPT: broken links, unknown intent.
 *   - "Touches" counts the objects an operation pins (each may cost a load if not resident:
 *     HDR + n bytes read, plus flushes/evictions of other objects to make room, exactly as
 *     vnv_get / vnv_get_mut). W = writer pin (marks the whole object dirty: 96 bytes for the
 *     header, 24 + elem_size for a node), R = reader pin (no dirty bytes). Every operation
 *     except check and destroy touches at most 4 objects, whatever the length of the list.
 *   - Pins: an operation needs the objects it touches unpinned by others (writers exclusive,
 *     readers shared); otherwise it returns VNV_ERR_BUSY with the list unchanged. A reference
 *     you hold (vnv_list_peek_*_ref/_mut, vnv_list_ref*) therefore blocks updates next to it.
 *   - Budget and RAM: the objects an update pins must be resident at the same time, and the
 *     W ones dirty at the same time: a remove holds the header W, two neighbours W and the
 *     node R, so max_dirty_bytes must be at least
 *     VNV_CKPT_HEADER_SIZE + 4 x REC + 96 + 2 x (24 + elem_size)
 *     (the same covers a push), else BUDGET is returned with the list unchanged (NOMEM if
 *     the RAM arena cannot hold the four objects at once).
 *
 * ---- Power failure --------------------------------------------------------------------------
 * A checkpoint (vnv_persist_all from the power-failure interrupt) may happen at ANY point,
 * also between two stores of one list operation. A checkpoint followed by a RAM wipe and
 * resume is invisible (the operation just continues). After a checkpoint followed by a
 * RESTART, vnv_list_attach finds one of these states, and nothing else:
 *   - the operation did not happen; a push may have left its new node allocated but
 *     unreachable (at most one leaked node of 24 + elem_size bytes per interrupted push);
 *   - the operation happened completely (attach finishes it: redo of the intent record).
 * Each update writes a complete intent record (new head, tail, length and the one or two
 * node links to set) into the header and then commits it with ONE aligned 32-bit store of
 * `op` (the commit point); the stores that follow are idempotent and attach redoes them.
 * A pop or remove that was interrupted after its commit point is completed by attach, but
 * its value was never returned to the caller: popping is at-most-once across a restart. For
 * at-least-once processing peek, process, then pop. What counts is the state at the
 * checkpoint, not what the interrupted call would have returned: a pop whose free failed and
 * was being rolled back may be found completed.
 * After a restart call vnv_list_attach FIRST, before allocating anything: the redo of an
 * interrupted remove frees the removed node, which must not have been reused meanwhile
 * (it is verified to still be a node of this list before being freed).
 *
 * Stores inside pinned objects are ordered against the checkpoint interrupt with compiler
 * signal fences and are single aligned 32-bit stores (one instruction on RV32 / Cortex-M).
 *
 * ---- Inside a failure-atomic group (vnv_atomic_begin) -----------------------------------
 * The group makes each operation all-or-nothing by itself, so push_front/back and
 * pop_front/back skip the intent record when no operation is pending: they touch the node
 * (W for a push: allocated; R for a pop), set the old end's link with vnv_write (a push),
 * and write the header's length and ends with one 32-byte vnv_write (a 44-byte undo entry
 * of the group instead of a 96-byte pre-image of the header). The header is pinned R only
 * while a pop loads its node. On an error they back out what they changed; should backing
 * out fail too (a pop whose free and then the header's restore both find the budget full;
 * a push whose new node's free does), the operation aborts the group itself and returns
 * its error: vnv_atomic_depth is then 0 and the heap, list included, is as before the
 * group. (If the abort is refused too - BUSY: references of the group's objects still
 * held - the node stays out of the list and allocated: a leak once the group ends, gone if
 * it rolls back.) Other calls, and a
 * header with an operation pending, take the ordinary path.
 */
#ifndef VNVHEAP_LIST_H
#define VNVHEAP_LIST_H

#include "../vnvheap.h"

#if VNV_MINIMAL
#error "vnvheap/list.h: the containers are left out of the minimal profile (VNV_MINIMAL)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VNV_LIST_NODE_OVERHEAD 24u /* bytes before the value in every node */
#define VNV_LIST_HEADER_SIZE 96u   /* size of the list header object */
#define VNV_LIST_MAX_ELEM (VNV_MAX_OBJECT_SIZE - VNV_LIST_NODE_OVERHEAD)


/*
 * New empty list for values of `elem_size` bytes (1 .. VNV_LIST_MAX_ELEM). `*list` receives
 * the header's handle. Errors: INVAL (elem_size out of range, NULL), those of vnv_alloc.
 * Touches: allocates the header (96 bytes, vnv_alloc traffic). O(1).
 */
int vnv_list_create(struct vnv_heap *h, size_t elem_size, vnv_obj_t *list);

/*
 * Validate a list header found again (root, or a handle stored in another object) and finish
 * an operation a restart interrupted (see "Power failure"). Call it after vnv_open.
 * Errors: INVAL (not a list; its destruction was interrupted: call vnv_list_destroy again),
 * CORRUPT (also an element size that disagrees with its check word: damage never sizes a
 * copy), and heap errors of the redo (the redo is retried by the next call). An image from
 * an untrusted source can forge a consistent element size: compare vnv_list_elem_size with
 * your element's size before passing buffers.
 * Touches: header R; if an operation was interrupted: header W + up to two nodes W (redo of
 * the links) + the removed node R and its vnv_free. O(1).
 */
int vnv_list_attach(struct vnv_heap *h, vnv_obj_t list);

/*
 * Free every node, then the header; `list` is invalid afterwards (clear your copies of it,
 * e.g. vnv_set_root(h, VNV_NULL)). Crash-consistent: after a restart the list is either
 * intact, or marked as being destroyed with fewer nodes (attach returns INVAL); calling
 * destroy again finishes it. On an error (IO, BUSY: a node is pinned) destruction stops
 * with the list in that state; calling destroy again continues.
 * Touches: header W, then per node: the node R + vnv_free. O(length), bounded by length.
 * Storage: the loads of nodes not in RAM; vnv_free writes nothing (one header read for a
 * node not in RAM, see vnv_free).
 */
int vnv_list_destroy(struct vnv_heap *h, vnv_obj_t list);

/*
 * Append/prepend a copy of `value` (elem_size bytes; NULL = zeroes). CORRUPT (nothing
 * allocated) if the length is already 2^32 - 1: no heap holds that many nodes.
 * Touches: header W (pinned), the new node (one gathered allocation: links + value), and
 * the old tail's next (back) / old head's prev (front) link through vnv_write: a
 * non-resident old end is never loaded, its 8 bytes are written through (in place when
 * its current slot was written since the last checkpoint, else vnv_write's copy of the
 * node into its other slot: reads and one write of 24 + elem_size bytes). Storage: the
 * allocation (header + node in one write when it does not fit in RAM) + that link write
 * (none when the old end is resident, as in a FIFO: the newest node stays in RAM), and
 * the allocation's tag reservation when one falls due (vnv_alloc).
 * If the link cannot be written the push is backed out (the new node freed). O(elem_size).
 */
int vnv_list_push_back(struct vnv_heap *h, vnv_obj_t list, const void *value);
int vnv_list_push_front(struct vnv_heap *h, vnv_obj_t list, const void *value);

/*
 * Remove the last/first element, copying its value to `out` (NULL = discard).
 * Errors: INVAL if the list is empty; BUSY if the node is pinned (also by a reference of
 * yours); IO. On an error `out` is unspecified and the list unchanged: if the final
 * vnv_free of the node fails, the unlink is rolled back (again by a committed intent).
 * Touches: header W, the removed node R, then vnv_free of the node: 2 objects. The new
 * end's outer link is left as it was (the header names the ends), so no neighbour is
 * loaded. Storage: the node's load if it is not resident (one read of header + node).
 * When that load would need an eviction (vnv_has_room; in a group, also room for the
 * undo entries of this pop and the next push), the node next to the other end - the one
 * the last push linked, read last by a FIFO - is unloaded first (its flush: one write),
 * rather than letting the policy evict an item that may be popped next. O(elem_size).
 */
int vnv_list_pop_back(struct vnv_heap *h, vnv_obj_t list, void *out);
int vnv_list_pop_front(struct vnv_heap *h, vnv_obj_t list, void *out);

/*
 * Copy the last/first value to `out`. Errors: INVAL (empty). Touches: header R, node R.
 */
int vnv_list_peek_back(struct vnv_heap *h, vnv_obj_t list, void *out);
int vnv_list_peek_front(struct vnv_heap *h, vnv_obj_t list, void *out);

/*
 * Pin the last/first node and hand out a pointer to its value (8-byte aligned, elem_size
 * bytes) and the node's handle; release with vnv_list_release(h, *node).
 * _ref: reading (shared; updates that need this node's neighbour links return BUSY while held).
 * _mut: writing (exclusive; marks the whole node, 24 + elem_size bytes, dirty). Writing
 * through the pointer is visible to checkpoints immediately; write only the value.
 * Touches: header R, node R / W.
 */
int vnv_list_peek_back_ref(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node,
                           const void **value);
int vnv_list_peek_front_ref(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node,
                            const void **value);
int vnv_list_peek_back_mut(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node, void **value);
int vnv_list_peek_front_mut(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node, void **value);

/* Drop the pin of a _ref/_mut call (vnv_release of the node). Errors: as vnv_release. */
int vnv_list_release(struct vnv_heap *h, vnv_obj_t node);

/* Number of elements / element size. Touches: header R. O(1). */
int vnv_list_length(struct vnv_heap *h, vnv_obj_t list, uint32_t *len);
int vnv_list_elem_size(struct vnv_heap *h, vnv_obj_t list, uint32_t *elem_size);

/*
 * Cursor iteration by node handle:
 *   vnv_obj_t n;
 *   for (err = vnv_list_first(h, l, &n); !err && !vnv_is_null(n); err = vnv_list_next(h, l, n, &n))
 *       vnv_list_get(h, l, n, &value);
 * first/last: header R; *node = VNV_NULL if empty. next/prev: header R, the given node R;
 * *out = VNV_NULL at the end. get: header R, node R, copies elem_size bytes out (get means COPY here, not pin
 * as in the core API's vnv_get: nothing to release; the node is loaded if not resident, and
 * vnv_read(h, node, VNV_LIST_NODE_OVERHEAD, out, elem_size) copies the value without
 * loading it, skipping the membership check). ref/ref_mut: as the peek
 * variants for any node. Errors: INVAL if `node` is not a node of this list (checked by its
 * size, exactly VNV_LIST_NODE_OVERHEAD + elem_size, so no copy or reference reaches past
 * it, and by its owner field: a node that was removed is either freed, INVAL, or still names this list
 * only while its removal is being completed). A handle stays valid while its node is in the
 * list; removing other nodes does not invalidate it. Each call is O(1) (+ elem_size).
 */
int vnv_list_first(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node);
int vnv_list_last(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t *node);
int vnv_list_next(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, vnv_obj_t *out);
int vnv_list_prev(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, vnv_obj_t *out);
int vnv_list_get(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, void *out);
int vnv_list_ref(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, const void **value);
int vnv_list_ref_mut(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, void **value);

/*
 * Unlink `node` from anywhere in the list, copy its value to `out` (NULL = discard) and free
 * it. Membership is verified (owner field, and the neighbours/ends must point back at it),
 * so a node of another list or an already removed one gives INVAL.
 * Touches: header W, the node R, its previous and next node W (those that exist), then
 * vnv_free of the node: at most 4 objects. Errors and rollback: as pop. O(elem_size).
 */
int vnv_list_remove(struct vnv_heap *h, vnv_obj_t list, vnv_obj_t node, void *out);

/*
 * Validate the list without changing anything: header magic, element size and intent;
 * walking from head: every node live, of size 24 + elem_size, owned by this list, its prev
 * equal to the node before it, no more than `length` nodes, the last one equal to tail, the
 * count equal to length. For a list with an operation interrupted by a restart and not yet
 * finished by attach, it validates the list as the redo will leave it (so it passes on every
 * state a checkpoint can capture). Returns 0, INVAL (not a list), CORRUPT, or a heap error.
 * Touches: header R and every node R (one at a time). O(length), and O(nodes reached) for a
 * damaged list whatever its stored length: a cycle is found within twice its reach. Loads
 * nodes that are not resident (HDR + 24 + elem_size bytes read each), evicting others as
 * needed.
 */
int vnv_list_check(struct vnv_heap *h, vnv_obj_t list);

/*
 * Fault-injection hook for tests: `fn(arg)` is called at every point between two stores of
 * a list update (and around each heap call inside one) that a checkpoint could separate,
 * so a test can take a checkpoint exactly there (vnv_persist_all) and then "lose power".
 * Global (all lists, all heaps); NULL disables it (the default). Not interrupt-safe to change.
 * Compiled out when VNV_LIST_STEP_HOOKS is defined to 0 (then this function does nothing).
 */
typedef void (*vnv_list_step_fn)(void *arg);
void vnv_list_set_step_hook(vnv_list_step_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_LIST_H */
