/*
 * vnvheap/array.h - vnv_array: a fixed-length array of elements in ONE heap object with
 * partial dirtiness, so that writing one element costs one block of the dirty budget, of
 * flush traffic and of checkpoint bytes instead of the whole array.
 *
 * The object is allocated with vnv_alloc_blocks(block_size = 16, 32, 64 or 128). Layout:
 *
 *   [element 0][element 1] ... [element n-1][pad to 8][trailer: 16 bytes]
 *   trailer = { magic, elem_size, length, block_size }  (uint32_t, native byte order)
 *
 * The elements start at offset 0, so element i occupies bytes [i * es, (i + 1) * es) and a
 * write of an element whose size divides the block size always dirties exactly ONE block
 * (a header in front of the elements would shift them and make writes straddle blocks unless
 * it were padded to a whole block). The trailer sits in the last block(s); it is written at
 * creation and never again: writes of the last elements may share its block, which is then
 * written too (same bytes), nothing else. The handle alone is enough after a restart:
 * length and element size are read back from the trailer (vnv_array_attach).
 * Object size = pad8(length * elem_size) + 16 bytes; the whole object must fit the RAM
 * arena when loaded (a partial object is still loaded as a whole).
 *
 * ---- Conventions (in addition to those of vnvheap.h) ---------------------------------------
 *   - Returns 0 or a negative VNV_ERR_*; on error nothing was written or marked.
 *   - INVAL: NULL arguments, a handle that is not an array (wrong size, magic or trailer),
 *     index >= length, count == 0, a range that does not fit (first + count > length,
 *     computed without overflow, so huge values are refused too). Heap errors are passed on.
 *   - Every call pins the array (loading it if not resident: HDR + object size bytes read,
 *     plus flushes/evictions of other objects to make room, like vnv_get) and reads the
 *     trailer from RAM: O(1) besides the copied bytes.
 *   - "Charged" = added to the dirty budget (stats.dirty_bytes / checkpoint_bytes) unless
 *     already dirty: the blocks overlapping the touched byte range, first = off / B, last =
 *     (off + len - 1) / B, every one of them (the original missed the last block of a range
 *     that started mid-block). A dirty block is charged once until it is flushed.
 *   - Resident, the array costs REC + ceil(blocks / 8) checkpoint bytes plus its dirty blocks;
 *     a flush writes one storage transaction per run of consecutive dirty blocks, and a
 *     checkpoint writes exactly the dirty blocks after the record and the bitmap.
 *
 * ---- Power failure ---------------------------------------------------------------------------
 * A checkpoint may come between any two stores. Elements of 1, 2 or 4 bytes are written by
 * vnv_array_set / set_range with one aligned store each, so after a restart every such
 * element holds either its old or its new value; larger elements are copied byte-wise and
 * may be captured half written, and a multi-element update is never atomic as a whole.
 * If you need that, add a commit word written last (see vnv_list's intent record).
 */
#ifndef VNVHEAP_ARRAY_H
#define VNVHEAP_ARRAY_H

#include "../vnvheap.h"

#if VNV_MINIMAL
#error "vnvheap/array.h: the containers are left out of the minimal profile (VNV_MINIMAL)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VNV_ARRAY_TRAILER_SIZE 16u

/*
 * New array of `length` elements of `elem_size` bytes, initialised from `init` (length x
 * elem_size bytes; NULL = zeroes), dirty-tracked in blocks of `block_size` (16/32/64/128).
 * Errors: INVAL (length or elem_size 0, bad block size, object larger than
 * VNV_MAX_OBJECT_SIZE), those of vnv_alloc_blocks, and of writing the trailer/init (then the
 * object is freed again). Storage: vnv_alloc_blocks traffic; if the array did not fit RAM and
 * budget it is written home zeroed and loaded again to write the trailer and `init`, block
 * by block (so arrays larger than the dirty budget can be initialised).
 */
int vnv_array_create(struct vnv_heap *h, size_t length, size_t elem_size, uint32_t block_size,
                     const void *init, vnv_obj_t *arr);

