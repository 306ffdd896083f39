/*
 * nvmap.c - the allocation state of the storage: bitmaps in RAM, committed with every
 * checkpoint (the first MAP_SAVED of them), so that a reset at any instant reopens with
 * exactly the homes of the last checkpoint.
 *
 * Protection of the last checkpoint's state (docs/INTERNALS.md "Crash consistency"):
 *   - a unit that was in use at the last checkpoint (MAP_CALLOC) is not reused before the
 *     next one completes, even if its object was freed since;
 *   - an object's data slot that the last checkpoint may read (its MAP_CUR slot, unless
 *     MAP_FRESH) is never written: a flush goes to the other slot and flips MAP_CUR.
 * nvmap_commit() lifts both when a checkpoint has completed.
 */
#include "../internal.h"

/* Units that `bytes` (< 2^31) take, rounded up. */
static uint32_t units_of(const struct vnv_heap *h, uint32_t bytes)
{
    return (bytes + h->unit - 1u) >> h->unit_shift;
}

/* One word of a run of units: the word holding unit *u and the mask of the run's units in
 * it; moves *u and *n past them. */
static uint32_t run_step(uint32_t *u, uint32_t *n, uint32_t *mask)
{
    uint32_t b = *u & 31u, k = 32u - b < *n ? 32u - b : *n, i = *u >> 5;
    *mask = ~0u >> (32u - k) << b; /* (k units, 1 <= k <= 32) */
    *u += k;
    *n -= k;
    return i;
}

/* Units [u, u + n) become one home (v = 1) or free (v = 0): MAP_ALLOC over the run, a word
 * at a time, keeping the map's checksum sums as map_put does (one update per word, not per
 * unit); MAP_START at its first unit; MAP_CUR 0 for a freed home (a free unit has none, so
 * a new home's is 0 already: nvmap_validate refuses a map where it is not); MAP_FRESH set
 * for a new home (nothing of the last checkpoint lives there) and cleared for a freed one. */
static inline void home_mark(struct vnv_heap *h, uint32_t u, uint32_t n, int v)
{
    uint32_t first = u;
    for (uint32_t guard = 0; n && guard <= h->map_words; guard++) {
        uint32_t mask, i = MAP_ALLOC * h->map_words + run_step(&u, &n, &mask);
        map_word(h, i, v ? h->map[i] | mask : h->map[i] & ~mask);
    }
    map_put(h, MAP_START, first, v);
    if (!v)
        map_put(h, MAP_CUR, first, 0);
    bit_put(nvmap(h, MAP_FRESH), first, v);
}

/*
 * The spare: a home freed outside a group whose units no checkpoint needs (none in
 * MAP_CALLOC: allocated since the last one) stays marked, and the next allocation of the
 * same number of units takes it: a streaming FIFO's pop and push then skip the placement
 * scan and both markings. It is a free home in every other respect: its handles are
 * refused (home.c, issued_start), vnv_stats counts it free, and it is released (marked
 * free) before anything takes the map as a whole - a checkpoint, vnv_check, a group's
 * begin - and before an allocation of another size. At most one; never inside a group.
 */
void nvmap_spare_drop(struct vnv_heap *h)
{
    if (h->spare) {
        home_mark(h, h->spare - 1u, h->spare_units, 0);
        h->spare = 0;
    }
}

