/*
 * array.c - vnv_array: elements in one partial-dirtiness object (see include/vnvheap/array.h).
 *
 * Uses only the public heap API. Writers pin with vnv_get_mut_range(arr, 0, 0) (pins and
 * loads, marks nothing), read the trailer, validate the request, then vnv_mark_dirty over
 * exactly the bytes they will write: nothing is charged for a request that is refused.
 */
#include "vnvheap/common.h"
#if !VNV_MINIMAL /* the containers: not in the minimal profile */

#include <string.h>

#include "vnvheap/array.h"

#define A_MAGIC 0x31414E56u /* "VNA1" */

enum { T_MAGIC, T_ESIZE, T_LEN, T_BLOCK, T_WORDS };
typedef char vnv_array_trailer_ok[(T_WORDS * 4 == VNV_ARRAY_TRAILER_SIZE) ? 1 : -1];

struct ainfo {
    uint8_t *base; /* element 0 */
    uint32_t len, es, bs;
};

static uint32_t pad8(uint32_t n) { return (n + 7u) & ~7u; }

static int block_ok(uint32_t bs) { return bs == 16 || bs == 32 || bs == 64 || bs == 128; }

/* The trailer's block-size word carries a check of element size and length in its upper
 * 24 bits: a damaged element size must never size a copy into the caller's buffer (the
 * object size alone admits other sizes within the padding). */
static uint32_t trailer_check(uint32_t es, uint32_t len)
{
    return (es * 0x9E3779B1u ^ len * 0x85EBCA77u ^ A_MAGIC) & ~0xFFu;
}

/* Object size of an array, or 0 if it would exceed VNV_MAX_OBJECT_SIZE. */
static uint32_t object_size(size_t length, size_t es)
{
    uint64_t data = (uint64_t)length * (uint64_t)es; /* two 32-bit factors: no overflow */
    if (data > VNV_MAX_OBJECT_SIZE - VNV_ARRAY_TRAILER_SIZE - 7u)
        return 0;
    return pad8((uint32_t)data) + VNV_ARRAY_TRAILER_SIZE;
}

/* Validate the pinned object `p` as an array and fill `ai`. INVAL if it is not one. */
static int info(struct vnv_heap *h, vnv_obj_t arr, void *p, struct ainfo *ai)
{
    size_t sz = 0;
    int err = vnv_size(h, arr, &sz); /* pinned, so resident: no storage traffic */
    if (err)
        return err;
    if (sz < VNV_ARRAY_TRAILER_SIZE + 8u || (sz & 7u))
        return VNV_ERR_INVAL;
    const uint32_t *t = (const uint32_t *)(void *)((uint8_t *)p + sz - VNV_ARRAY_TRAILER_SIZE);
    uint32_t bs = t[T_BLOCK] & 0xFFu;
    if (t[T_MAGIC] != A_MAGIC || t[T_ESIZE] == 0 || t[T_LEN] == 0 || !block_ok(bs) ||
        t[T_BLOCK] - bs != trailer_check(t[T_ESIZE], t[T_LEN]) ||
        object_size(t[T_LEN], t[T_ESIZE]) != sz)
        return VNV_ERR_INVAL;
    ai->base = p;
    ai->len = t[T_LEN];
    ai->es = t[T_ESIZE];
    ai->bs = bs;
    return VNV_OK;
}

/* first + count within the array, count >= 1, without overflow. */
static int range_ok(const struct ainfo *ai, size_t first, size_t count)
{
    return count != 0 && first < ai->len && count <= ai->len - first;
}

static int pin_read(struct vnv_heap *h, vnv_obj_t arr, struct ainfo *ai)
{
    const void *p;
    if (!h)
        return VNV_ERR_INVAL;
    int err = vnv_get(h, arr, &p);
    if (err)
        return err;
    err = info(h, arr, (void *)(uintptr_t)p, ai); /* read only through ai->base */
    if (err)
        (void)vnv_release(h, arr);
    return err;
}

/* Writer pin without marking anything. */
static int pin_write(struct vnv_heap *h, vnv_obj_t arr, struct ainfo *ai)
{
    void *p;
    if (!h)
        return VNV_ERR_INVAL;
    int err = vnv_get_mut_range(h, arr, 0, 0, &p);
    if (err)
        return err;
    err = info(h, arr, p, ai);
    if (err)
        (void)vnv_release(h, arr);
    return err;
}