/* Validate a handle found again after a restart and report its length and element size
 * (either pointer may be NULL). A trailer whose element size or length disagrees with its
 * check is INVAL (damage never sizes a copy); an image from an untrusted source can forge
 * a consistent one: compare elem_size with your element's size before passing buffers.
 * Errors: INVAL (not an array), and those of pinning it
 * (vnv_get: BUSY while a writer holds it, NOMEM, BUDGET, CORRUPT, IO). Pins and releases
 * it. */
int vnv_array_attach(struct vnv_heap *h, vnv_obj_t arr, uint32_t *length, uint32_t *elem_size);

/* Free the array (vnv_free after validation, which pins it: a non-resident array is loaded
 * whole). Errors: INVAL, BUSY (pinned), IO, and those of loading it (NOMEM, BUDGET,
 * CORRUPT). */
int vnv_array_destroy(struct vnv_heap *h, vnv_obj_t arr);

/* Number of elements / element size / block size. O(1) once resident. */
int vnv_array_length(struct vnv_heap *h, vnv_obj_t arr, uint32_t *length);
int vnv_array_elem_size(struct vnv_heap *h, vnv_obj_t arr, uint32_t *elem_size);
int vnv_array_block_size(struct vnv_heap *h, vnv_obj_t arr, uint32_t *block_size);

/*
 * Copy element `index` / elements [first, first + count) out. Reader pin; nothing charged.
 * NOTE "get" here means COPY (as in vnv_list_get), not pin as in the core API's vnv_get:
 * the array is pinned only during the call and nothing is to be released; for a pointer
 * use vnv_array_view. The pin loads a non-resident array as a WHOLE (HDR + object size
 * bytes read). To read a few elements of a large, usually non-resident array, call
 * vnv_read(h, arr, index * elem_size, out, count * elem_size) instead: it reads only those
 * bytes at home and loads nothing (likewise vnv_write; then the index check and the
 * per-element atomicity described above are yours). See docs/containers.md.
 */
int vnv_array_get(struct vnv_heap *h, vnv_obj_t arr, size_t index, void *out);
int vnv_array_get_range(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count,
                        void *out);

/*
 * Copy `value` into element `index` / `src` into elements [first, first + count): writer pin
 * (vnv_get_mut_range with an empty range, to read the trailer), vnv_mark_dirty over exactly
 * the touched bytes, copy, release. Charged: the blocks of those bytes that were clean.
 * Errors: also BUSY (pinned by others), BUDGET (the touched blocks do not fit the budget
 * even after flushing everything else), IO (from flushes to make budget room).
 * The heap never flushes an object a writer holds; so when the array's own dirty blocks are
 * what fills the budget, the array is flushed (one write per run of dirty blocks) and the
 * marking retried once. The same holds for vnv_array_write / write_all.
 */
int vnv_array_set(struct vnv_heap *h, vnv_obj_t arr, size_t index, const void *value);
int vnv_array_set_range(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count,
                        const void *src);

/*
 * Read view: pin for reading and get a pointer to element 0 (8-byte aligned) and, if
 * `length` is not NULL, the number of elements. Release with vnv_array_release.
 */
int vnv_array_view(struct vnv_heap *h, vnv_obj_t arr, const void **elems, uint32_t *length);

/*
 * Writer view of elements [first, first + count): pin exclusively, mark exactly those bytes
 * dirty (charging their clean blocks) and set `*elems` to element `first`. Write only inside
 * the range: bytes written elsewhere are not tracked, are not in a checkpoint and are lost
 * when the array is evicted (vnv_check then reports the clean block differing from its home).
 * Release with vnv_array_release.
 */
int vnv_array_write(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count,
                    void **elems);

/*
 * Writer view of the whole array: `*elems` = element 0, every element block is marked dirty
 * and charged: length x elem_size bytes rounded out to whole blocks (the blocks holding
 * only padding and the trailer are not). Equivalent to vnv_get_mut except for that block.
 */
int vnv_array_write_all(struct vnv_heap *h, vnv_obj_t arr, void **elems);

/* Drop the pin of a view (vnv_release). */
int vnv_array_release(struct vnv_heap *h, vnv_obj_t arr);

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_ARRAY_H */