int nvmap_alloc(struct vnv_heap *h, uint32_t size, uint32_t *unit)
{
    uint32_t units = units_of(h, nvmap_need(h, size));
    uint32_t len = h->nv->round(units), at;
    if (len < units)
        return VNV_ERR_CORRUPT; /* the placement module broke its contract */
    if (h->spare) {
        /* Its MAP_ALLOC, MAP_START and MAP_FRESH stay; MAP_CUR is 0: a home changes slot
         * only when it is not fresh, i.e. once a checkpoint holds it (no spare then). */
        if (len == h->spare_units) {
            *unit = h->spare - 1u;
            h->spare = 0;
            return VNV_OK;
        }
        nvmap_spare_drop(h);
    }
    int err = h->nv->place(nvmap(h, MAP_ALLOC), nvmap(h, MAP_CALLOC), h->units, len, &at);
    if (err)
        return err == VNV_ERR_NOSPC ? err : VNV_ERR_CORRUPT;
    if (at >= h->units || len > h->units - at)
        return VNV_ERR_CORRUPT;
    const uint32_t *al = nvmap(h, MAP_ALLOC), *cal = nvmap(h, MAP_CALLOC);
    for (uint32_t v = at, n = len, guard = 0; n && guard <= h->map_words; guard++) {
        uint32_t mask, i = run_step(&v, &n, &mask);
        if ((al[i] | cal[i]) & mask)
            return VNV_ERR_CORRUPT; /* the placement module named a used unit */
    }
    home_mark(h, at, len, 1);
    *unit = at;
    return VNV_OK;
}

/* Index of the lowest set bit of x != 0 (de Bruijn: no libgcc table, one multiply). */
static uint32_t lowest_bit(uint32_t x)
{
    static const uint8_t pos[32] = {0,  1,  28, 2,  29, 14, 24, 3,  30, 22, 20,
                                    15, 25, 17, 4,  8,  31, 27, 13, 23, 21, 19,
                                    16, 7,  26, 12, 18, 6,  11, 5,  10, 9};
    return pos[((x & (0u - x)) * 0x077CB531u) >> 27];
}

/* Units of the home starting at `unit` (up to the next start or free unit), counted up to
 * `cap` at most. A word of units at a time: a 1 KiB object's home is 129 units of 16 B. */
static uint32_t extent_upto(const struct vnv_heap *h, uint32_t unit, uint32_t cap)
{
    const uint32_t *a = nvmap(h, MAP_ALLOC), *s = nvmap(h, MAP_START);
    if (unit >= h->units)
        return 1; /* (a forged handle's unit: typed loads ask before validating it) */
    uint32_t u = unit + 1u, end = cap < h->units - unit ? unit + cap : h->units;
    for (uint32_t guard = 0; u < end && guard <= h->map_words; guard++) {
        uint32_t i = u >> 5, stop = ~(a[i] & ~s[i]) >> (u & 31u); /* (bit 0: unit u) */
        if (stop) {
            u += lowest_bit(stop);
            break;
        }
        u += 32u - (u & 31u); /* every unit of this word from u on goes on */
    }
    return (u < end ? u : end) - unit;
}

uint32_t nvmap_extent(const struct vnv_heap *h, uint32_t unit)
{
    return extent_upto(h, unit, UINT32_MAX);
}

/* 1 if the home starting at `unit` is large enough for an object of `size` bytes: an
 * object that needs more is not there, whatever its header says (home.c refuses such a
 * header). Scans at most the units that size needs. */
int nvmap_holds(const struct vnv_heap *h, uint32_t unit, uint32_t size)
{
    uint32_t need = units_of(h, nvmap_need(h, size)); /* (size < 2^18) */
    return extent_upto(h, unit, need) >= need;
}

/* The object of the home at `unit` is gone: read_objhdr's kept header must not name it. */
static void forget_header(struct vnv_heap *h, uint32_t unit)
{
    if (h->hdr_id && id_unit(h, h->hdr_id) == unit)
        h->hdr_id = 0;
}

/* The home becomes free now; its units are reusable once MAP_CALLOC says so. */
void nvmap_free(struct vnv_heap *h, uint32_t unit)
{
    forget_header(h, unit);
    if (h->spare == unit + 1u)
        h->spare = 0; /* (no caller frees the spare's home - none is kept in a group - but
                         a spare must never outlive its marks) */
    home_mark(h, unit, nvmap_extent(h, unit), 0);
}