/*
 * Pin for writing and mark elements [first, first + count) dirty; released on error.
 * The heap never flushes an object a writer holds, so when the array's OWN dirty blocks are
 * what fills the budget, marking fails with BUDGET: then flush the array (its dirty blocks
 * go home, one write per run) and try once more.
 */
static int pin_range(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count, int all,
                     struct ainfo *ai)
{
    for (int attempt = 0;; attempt++) {
        int err = pin_write(h, arr, ai);
        if (err)
            return err;
        if (all)
            count = ai->len; /* first is 0 */
        if (!range_ok(ai, first, count))
            err = VNV_ERR_INVAL;
        else
            err = vnv_mark_dirty(h, arr, first * ai->es, count * ai->es);
        if (!err)
            return VNV_OK;
        (void)vnv_release(h, arr);
        if (err != VNV_ERR_BUDGET || attempt || !vnv_is_dirty(h, arr))
            return err;
        /* its own dirty blocks home, then once more; a group's member cannot go home
         * (BUSY from the flush): the answer stays BUDGET */
        int ferr = vnv_flush(h, arr);
        if (ferr)
            return ferr == VNV_ERR_BUSY && vnv_atomic_depth(h) ? err : ferr;
    }
}

/* Copy elements in; 1-, 2- and 4-byte elements with one aligned store each (the offsets
 * are multiples of the element size and the base is 8-aligned). */
static void store(uint8_t *dst, const uint8_t *src, size_t count, uint32_t es)
{
    if (es == 4) {
        volatile uint32_t *d = (volatile uint32_t *)(void *)dst;
        for (size_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, src + 4u * i, 4);
            d[i] = v;
        }
    } else if (es == 2) {
        volatile uint16_t *d = (volatile uint16_t *)(void *)dst;
        for (size_t i = 0; i < count; i++) {
            uint16_t v;
            memcpy(&v, src + 2u * i, 2);
            d[i] = v;
        }
    } else if (es == 1) {
        volatile uint8_t *d = dst;
        for (size_t i = 0; i < count; i++)
            d[i] = src[i];
    } else {
        memcpy(dst, src, count * es);
    }
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

int vnv_array_create(struct vnv_heap *h, size_t length, size_t elem_size, uint32_t block_size,
                     const void *init, vnv_obj_t *arr)
{
    if (!h || !arr || length == 0 || elem_size == 0 || !block_ok(block_size) ||
        length > VNV_MAX_OBJECT_SIZE || elem_size > VNV_MAX_OBJECT_SIZE)
        return VNV_ERR_INVAL;
    uint32_t size = object_size(length, elem_size);
    if (!size)
        return VNV_ERR_INVAL;
    vnv_obj_t a;
    int err = vnv_alloc_blocks(h, size, block_size, NULL, &a);
    if (err)
        return err;
    /* Trailer: a resident fresh object is dirty everywhere already (nothing more charged);
     * one written home is loaded and only the trailer's block(s) are charged. */
    void *p;
    uint32_t toff = size - VNV_ARRAY_TRAILER_SIZE;
    err = vnv_get_mut_range(h, a, toff, VNV_ARRAY_TRAILER_SIZE, &p);
    if (!err) {
        uint32_t t[T_WORDS] = {A_MAGIC, (uint32_t)elem_size, (uint32_t)length,
                               block_size | trailer_check((uint32_t)elem_size, (uint32_t)length)};
        memcpy((uint8_t *)p + toff, t, sizeof t);
        (void)vnv_release(h, a);
    }
    /* Initial values, one block per pin so that an array larger than the budget works. */
    uint32_t data = (uint32_t)(length * elem_size);
    for (uint32_t off = 0; !err && init && off < data; off += block_size) {
        uint32_t n = data - off < block_size ? data - off : block_size;
        err = vnv_get_mut_range(h, a, off, n, &p);
        if (err == VNV_ERR_BUDGET && vnv_flush(h, a) == VNV_OK) /* see pin_range */
            err = vnv_get_mut_range(h, a, off, n, &p);
        if (!err) {
            memcpy((uint8_t *)p + off, (const uint8_t *)init + off, n);
            (void)vnv_release(h, a);
        }
    }
    if (err) {
        (void)vnv_free(h, a); /* if this fails too, the half-made array leaks (unreachable) */
        return err;
    }
    *arr = a;
    return VNV_OK;
}