/* nvmap_free outside a group: the home becomes the spare when it can (above). A home's
 * units enter MAP_CALLOC together (nvmap_commit copies MAP_ALLOC) and leave it together,
 * so its first unit tells whether the last checkpoint holds it. */
void nvmap_free_keep(struct vnv_heap *h, uint32_t unit)
{
    if (!h->spare && unit < h->units && !bit_get(nvmap(h, MAP_CALLOC), unit)) {
        forget_header(h, unit);
        h->spare = unit + 1u;
        h->spare_units = nvmap_extent(h, unit);
        return;
    }
    nvmap_free(h, unit);
}

/* The sums map_put keeps, from scratch (a restore read the map; vnv_check compares). */
void nvmap_sums(const struct vnv_heap *h, uint32_t *sa, uint32_t *sb)
{
    uint32_t n = MAP_SAVED * h->map_words, a = 0, b = 0;
    for (uint32_t i = 0; i < n; i++) {
        a += h->map[i];
        b += (n - i) * h->map[i];
    }
    *sa = a;
    *sb = b;
}

/* A checkpoint of the current state has completed: it is now the one to protect. */
void nvmap_commit(struct vnv_heap *h)
{
    /* one pass of words: on the power-failure path, where a small libc's byte-wise
     * memcpy and memset would cost as much again as the checkpoint's own overhead */
    const uint32_t *a = nvmap(h, MAP_ALLOC);
    uint32_t *c = nvmap(h, MAP_CALLOC), *f = nvmap(h, MAP_FRESH);
    for (uint32_t i = 0, n = h->map_words; i < n; i++) {
        c[i] = a[i];
        f[i] = 0;
    }
}

void nvmap_clear(struct vnv_heap *h)
{
    h->spare = 0;
    memset(h->map, 0, MAP_COUNT * h->map_words * 4u);
    h->map_sa = h->map_sb = 0; /* (the sums of an all-zero map) */
    h->hdr_id = 0; /* (a restore: the map is rebuilt from a checkpoint) */
}

/* Structural checks of the saved bitmaps (a restore or vnv_check): starts and current
 * slots only on used units, no bit past the last unit. */
int nvmap_validate(const struct vnv_heap *h)
{
    const uint32_t *a = nvmap(h, MAP_ALLOC), *s = nvmap(h, MAP_START), *c = nvmap(h, MAP_CUR);
    for (uint32_t w = 0, carry = 0; w < h->map_words; w++) {
        uint32_t left = h->units - w * 32u; /* map_words = ceil(units / 32): left > 0 */
        uint32_t past = left >= 32u ? 0u : ~((1u << left) - 1u);
        /* every used unit belongs to a home: the first used unit after a free one is a
         * start */
        uint32_t before = a[w] << 1 | carry; /* bit u: unit u - 1 is used */
        if ((s[w] & ~a[w]) || (c[w] & ~s[w]) || ((a[w] | s[w] | c[w]) & past) ||
            (a[w] & ~before & ~s[w]))
            return VNV_ERR_CORRUPT;
        carry = a[w] >> 31;
    }
    return VNV_OK;
}

static uint32_t popcount32(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24;
}

/* Bits set in map x and clear in map y (y NULL: all set bits of x). O(units / 32). */
static uint32_t count_bits(const struct vnv_heap *h, const uint32_t *x, const uint32_t *y)
{
    uint32_t n = 0;
    for (uint32_t w = 0; w < h->map_words; w++)
        n += popcount32(x[w] & ~(y ? y[w] : 0u));
    return n;
}

/* Bits set in a map (bits past the last unit are always clear). */
uint32_t nvmap_count(const struct vnv_heap *h, unsigned which)
{
    return count_bits(h, nvmap(h, which), NULL);
}

/* Units freed since the last checkpoint that wait for the next one. */
uint32_t nvmap_quarantined(const struct vnv_heap *h)
{
    return count_bits(h, nvmap(h, MAP_CALLOC), nvmap(h, MAP_ALLOC));
}