int vnv_array_attach(struct vnv_heap *h, vnv_obj_t arr, uint32_t *length, uint32_t *elem_size)
{
    struct ainfo ai;
    int err = pin_read(h, arr, &ai);
    if (err)
        return err;
    if (length)
        *length = ai.len;
    if (elem_size)
        *elem_size = ai.es;
    (void)vnv_release(h, arr);
    return VNV_OK;
}

int vnv_array_destroy(struct vnv_heap *h, vnv_obj_t arr)
{
    int err = vnv_array_attach(h, arr, NULL, NULL);
    return err ? err : vnv_free(h, arr);
}

static int query(struct vnv_heap *h, vnv_obj_t arr, uint32_t *out, int what)
{
    struct ainfo ai;
    if (!out)
        return VNV_ERR_INVAL;
    int err = pin_read(h, arr, &ai);
    if (err)
        return err;
    *out = what == T_LEN ? ai.len : what == T_ESIZE ? ai.es : ai.bs;
    (void)vnv_release(h, arr);
    return VNV_OK;
}

int vnv_array_length(struct vnv_heap *h, vnv_obj_t arr, uint32_t *length)
{
    return query(h, arr, length, T_LEN);
}

int vnv_array_elem_size(struct vnv_heap *h, vnv_obj_t arr, uint32_t *elem_size)
{
    return query(h, arr, elem_size, T_ESIZE);
}

int vnv_array_block_size(struct vnv_heap *h, vnv_obj_t arr, uint32_t *block_size)
{
    return query(h, arr, block_size, T_BLOCK);
}

/* ---- element access -------------------------------------------------------------------------- */

int vnv_array_get_range(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count,
                        void *out)
{
    struct ainfo ai;
    if (!out)
        return VNV_ERR_INVAL;
    int err = pin_read(h, arr, &ai);
    if (err)
        return err;
    if (range_ok(&ai, first, count))
        memcpy(out, ai.base + first * ai.es, count * ai.es);
    else
        err = VNV_ERR_INVAL;
    (void)vnv_release(h, arr);
    return err;
}

int vnv_array_get(struct vnv_heap *h, vnv_obj_t arr, size_t index, void *out)
{
    return vnv_array_get_range(h, arr, index, 1, out);
}

int vnv_array_set_range(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count,
                        const void *src)
{
    struct ainfo ai;
    if (!src)
        return VNV_ERR_INVAL;
    int err = pin_range(h, arr, first, count, 0, &ai);
    if (err)
        return err;
    store(ai.base + first * ai.es, src, count, ai.es);
    (void)vnv_release(h, arr);
    return VNV_OK;
}

int vnv_array_set(struct vnv_heap *h, vnv_obj_t arr, size_t index, const void *value)
{
    return vnv_array_set_range(h, arr, index, 1, value);
}

/* ---- views ----------------------------------------------------------------------------------- */

int vnv_array_view(struct vnv_heap *h, vnv_obj_t arr, const void **elems, uint32_t *length)
{
    struct ainfo ai;
    if (!elems)
        return VNV_ERR_INVAL;
    int err = pin_read(h, arr, &ai);
    if (err)
        return err;
    *elems = ai.base;
    if (length)
        *length = ai.len;
    return VNV_OK;
}

int vnv_array_write(struct vnv_heap *h, vnv_obj_t arr, size_t first, size_t count,
                    void **elems)
{
    struct ainfo ai;
    if (!elems)
        return VNV_ERR_INVAL;
    int err = pin_range(h, arr, first, count, 0, &ai);
    if (!err)
        *elems = ai.base + first * ai.es;
    return err;
}

int vnv_array_write_all(struct vnv_heap *h, vnv_obj_t arr, void **elems)
{
    struct ainfo ai;
    if (!elems)
        return VNV_ERR_INVAL;
    int err = pin_range(h, arr, 0, 0, 1, &ai);
    if (!err)
        *elems = ai.base;
    return err;
}

int vnv_array_release(struct vnv_heap *h, vnv_obj_t arr) { return vnv_release(h, arr); }

#endif /* !VNV_MINIMAL */
