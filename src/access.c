/*
 * access.c - object operations: alloc, free, get, get_mut, release, flush, unload, and the
 * room-making that loads and writes need (flush for budget, evict for RAM).
 *
 * Budget rule (DESIGN 5.1): h->used = checkpoint header + sum over resident objects of
 * (record + bitmap + dirty bytes), and h->used <= h->max_dirty at every instant an
 * interrupt can observe: a charge is made only after make_budget() found room, in the same
 * critical section that sets the dirty bits.
 */
#include "internal.h"

/* 1 and *out if resident, 0 if not resident, VNV_ERR_INVAL for a handle that cannot be
 * live (zero tag) or that names a resident home with another tag (stale or forged).
 * Not a critical section: a checkpoint that wipes and restores RAM in the middle of the
 * probe puts every index entry back into the slot it had (checkpoint.c walks the index
 * from just after an empty slot), so the probe continues on an identical table. */
#if defined(__GNUC__) || defined(__clang__)
#define HOT_INLINE __attribute__((always_inline)) inline
/* kept out of line, so that the hot path's only call is a tail call and needs no saved
 * registers (on rv32 with -msave-restore: no millicode prologue/epilogue) */
#define COLD_PATH __attribute__((noinline))
#else
#define HOT_INLINE inline
#define COLD_PATH
#endif

/* Typed access's `want` (the size the caller expects; 0: any) with this bit: exactly that
 * size (vnv_get_exact). Sizes stay below VNV_MAX_OBJECT_SIZE, far below this bit. */
#define WANT_EXACT 0x80000000u

/* Does an object of `size` bytes satisfy `want`? */
static int size_wanted(uint32_t size, uint32_t want)
{
    return (want & WANT_EXACT) ? size == (want & ~WANT_EXACT) : size >= want;
}

static int find_resident(const struct vnv_heap *h, vnv_obj_t obj, struct meta **out)
{
    if (id_tag(h, obj.id) == 0)
        return VNV_ERR_INVAL;
    struct meta *m = idx_lookup(h, id_key(h, obj.id));
    if (!m)
        return 0;
    *out = m;
    return m->id == obj.id ? 1 : VNV_ERR_INVAL;
}

/* The first home write after a checkpoint voids the older checkpoint in the other slot:
 * it may depend on homes that are no longer protected (nvmap.c). One write per checkpoint
 * interval. Call inside a critical section, before the write. */
int mutate_begin(struct vnv_heap *h)
{
    return h->other_live ? ckpt_invalidate_other(h) : VNV_OK;
}

/* Format 3 keeps no freed homes for reuse: storage allocation needs no I/O at all. */
int vnv_trim(struct vnv_heap *h) { return is_open(h) ? VNV_OK : VNV_ERR_INVAL; }

/* ---- flush and evict ----------------------------------------------------------------------- */

/*
 * Write the dirty bytes of an object no writer holds back home, never over what the last
 * checkpoint may read (nvmap.c):
 *   - not yet homed: header + the whole object into slot 0 (the checkpoint holds all of it);
 *   - current slot written since the last checkpoint (MAP_FRESH): the dirty bytes in place;
 *   - otherwise: the whole object into the other slot, then flip MAP_CUR.
 * One critical section and storage write per chunk (VNV_IO_CHUNK) or run, so a deferred
 * checkpoint waits for one write at most; until the last one the object stays dirty, and a
 * checkpoint meanwhile records it from RAM and the home as the map still describes it.
 */
static int write_home(struct vnv_heap *h, struct meta *m, const uint8_t *src, uint32_t *to);

/* After write_home, in the caller's section: `slot` holds the object now; `homed`: it had
 * a home before this write. The slot is fresh (no checkpoint reads it) after a flip to the
 * other slot, or after the first write (a checkpoint records a never-homed object whole).
 * A write in place leaves MAP_FRESH as it is: write_home found it set, and if a
 * checkpoint cleared it meanwhile, that checkpoint reads this slot for the blocks it did
 * not record, so it must stay protected (the next flush goes to the other slot). */
static void home_written(struct vnv_heap *h, uint32_t u, uint32_t slot, uint32_t homed)
{
    if (!homed || slot != (uint32_t)bit_get(nvmap(h, MAP_CUR), u)) {
        map_put(h, MAP_CUR, u, (int)slot);
        bit_set(nvmap(h, MAP_FRESH), u);
    }
}

static int flush_meta(struct vnv_heap *h, struct meta *m)
{
    if (!(m->word & ST_DIRTY))
        return VNV_OK;
    uint32_t u = id_unit(h, m->id), size = meta_size(m), st = m->word & ST_MASK, slot = 0;
    int err = write_home(h, m, meta_data(m), &slot);
    if (err)
        return err;
    sec_enter(h);
    home_written(h, u, slot, st & ST_HOMED);
    uint32_t d = dirty_bytes_of(m);
    if (st & ST_PARTIAL)
        memset(meta_bitmap(m), 0, bitmap_bytes(size, st));
    m->word = (m->word & ~ST_DIRTY) | ST_HOMED;
    h->used -= d;
    h->dirty_data -= d;
    h->st.flushes++;
    sec_leave(h);
    return VNV_OK;
}

/* The storage writes of a flush of `m` with the value at `src` (its RAM copy, or a group
 * member's pre-image): *to receives the slot that now holds it; the caller switches
 * MAP_CUR to it. */
static int write_home(struct vnv_heap *h, struct meta *m, const uint8_t *src, uint32_t *to)
{
    uint32_t u = id_unit(h, m->id), size = meta_size(m), home = unit_off(h, u);
    uint32_t st = m->word & ST_MASK, cur = (uint32_t)bit_get(nvmap(h, MAP_CUR), u);
    int whole = !(st & ST_HOMED) || !bit_get(nvmap(h, MAP_FRESH), u);
    uint32_t slot = !(st & ST_HOMED) ? 0u : (whole ? 1u - cur : cur);
    int err = VNV_OK;
    *to = slot;
    if (!(st & ST_HOMED)) { /* header + slot 0: one transaction when not chunked */
        uint8_t hdr[VNV_OBJ_HEADER_SIZE];
        objhdr_encode(h, hdr, m->id, size, st);
        err = slot_store(h, u, size, 0, src, hdr);
    } else if (whole || !(st & ST_PARTIAL) || SLOT_CRC != 0) { /* a checksum covers all of it */
        err = slot_store(h, u, size, slot, src, NULL);
    } else { /* a block object's dirty runs (src is its RAM copy: no pre-images here) */
        uint32_t nb = part_nblocks(size, st);
        for (uint32_t b = 0, guard = 0; !err && guard <= nb; guard++) {
            uint32_t run[1][2];
            if (!dirty_runs(m, &b, run, 1))
                break;
            err = slot_store_at(h, slot_off(home, size, slot) + run[0][0],
                                src + run[0][0], run[0][1]);
        }
    }
    return err;
}

static int evict(struct vnv_heap *h, struct meta *m)
{
    int err = flush_meta(h, m);
    if (err)
        return err;
    sec_enter(h);
    drop_resident(h, m);
    h->st.evictions++;
    sec_leave(h);
    return VNV_OK;
}

static int make_budget(struct vnv_heap *h, uint32_t need);
static int make_ram(struct vnv_heap *h, uint32_t need);

/* A reader pin held while room is made: making room may flush the object, never evict it.
 * The heap may close itself meanwhile (a checkpoint that lost the RAM and could not
 * rebuild it: heap_die zeroes the buffer), so the pin is dropped only if it is still there,
 * and INVAL then tells the caller to stop touching `m`. */
static void pin_hold(struct meta *m) { m->word += 1u; }

static int pin_drop(struct vnv_heap *h, struct meta *m)
{
    if (m->word & ST_READERS)
        m->word -= 1u;
    return heap_is_dead(h) ? VNV_ERR_INVAL : VNV_OK;
}

/* Keep the value a dirty plain object has before its first change in the group in RAM (a
 * pre-image), charged to the budget like dirty bytes: a checkpoint inside the group records
 * it with the object, and a rollback copies it back. No storage traffic, where a flush
 * would write the object home. BUDGET or NOMEM if there is no room (the caller flushes). */
static int pre_take(struct vnv_heap *h, struct meta *m)
{
    uint32_t size = meta_size(m), off = 0;
    pin_hold(m);
    int err = make_budget(h, size);
    int dead = pin_drop(h, m);
    if (err || dead || !(m->word & ST_DIRTY))
        return err ? err : dead; /* flushed to make room: its home holds the value now */
    sec_enter(h);
    err = h->ram->alloc(RAM_ST(h), size, &off);
    if (!err) {
        memcpy(h->arena + off, meta_data(m), size);
        m->pre = (uint16_t)(off / 8u + 1u);
        group_mark(h, m, ST_GROUP); /* with the pre-image, in one step: checkpoints see both */
        charge(h, size);
    }
    sec_leave(h);
    return err;
}

/* A member whose earlier value the undo log describes (small writes so far) is about to
 * change in a way it cannot describe: take a whole pre-image of that value now (its RAM
 * copy with the log's entries for it put back). BUDGET or NOMEM without room: the change
 * is refused, the group can go on or be aborted. */
static int pre_from_log(struct vnv_heap *h, struct meta *m)
{
    uint32_t size = meta_size(m), off = 0;
    int err = make_budget(h, size); /* a member: never flushed or evicted meanwhile */
    if (!err)
        err = make_ram(h, size); /* (its home does not hold that value: no flush instead) */
    sec_enter(h);
    if (!err)
        err = h->ram->alloc(RAM_ST(h), size, &off);
    if (!err) {
        memcpy(h->arena + off, meta_data(m), size);
        undo_revert(h, id_unit(h, m->id), h->arena + off);
        m->pre = (uint16_t)(off / 8u + 1u);
        charge(h, size);
    }
    sec_leave(h);
    return err;
}

/* In a group, a write of at most UNDO_MAX_BYTES into a dirty resident object whose earlier
 * value no pre-image holds: log the bytes it replaces (RAM, charged to the budget) instead
 * of copying the whole object, and make it a member (meta.pre = PRE_LOG). 1: not
 * applicable (the caller enlists it); INVAL: the heap closed itself meanwhile. */
static int log_write(struct vnv_heap *h, struct meta *m, uint32_t off, uint32_t len)
{
    uint32_t boff = 0, u = id_unit(h, m->id);
    if (!IN_GROUP(h) || !(m->word & ST_DIRTY) || (m->word & ST_PARTIAL) || !len ||
        len > UNDO_MAX_BYTES ||
        h->undo_count == 0xFFFFu || ((m->word & ST_GROUP) && m->pre != PRE_LOG))
        return 1;
    pin_hold(m);
    int err = make_budget(h, UNDO_CKPT_HDR + len);
    if (!err && m->pre == PRE_LOG) /* logged before: the alternative is a whole pre-image */
        err = make_ram(h, UNDO_HDR + len);
    if (pin_drop(h, m))
        return VNV_ERR_INVAL;
    if (err || !(m->word & ST_DIRTY))
        return 1; /* flushed meanwhile: its home holds the value, enlist does the rest */
    sec_enter(h);
    err = h->ram->alloc(RAM_ST(h), UNDO_HDR + len, &boff);
    if (!err) {
        memcpy(h->arena + boff + UNDO_HDR, meta_data(m) + off, len);
        undo_link(h, boff, u, off | UNDO_RAM, len);
        m->pre = PRE_LOG; /* with the entry and the mark, in one step */
        group_mark(h, m, ST_GROUP);
    }
    sec_leave(h);
    return err ? 1 : VNV_OK;
}

/* Make `m` a member of the open failure-atomic group before its first change. Its value
 * from before the group must survive the group: a clean object's home holds it; a dirty
 * plain object keeps it as a RAM pre-image if the budget and RAM have room; otherwise, or
 * when `homed` asks for it (a free: the revived object finds its handle in its home's
 * header), the value goes home (a flush). Members are neither flushed nor evicted until
 * the group ends (policy view, index.c). */
static int enlist(struct vnv_heap *h, struct meta *m, int homed)
{
    if (!IN_GROUP(h))
        return VNV_OK;
    if (m->word & ST_GROUP) /* a change the undo log cannot describe: a whole pre-image */
        return m->pre == PRE_LOG ? pre_from_log(h, m) : VNV_OK;
    int err = VNV_OK;
    if (!homed && (m->word & ST_DIRTY) && !(m->word & ST_PARTIAL)) {
        err = pre_take(h, m);
        if (err == VNV_ERR_BUDGET || err == VNV_ERR_NOMEM)
            err = VNV_OK; /* no room: flush instead */
    }
    if (!err && !m->pre)
        err = flush_meta(h, m);
    if (!err) {
        sec_enter(h);
        group_mark(h, m, ST_GROUP);
        sec_leave(h);
    }
    return err;
}

/* A member freed in the group that holds a pre-image: that value goes home instead (the
 * group may roll back to it, and a revived object finds its handle in its home's header);
 * the object's RAM copy stays as it is (dirty), and the pre-image is dropped. */
static int pre_to_home(struct vnv_heap *h, struct meta *m)
{
    uint32_t u = id_unit(h, m->id), slot = 0, homed = m->word & ST_HOMED;
    int err = write_home(h, m, pre_data(h, m), &slot);
    if (err)
        return err;
    sec_enter(h);
    home_written(h, u, slot, homed);
    m->word |= ST_HOMED;
    pre_drop(h, m);
    h->st.flushes++;
    sec_leave(h);
    return VNV_OK;
}

/* Ask the policy for a victim and check it really is one (a policy is replaceable code).
 * Slots are stable across a checkpoint + restore (see find_resident). */
static struct meta *pick(struct vnv_heap *h, enum vnv_pick kind)
{
    int32_t s = h->policy->pick(POL_ST(h), h, h->index_mask + 1u, kind);
    uint32_t need = kind == VNV_PICK_FLUSH ? VNV_SLOT_FLUSHABLE : VNV_SLOT_EVICTABLE;
    if (s >= 0 && (uint32_t)s <= h->index_mask && (vnv_slot_flags(h, (uint32_t)s) & need))
        return idx_meta(h, (uint32_t)s);
    return NULL;
}

/* Evict until a block of `need` bytes fits the arena and the index has a free entry.
 * At most one eviction per index entry. */
static int make_ram(struct vnv_heap *h, uint32_t need)
{
    for (uint32_t i = 0; i <= h->index_mask + 1u; i++) {
        if (h->index_used < h->index_cap && h->ram->fits(RAM_ST(h), need))
            return VNV_OK;
        struct meta *v = pick(h, VNV_PICK_EVICT);
        if (!v)
            return VNV_ERR_NOMEM;
        int err = evict(h, v);
        if (err)
            return err;
    }
    return VNV_ERR_NOMEM;
}

/* Flush (then evict) until `need` more checkpoint bytes fit the budget. Each round makes
 * an object clean or non-resident, so it ends within 2 x (index entries) rounds. */
static int make_budget(struct vnv_heap *h, uint32_t need)
{
    if (need > h->max_dirty - VNV_CKPT_HEADER_SIZE)
        return VNV_ERR_BUDGET;
    for (uint32_t i = 0; i <= 2u * (h->index_mask + 1u); i++) {
        if (h->used + need <= h->max_dirty)
            return VNV_OK;
        struct meta *v = pick(h, VNV_PICK_FLUSH);
        int err;
        if (v) {
            err = flush_meta(h, v);
        } else {
            v = pick(h, VNV_PICK_EVICT);
            if (!v)
                return VNV_ERR_BUDGET;
            err = evict(h, v);
        }
        if (err)
            return err;
    }
    return VNV_ERR_BUDGET;
}

/* Index the block at `off` as a clean, homed resident copy of `id` (its data loaded, or
 * about to be) and charge its record. Inside a critical section. */
static struct meta *place_loaded(struct vnv_heap *h, uint32_t off, uint64_t id, uint32_t size,
                                 uint32_t status)
{
    struct meta *m = (struct meta *)(void *)(h->arena + off);
    uint32_t bm = bitmap_bytes(size, status);
    m->id = id;
    m->self = (uint16_t)(off / 8u + 1u);
    m->pre = 0;
    m->word = size << ST_BITS | status | ST_HOMED;
    memset(meta_bitmap(m), 0, pad8(bm));
    idx_insert(h, id_key(h, id), off / 8u + 1u);
    charge(h, VNV_CKPT_RECORD_SIZE + bm);
    return m;
}

/* Typed load (`want` = the size the caller expects): header and data in one read when the
 * data is in slot 0 (read_objhdr_with). 0: loaded; 1: not done, with the header in `got`
 * if `*have` (another size, or slot 1); < 0: error. */
static int load_one(struct vnv_heap *h, uint64_t id, uint32_t want, struct objhdr *got,
                    int *have, struct meta **out)
{
    uint32_t need = block_need(want, 0), off = 0;
    *have = 0;
    if (!nvmap_holds(h, id_unit(h, id), want))
        return VNV_ERR_INVAL; /* its home is smaller: before room is made for that size */
    if (h->ram->footprint(RAM_ST(h), need) > h->arena_size)
        return 1; /* (the object may be smaller: the header says) */
    int err = make_budget(h, VNV_CKPT_RECORD_SIZE);
    if (!err)
        err = make_ram(h, need);
    if (err) { /* no room (a group's members fill it): a stale handle still says INVAL */
        struct objhdr oh;
        int valid = read_objhdr(h, id, &oh);
        return valid ? valid : err;
    }
    sec_enter(h); /* the block holds the storage header until it is indexed */
    err = h->ram->alloc(RAM_ST(h), need, &off);
    int r = err ? err : read_objhdr_with(h, id, h->arena + off, want, got);
    if (!r && got->size == want && !got->status) {
        *out = place_loaded(h, off, id, want, 0);
        sec_leave(h);
        h->st.loads++;
        return VNV_OK;
    }
    if (!err)
        (void)h->ram->free(RAM_ST(h), off, need);
    sec_leave(h);
    *have = !r;
    return r < 0 ? r : 1;
}

/* Make a validated, non-resident object resident (clean, unpinned). `want` > 0: typed
 * access expects at least that many bytes, or exactly (WANT_EXACT) (load_one first; INVAL
 * for another size). `known`:
 * its header, already read by the caller (or NULL). */
static int load(struct vnv_heap *h, uint64_t id, uint32_t want, const struct objhdr *known,
                struct meta **out)
{
    struct objhdr oh;
    int err = VNV_OK, have = 0;
    if (want && !known) {
        err = load_one(h, id, want & ~WANT_EXACT, &oh, &have, out);
        if (err <= 0)
            return err;
        err = VNV_OK;
    }
    if (known)
        oh = *known;
    else if (!have)
        err = read_objhdr(h, id, &oh);
    if (err)
        return err;
    if (!size_wanted(oh.size, want))
        return VNV_ERR_INVAL; /* typed access to another size: nothing loaded */
    uint32_t need = block_need(oh.size, oh.status), bm = bitmap_bytes(oh.size, oh.status);
    if (h->ram->footprint(RAM_ST(h), need) > h->arena_size)
        return VNV_ERR_NOMEM;
    err = make_budget(h, VNV_CKPT_RECORD_SIZE + bm);
    if (!err)
        err = make_ram(h, need);
    if (err)
        return err;
    uint32_t off;
    sec_enter(h);
    err = h->ram->alloc(RAM_ST(h), need, &off);
    if (!err)
        (void)place_loaded(h, off, id, oh.size, oh.status);
    sec_leave(h);
    if (err)
        return err;
    /* resident and clean from here: a checkpoint in between reloads it from home */
    struct meta *m = (struct meta *)(void *)(h->arena + off);
    uint32_t u = id_unit(h, id);
    err = slot_load(h, u, oh.size, (uint32_t)bit_get(nvmap(h, MAP_CUR), u), meta_data(m));
    if (err) {
        sec_enter(h);
        idx_remove(h, id_key(h, id));
        (void)h->ram->free(RAM_ST(h), off, need);
        h->used -= VNV_CKPT_RECORD_SIZE + bm;
        sec_leave(h);
        return err;
    }
    h->st.loads++;
    *out = m;
    return VNV_OK;
}

/* ---- dirty marking ------------------------------------------------------------------------- */

/* Mark bytes [off, off+len) of a writer-pinned object dirty, charging what was clean. */
static int mark_dirty(struct vnv_heap *h, struct meta *m, uint32_t off, uint32_t len)
{
    uint32_t size = meta_size(m);
    if (!len)
        return VNV_OK;
    if (!(m->word & ST_PARTIAL)) {
        if (m->word & ST_DIRTY)
            return VNV_OK;
        int err = make_budget(h, size);
        if (err)
            return err;
        sec_enter(h);
        m->word |= ST_DIRTY;
        charge(h, size);
        h->dirty_data += size;
        sec_leave(h);
        return VNV_OK;
    }
    uint32_t st = m->word & ST_MASK, bs = part_block(st);
    uint32_t first = off / bs, last = (off + len - 1u) / bs; /* every block touched */
    uint8_t *bm = meta_bitmap(m);
    uint32_t cost = 0;
    for (uint32_t b = first; b <= last; b++)
        if (!(bm[b >> 3] & (1u << (b & 7u))))
            cost += (b + 1u) * bs <= size ? bs : size - b * bs;
    if (!cost)
        return VNV_OK;
    int err = make_budget(h, cost);
    if (err)
        return err;
    sec_enter(h);
    for (uint32_t b = first; b <= last; b++)
        bm[b >> 3] |= (uint8_t)(1u << (b & 7u));
    m->word |= ST_DIRTY;
    charge(h, cost);
    h->dirty_data += cost;
    sec_leave(h);
    return VNV_OK;
}

/* mark_dirty for a writer pin this call just took (no pointer handed out yet): the
 * object's own earlier dirty blocks may then be flushed too, which the policy cannot do
 * because the object is pinned. */
static int mark_own_range(struct vnv_heap *h, struct meta *m, uint32_t off, uint32_t len)
{
    int err = mark_dirty(h, m, off, len);
    if (err == VNV_ERR_BUDGET && (m->word & ST_DIRTY) && !(m->word & ST_GROUP)) {
        /* (never a group member: its home may hold its value from before the group) */
        err = flush_meta(h, m);
        if (!err)
            err = mark_dirty(h, m, off, len);
    }
    return err;
}

/* Largest dirty charge one write of this object may need: all of it, or for a partial
 * object one block (a writer may dirty block by block, flushing in between). */
static uint32_t min_write_charge(uint32_t size, uint32_t status)
{
    uint32_t c = VNV_CKPT_RECORD_SIZE + bitmap_bytes(size, status);
    if (status & ST_PARTIAL)
        return c + (part_block(status) < size ? part_block(status) : size);
    return c + size;
}

/* ---- public operations ----------------------------------------------------------------------- */

#define ALLOC_MAX_PIECES 8u /* pieces of a gathered initial value */
/* RAM a logged allocation in a group leaves free: the undo entries of the two small
 * writes that usually follow it in the group (linking it in: a link and a header) */
#define GROUP_ROOM (2u * (UNDO_HDR + UNDO_MAX_BYTES))

/* An index entry and checkpoint budget for one more resident object, whose dirty bytes
 * beyond its record are `bytes`: one test for alloc_common and vnv_has_room, so that
 * vnv_has_room's promise follows what alloc does. */
static int new_resident_fits(const struct vnv_heap *h, uint32_t bytes)
{
    return h->index_used + (IN_GROUP(h) ? 0u : 1u) < h->index_cap &&
           h->used + VNV_CKPT_RECORD_SIZE + bytes <= h->max_dirty;
}

/* `init`: cnt pieces whose lengths add up to `size`, or cnt == 0 for zeroes. */
static int alloc_common(struct vnv_heap *h, size_t size, uint32_t status,
                        const struct vnv_iovec *init, unsigned cnt, vnv_obj_t *out)
{
    if (!is_open(h) || !out || size == 0 || size > VNV_MAX_OBJECT_SIZE ||
        cnt > ALLOC_MAX_PIECES)
        return VNV_ERR_INVAL;
    uint32_t sz = (uint32_t)size, need = block_need(sz, status);
    uint32_t bm = bitmap_bytes(sz, status);
    if (min_write_charge(sz, status) > h->max_dirty - VNV_CKPT_HEADER_SIZE)
        return VNV_ERR_BUDGET;
    if (h->ram->footprint(RAM_ST(h), need) > h->arena_size)
        return VNV_ERR_NOMEM;
    if (nvmap_need(h, sz) > h->nv_size)
        return VNV_ERR_NOSPC;
    if (h->alloc_count >= h->tag_reserved && h->tag_reserved != UINT64_MAX) {
        int e = tags_reserve(h); /* first, like a checkpoint before the call (it may run one) */
        if (e)
            return e;
    }
    /* In a group a new object placed at home (where the ungrouped heap would put it) is
     * logged in the group's undo log (a rollback frees it); without room for that entry it
     * stays in RAM until the group ends, so room comes first. */
    int logged = IN_GROUP(h) && h->undo_count < 0xFFFFu &&
                 make_budget(h, UNDO_CKPT_HDR) == VNV_OK && h->ram->fits(RAM_ST(h), UNDO_HDR);
    if (IN_GROUP(h) && !logged) {
        int e = make_budget(h, VNV_CKPT_RECORD_SIZE + bm + sz);
        if (!e)
            e = make_ram(h, need);
        if (e)
            return e;
    }

    sec_enter(h);
    /* the entry's block (arena offset + 1, or 0), in the section that links it: a persist
     * round that rebuilt the arena in between would drop it */
    uint32_t ub = 0;
    if (logged && h->ram->alloc(RAM_ST(h), UNDO_HDR, &ub) == VNV_OK)
        ub++;
    else
        ub = 0;
    uint32_t u = 0;
    int err = nvmap_alloc(h, sz, &u); /* RAM only: no storage traffic */
    if (err) {
        if (ub)
            (void)h->ram->free(RAM_ST(h), ub - 1u, UNDO_HDR);
        sec_leave(h);
        return err;
    }
    /* tags 1 .. 2^(64-b) - 2: the counter would need 2^53 allocations to wrap (a 64-bit
     * division is a library call on a 32-bit core: only then) */
    uint64_t tags = (UINT64_MAX >> h->unit_bits) - 1u, count = h->alloc_count;
    if (count >= tags)
        count %= tags;
    uint64_t id = (count + 1u) << h->unit_bits | u;

    /* Place it in RAM, dirty, if that needs no eviction and no flush; else write it home.
     * A resident new object costs no storage traffic until it is flushed: freed before
     * that, it never touches storage. A logged allocation in a group also leaves room for
     * the undo entries of the writes that link it in (GROUP_ROOM). A streaming container
     * makes its own room before a load needs it (vnv_has_room, vnv_unload: vnv_list). */
    uint32_t off;
    int resident = new_resident_fits(h, bm + sz) &&
                   h->ram->alloc(RAM_ST(h), need, &off) == VNV_OK;
    if (resident && ub && !h->ram->fits(RAM_ST(h), GROUP_ROOM)) {
        (void)h->ram->free(RAM_ST(h), off, need);
        resident = 0;
    }
    if (!resident && IN_GROUP(h) && !ub) {
        nvmap_free(h, u);
        sec_leave(h);
        return VNV_ERR_NOMEM;
    }
    if (!resident) { /* header + value into slot 0: one transaction */
        uint8_t hdr[VNV_OBJ_HEADER_SIZE];
        objhdr_encode(h, hdr, id, sz, status);
        struct vnv_iovec iov[18];
        unsigned n = 1;
        iov[0].base = hdr;
        iov[0].len = sizeof hdr;
        static const uint8_t zeros[64];
        uint8_t crc[4]; /* VNV_DATA_CRC: the slot's checksum ends its last write */
        uint32_t done = 0, c = 0;
        for (unsigned k = 0; k < cnt; k++) {
            if (!init[k].len)
                continue; /* the driver gets no empty (maybe NULL) piece */
            iov[n++] = init[k];
            done += init[k].len;
            c = SLOT_CRC ? vnv_crc32(c, init[k].base, init[k].len) : 0u;
        }
        if (SLOT_CRC && done == sz) {
            put_le32(crc, c);
            iov[n].base = crc;
            iov[n++].len = SLOT_CRC;
        }
        uint32_t home = unit_off(h, u);
        err = mutate_begin(h);
        if (!err)
            err = heap_writev(h, home, iov, n);
        for (uint32_t guard = 0; !err && done < sz && guard <= sz / 1024u; guard++) {
            uint32_t chunk = 0; /* zero-fill: up to 16 x 64 B per transaction */
            for (n = 0; n < 16 && done < sz; n++) {
                iov[n].base = zeros;
                iov[n].len = sz - done < sizeof zeros ? sz - done : (uint32_t)sizeof zeros;
                done += iov[n].len;
                chunk += iov[n].len;
                c = SLOT_CRC ? vnv_crc32(c, zeros, iov[n].len) : 0u;
            }
            if (SLOT_CRC && done == sz) {
                put_le32(crc, c);
                iov[n].base = crc;
                iov[n++].len = SLOT_CRC;
            }
            err = heap_writev(h, slot_off(home, sz, 0) + done - chunk, iov, n);
        }
        if (err) {
            nvmap_free(h, u); /* the units were free at the last checkpoint: nothing lost */
            if (ub)
                (void)h->ram->free(RAM_ST(h), ub - 1u, UNDO_HDR);
            sec_leave(h);
            return err;
        }
        if (ub) { /* logged with the allocation, in the same section; length 0: an
                     allocation, undone by freeing it */
            undo_link(h, ub - 1u, u, 0, 0);
            ub = 0;
        }
    } else {
        struct meta *m = (struct meta *)(void *)(h->arena + off);
        m->id = id;
        m->self = (uint16_t)(off / 8u + 1u);
        m->pre = 0;
        if (IN_GROUP(h))
            group_note(h, u);
        m->word = sz << ST_BITS | status | ST_DIRTY | ST_ACCESSED |
                  (IN_GROUP(h) ? ST_GROUP | ST_GNEW : 0u);
        if (bm) {
            uint32_t nb = part_nblocks(sz, status);
            memset(meta_bitmap(m), 0, pad8(bm));
            memset(meta_bitmap(m), 0xFF, nb / 8u);
            if (nb & 7u)
                meta_bitmap(m)[nb / 8u] = (uint8_t)((1u << (nb & 7u)) - 1u);
        }
        uint8_t *d = meta_data(m);
        uint32_t at = 0;
        for (unsigned k = 0; k < cnt; at += init[k].len, k++)
            if (init[k].len) /* (an empty piece may be NULL: memcpy's pointers may not) */
                memcpy(d + at, init[k].base, init[k].len);
        if (at < sz)
            memset(d + at, 0, sz - at); /* the bytes no piece gives (all of them for NULL) */
        idx_insert(h, u, off / 8u + 1u);
        charge(h, VNV_CKPT_RECORD_SIZE + bm + sz);
        h->dirty_data += sz;
    }
    if (ub) /* placed in RAM: its marks undo it */
        (void)h->ram->free(RAM_ST(h), ub - 1u, UNDO_HDR);
    /* Past 2^64 - 1 the counter goes on from `tags`, never below a live tag (every tag
     * counts as issued there): only a crafted image can start it that high. */
    h->alloc_count = h->alloc_count + 1u ? h->alloc_count + 1u : tags;
    h->st.allocs++;
    sec_leave(h);
    *out = (vnv_obj_t){id};
    return VNV_OK;
}

int vnv_alloc(struct vnv_heap *h, size_t size, const void *init, vnv_obj_t *out)
{
    struct vnv_iovec one = {init, (uint32_t)size};
    return alloc_common(h, size, 0, &one, init ? 1u : 0u, out);
}

#if !VNV_MINIMAL /* gather and block objects: not in the minimal profile */
int vnv_alloc_gather(struct vnv_heap *h, const struct vnv_iovec *init, unsigned cnt,
                     vnv_obj_t *out)
{
    uint32_t size = 0;
    if (!init || cnt == 0 || cnt > ALLOC_MAX_PIECES)
        return VNV_ERR_INVAL;
    for (unsigned k = 0; k < cnt; k++) {
        if ((!init[k].base && init[k].len) || init[k].len > VNV_MAX_OBJECT_SIZE - size)
            return VNV_ERR_INVAL;
        size += init[k].len;
    }
    return alloc_common(h, size, 0, init, cnt, out);
}

int vnv_alloc_blocks(struct vnv_heap *h, size_t size, uint32_t block_size, const void *init,
                     vnv_obj_t *out)
{
    uint32_t shift;
    switch (block_size) {
    case 16: shift = 0; break;
    case 32: shift = 1; break;
    case 64: shift = 2; break;
    case 128: shift = 3; break;
    default: return VNV_ERR_INVAL;
    }
    struct vnv_iovec one = {init, (uint32_t)size};
    return alloc_common(h, size, ST_PARTIAL | shift << ST_PSHIFT_POS, &one, init ? 1u : 0u,
                        out);
}
#endif

/* A member about to be freed in the group, whose home now holds its value from before the
 * group, becomes a ghost (internal.h): its RAM copy, the group's changes if any, is dropped
 * and its block shrinks in place to the meta and bitmap. Inside a critical section; NOMEM
 * (nothing changed) only if the RAM allocator cannot shrink a block (alloc.h). */
static int make_ghost(struct vnv_heap *h, struct meta *m)
{
    uint32_t off = (uint32_t)((uint8_t *)m - h->arena), size = meta_size(m);
    uint32_t st = m->word & ST_MASK, was = block_need(size, st);
    uint32_t now = block_need(size, (st & ~ST_DIRTY) | ST_GFREE), d = dirty_bytes_of(m);
    /* A freed block's first bytes may hold the allocator's links (both in-tree allocators
     * keep at most 12 there: the meta is saved, the bitmap and data are not touched). */
    struct meta keep = *m;
    (void)h->ram->free(RAM_ST(h), off, was);
    int err = h->ram->alloc_at(RAM_ST(h), off, now);
    if (err) /* an allocator that cannot shrink: take the block back, nothing changed */
        err = h->ram->alloc_at(RAM_ST(h), off, was) == VNV_OK ? VNV_ERR_NOMEM : VNV_ERR_CORRUPT;
    *m = keep;
    if (err)
        return err;
    memset(meta_bitmap(m), 0, pad8(bitmap_bytes(size, st)));
    h->used -= d;
    h->dirty_data -= d;
    m->pre = 0; /* (PRE_LOG: its home holds that value now) */
    m->word &= ~ST_DIRTY;
    group_mark(h, m, ST_GROUP | ST_GFREE);
    return VNV_OK;
}

/* Free, in the group, an object that is not resident: its home holds its value, so no load,
 * only a ghost in RAM (a record in the checkpoint) that refuses the handle until the group
 * ends. */
static int free_ghost(struct vnv_heap *h, vnv_obj_t obj)
{
    struct objhdr oh; /* validates the handle */
    int err = read_objhdr(h, obj.id, &oh);
    uint32_t st = oh.status | ST_HOMED | ST_GROUP | ST_GFREE, off = 0;
    uint32_t need = block_need(oh.size, st), bm = bitmap_bytes(oh.size, st);
    if (!err)
        err = make_budget(h, VNV_CKPT_RECORD_SIZE + bm);
    if (!err)
        err = make_ram(h, need);
    if (err)
        return err;
    sec_enter(h);
    if (idx_find(h, id_key(h, obj.id)) >= 0)
        err = VNV_ERR_BUSY; /* loaded meanwhile (an interrupt): the caller may retry */
    if (!err)
        err = h->ram->alloc(RAM_ST(h), need, &off);
    if (!err) {
        struct meta *m = (struct meta *)(void *)(h->arena + off);
        m->id = id_unit(h, obj.id);
        m->self = (uint16_t)(off / 8u + 1u);
        m->pre = 0;
        group_note(h, id_unit(h, obj.id));
        m->word = oh.size << ST_BITS | st;
        memset(meta_bitmap(m), 0, pad8(bm));
        idx_insert(h, id_key(h, obj.id), off / 8u + 1u);
        charge(h, VNV_CKPT_RECORD_SIZE + bm);
        if (h->root == obj.id)
            h->root = 0;
        h->st.frees++;
    }
    sec_leave(h);
    return err;
}

int vnv_free(struct vnv_heap *h, vnv_obj_t obj)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    struct meta *m = NULL;
    int r = find_resident(h, obj, &m);
    if (r < 0)
        return r;
    if (r && (m->word & ST_PINS))
        return VNV_ERR_BUSY;
    if (IN_GROUP(h) && !(r && (m->word & ST_GNEW))) {
        /* In a group: the object only looks freed (tag 0 in RAM: its handle is refused)
         * and comes back, handle and value, if the group rolls back. A dirty one keeps
         * its value from before the group in RAM and its handle in an 8-byte pre block
         * (no storage traffic); otherwise both are in its home. */
        if (!r)
            return free_ghost(h, obj);
        int err = VNV_OK, keep = 0, logged = m->pre == PRE_LOG;
        uint32_t off = 0;
        if (logged) { /* small writes so far: put its bytes back, the value before (a */
            sec_enter(h); /* checkpoint from here on records it; a rollback puts the same */
            undo_revert(h, id_unit(h, m->id), meta_data(m)); /* bytes back again) */
            sec_leave(h);
        }
        /* its RAM copy (or pre-image) must be the value from before the group; a member
         * without a pre-image has that value in its home */
        if ((m->word & ST_DIRTY) && (!(m->word & ST_GROUP) || m->pre)) {
            pin_hold(m);
            keep = make_budget(h, 8u) == VNV_OK;
            if (pin_drop(h, m))
                return VNV_ERR_INVAL;
            keep = keep && (m->word & ST_DIRTY);
        }
        sec_enter(h);
        keep = keep && h->ram->alloc(RAM_ST(h), 8u, &off) == VNV_OK;
        if (keep) {
            if (pre_block(m)) /* changed earlier in the group: back to the value before */
                memcpy(meta_data(m), pre_data(h, m), meta_size(m));
            pre_drop(h, m);
            put_le64(h->arena + off, m->id);
            m->pre = (uint16_t)(off / 8u + 1u);
            group_mark(h, m, ST_GROUP | ST_GFREE); /* with the pre block and tombstone: a */
            m->id = id_unit(h, m->id);      /* checkpoint sees all of it or none */
            charge(h, 8u);
            if (h->root == obj.id)
                h->root = 0;
            h->st.frees++;
        }
        sec_leave(h);
        if (keep)
            return VNV_OK;
        err = logged ? flush_meta(h, m) : enlist(h, m, 1); /* (logged: a member already) */
        if (!err && pre_block(m))
            err = pre_to_home(h, m); /* changed earlier in the group, then freed */
        if (err)
            return err;
        sec_enter(h);
        err = make_ghost(h, m);
        if (!err) {
            m->id = id_unit(h, m->id);
            if (h->root == obj.id)
                h->root = 0;
            h->st.frees++;
        }
        sec_leave(h);
        return err;
    }
    if (!r) {
        struct objhdr oh; /* validates the handle */
        int err = read_objhdr(h, obj.id, &oh);
        if (err)
            return err;
    }
    /* No storage traffic: the home's units are free now, and reusable once the next
     * checkpoint no longer needs them (nvmap.c). */
    sec_enter(h);
    if (r)
        drop_resident(h, m);
    if (IN_GROUP(h))
        nvmap_free(h, id_unit(h, obj.id)); /* (allocated in the group) */
    else
        nvmap_free_keep(h, id_unit(h, obj.id)); /* (perhaps the spare: nvmap.c) */
    if (h->root == obj.id)
        h->root = 0; /* never record a dangling root */
    h->st.frees++;
    sec_leave(h);
    return VNV_OK;
}

/* Pin a reader on `m` (resident, found for `obj`). */
static HOT_INLINE int pin_reader(struct meta *m, const void **ptr)
{
    uint32_t w = m->word;
    /* (the writer bit sits above the reader count: one compare takes both) */
    if ((w & (ST_WRITER | ST_READERS)) >= VNV_MAX_READERS || (int32_t)(w << 18) < 0)
        return (w & ST_GFREE) ? VNV_ERR_INVAL : VNV_ERR_BUSY; /* GFREE: a handle of tag 0
                                    matched the tombstone of an object freed in a group */
    m->word = (w + 1u) | ST_ACCESSED; /* one plain store: an interrupt sees before or after */
    *ptr = meta_data(m);
    return VNV_OK;
}

/* A resident object as large as typed access expects (`want` > 0), exactly that large
 * (`want` with WANT_EXACT), or any (0). */
static int size_is(const struct meta *m, uint32_t want)
{
    return size_wanted(meta_size(m), want);
}

/* Everything but a resident hit: bad handles and loads. */
static COLD_PATH int get_slow(struct vnv_heap *h, vnv_obj_t obj, uint32_t want,
                              const void **ptr)
{
    struct meta *m;
    int r = find_resident(h, obj, &m);
    if (r < 0)
        return r;
    if (!r) {
        int err = load(h, obj.id, want, NULL, &m);
        if (err)
            return err;
    }
    return size_is(m, want) ? pin_reader(m, ptr) : VNV_ERR_INVAL;
}

int vnv_get(struct vnv_heap *h, vnv_obj_t obj, const void **ptr)
{
    if (!is_open(h) || !ptr)
        return VNV_ERR_INVAL;
    struct meta *m = idx_lookup(h, id_key(h, obj.id)); /* the O(1) resident hit */
    if (!m || m->id != obj.id)
        return get_slow(h, obj, 0, ptr);
    return pin_reader(m, ptr);
}

static int get_typed(struct vnv_heap *h, vnv_obj_t obj, size_t size, uint32_t exact,
                     const void **ptr)
{
    if (!is_open(h) || !ptr || !size || size > VNV_MAX_OBJECT_SIZE)
        return VNV_ERR_INVAL;
    uint32_t want = (uint32_t)size | exact;
    struct meta *m = idx_lookup(h, id_key(h, obj.id));
    if (!m || m->id != obj.id)
        return get_slow(h, obj, want, ptr);
    return size_is(m, want) ? pin_reader(m, ptr) : VNV_ERR_INVAL;
}

int vnv_get_sized(struct vnv_heap *h, vnv_obj_t obj, size_t size, const void **ptr)
{
    return get_typed(h, obj, size, 0, ptr);
}

int vnv_get_exact(struct vnv_heap *h, vnv_obj_t obj, size_t size, const void **ptr)
{
    return get_typed(h, obj, size, WANT_EXACT, ptr);
}

/* `want`: as for load. */
static int get_writer(struct vnv_heap *h, vnv_obj_t obj, uint32_t want, struct meta **out)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    struct meta *m;
    int r = find_resident(h, obj, &m);
    if (r < 0)
        return r;
    if (r && !size_is(m, want))
        return VNV_ERR_INVAL;
    if (r && (m->word & ST_PINS))
        return VNV_ERR_BUSY;
    if (!r) {
        struct objhdr oh = {want & ~WANT_EXACT, 0};
        uint32_t most = h->max_dirty - VNV_CKPT_HEADER_SIZE;
        /* the header first when the size is unknown, or when the asked size would not fit
         * the budget (is the object that large, or is the size wrong: INVAL?) */
        int known = !want || min_write_charge(oh.size, 0) > most;
        int err = known ? read_objhdr(h, obj.id, &oh) : VNV_OK;
        if (!err && known && !size_wanted(oh.size, want))
            err = VNV_ERR_INVAL;
        if (err)
            return err;
        if (min_write_charge(oh.size, oh.status) > most)
            return VNV_ERR_BUDGET;
        err = load(h, obj.id, want, known ? &oh : NULL, &m);
        if (err)
            return err;
    }
    int err = IN_GROUP(h) ? enlist(h, m, 0) : VNV_OK;
    if (err)
        return err;
    /* Pin before making budget room, so the target can never be flushed or evicted. */
    m->word |= ST_WRITER | ST_ACCESSED;
    *out = m;
    return VNV_OK;
}

static int get_mut(struct vnv_heap *h, vnv_obj_t obj, uint32_t want, void **ptr);

int vnv_get_mut(struct vnv_heap *h, vnv_obj_t obj, void **ptr)
{
    return get_mut(h, obj, 0, ptr);
}

int vnv_get_mut_sized(struct vnv_heap *h, vnv_obj_t obj, size_t size, void **ptr)
{
    if (!size || size > VNV_MAX_OBJECT_SIZE)
        return VNV_ERR_INVAL;
    return get_mut(h, obj, (uint32_t)size, ptr);
}

int vnv_get_mut_exact(struct vnv_heap *h, vnv_obj_t obj, size_t size, void **ptr)
{
    if (!size || size > VNV_MAX_OBJECT_SIZE)
        return VNV_ERR_INVAL;
    return get_mut(h, obj, (uint32_t)size | WANT_EXACT, ptr);
}

/* Everything but the hot case below: loads, budget, groups, bad handles. */
static COLD_PATH int get_mut_slow(struct vnv_heap *h, vnv_obj_t obj, uint32_t want,
                                  void **ptr)
{
    struct meta *m;
    int err = get_writer(h, obj, want, &m);
    if (err)
        return err;
    err = mark_dirty(h, m, 0, meta_size(m));
    if (err) {
        m->word &= ~ST_WRITER;
        return err;
    }
    writer_pins_add(h, 1);
    *ptr = meta_data(m);
    return VNV_OK;
}

static int get_mut(struct vnv_heap *h, vnv_obj_t obj, uint32_t want, void **ptr)
{
    if (!ptr)
        return VNV_ERR_INVAL;
    if (is_open(h) && !IN_GROUP(h) && id_tag(h, obj.id) != 0) {
        /* the hot case: resident, unpinned and already wholly dirty - nothing to load,
         * enlist or charge, as get_writer + mark_dirty would conclude */
        struct meta *m = idx_lookup(h, id_key(h, obj.id));
        if (m && m->id == obj.id && !(m->word & ST_PINS) &&
            (m->word & (ST_DIRTY | ST_PARTIAL)) == ST_DIRTY && size_is(m, want)) {
            m->word |= ST_WRITER | ST_ACCESSED;
            writer_pins_add(h, 1);
            *ptr = (uint8_t *)m + VNV_META_SIZE; /* (meta_data of a plain object) */
            return VNV_OK;
        }
    }
    return get_mut_slow(h, obj, want, ptr);
}

#if !VNV_MINIMAL
int vnv_get_mut_range(struct vnv_heap *h, vnv_obj_t obj, size_t off, size_t len, void **ptr)
{
    struct meta *m;
    if (!ptr)
        return VNV_ERR_INVAL;
    int err = get_writer(h, obj, 0, &m);
    if (err)
        return err;
    if (off > meta_size(m) || len > meta_size(m) - off)
        err = VNV_ERR_INVAL;
    else
        err = mark_own_range(h, m, (uint32_t)off, (uint32_t)len);
    if (err) {
        m->word &= ~ST_WRITER;
        return err;
    }
    writer_pins_add(h, 1);
    *ptr = meta_data(m);
    return VNV_OK;
}

int vnv_mark_dirty(struct vnv_heap *h, vnv_obj_t obj, size_t off, size_t len)
{
    struct meta *m;
    if (!is_open(h) || find_resident(h, obj, &m) != 1 || !(m->word & ST_WRITER) ||
        off > meta_size(m) || len > meta_size(m) - off)
        return VNV_ERR_INVAL;
    return mark_dirty(h, m, (uint32_t)off, (uint32_t)len);
}
#endif

int vnv_release(struct vnv_heap *h, vnv_obj_t obj)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    struct meta *m = idx_lookup(h, id_key(h, obj.id));
    if (!m || m->id != obj.id) /* not resident, stale or forged: never pinned */
        return VNV_ERR_INVAL;
    uint32_t w = m->word;
    if (w & ST_WRITER) {
        m->word = w & ~ST_WRITER;
        writer_pins_add(h, -1);
    } else if (w & ST_READERS)
        m->word = w - 1u;
    else
        return VNV_ERR_INVAL;
    return VNV_OK;
}

/* For flush and unload: 1 and *m if `obj` is resident and none of the `busy_if` pins is
 * held, 0 if it is valid but not resident (nothing to do), else an error. */
static int resident_unpinned(struct vnv_heap *h, vnv_obj_t obj, uint32_t busy_if,
                             struct meta **m)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    int r = find_resident(h, obj, m);
    if (r == 0) {
        struct objhdr oh; /* validates the handle */
        return read_objhdr(h, obj.id, &oh);
    }
    if (r > 0 && ((*m)->word & busy_if))
        return VNV_ERR_BUSY;
    return r;
}

int vnv_flush(struct vnv_heap *h, vnv_obj_t obj)
{
    struct meta *m = NULL;
    /* readers cannot change it; a group member keeps its home for a rollback */
    int r = resident_unpinned(h, obj, ST_WRITER | ST_GMASK, &m);
    return r <= 0 ? r : flush_meta(h, m);
}

int vnv_unload(struct vnv_heap *h, vnv_obj_t obj)
{
    struct meta *m = NULL;
    int r = resident_unpinned(h, obj, ST_PINS | ST_GMASK, &m);
    return r <= 0 ? r : evict(h, m);
}

/* ---- copy in / copy out: no pin, and no load for a non-resident object ----------------------- */

/* Where bytes [off, off+len) of `obj` are: 1 and *m if resident, 0 and *at (their storage
 * offset) if not; VNV_ERR_INVAL for a bad handle or a range outside the object. */
static int locate_range(struct vnv_heap *h, vnv_obj_t obj, size_t off, size_t len,
                        struct meta **m, uint32_t *at, uint32_t *size_out)
{
    int r = find_resident(h, obj, m);
    uint32_t size = 0;
    if (r < 0)
        return r;
    if (r) {
        size = meta_size(*m);
    } else {
        struct objhdr oh;
        int err = read_objhdr(h, obj.id, &oh);
        if (err)
            return err;
        size = oh.size;
        uint32_t u = id_unit(h, obj.id);
        *at = slot_off(unit_off(h, u), size, (uint32_t)bit_get(nvmap(h, MAP_CUR), u)) +
              (uint32_t)off;
    }
    *size_out = size;
    return (off > size || len > size - off) ? VNV_ERR_INVAL : r;
}

#define COW_CHUNK 128u

/* vnv_write to a non-resident object whose current slot the last checkpoint may read:
 * copy it to the other slot with [off, off+len) replaced, then flip MAP_CUR. Never loads,
 * so streaming writes evict nothing. 2 x ceil(size / COW_CHUNK) transactions.
 * `in_place` (VNV_DATA_CRC, current slot not protected): rewrite the current slot the same
 * way, after checking it, in one critical section, and its checksum with it. */
static int cow_write(struct vnv_heap *h, uint64_t id, uint32_t size, uint32_t off,
                     const uint8_t *src, uint32_t len, int in_place)
{
    int err = VNV_OK; /* the handle and the range were checked by locate_range */
    uint32_t u = id_unit(h, id), home = unit_off(h, u);
    uint32_t cur = (uint32_t)bit_get(nvmap(h, MAP_CUR), u), to = in_place ? cur : 1u - cur;
    if (in_place) {
        err = slot_verify(h, u, size, cur); /* never launder rot into a new checksum */
        if (err)
            return err;
        sec_enter(h);
        if (!bit_get(nvmap(h, MAP_FRESH), u)) { /* a checkpoint since the caller looked: */
            sec_leave(h);                       /* it reads this slot, so copy after all */
            in_place = 0;
            to = 1u - cur;
        }
    }
    uint8_t buf[COW_CHUNK];
    uint32_t was = 0, now = 0; /* checksums of the old and the new value */
    for (uint32_t c = 0; c < size && !err; c += COW_CHUNK) {
        uint32_t n = size - c < COW_CHUNK ? size - c : COW_CHUNK;
        err = heap_read(h, slot_off(home, size, cur) + c, buf, n);
        was = SLOT_CRC ? vnv_crc32(was, buf, n) : 0u;
        uint32_t lo = off > c ? off : c, hi = off + len < c + n ? off + len : c + n;
        if (!err && lo < hi)
            memcpy(buf + (lo - c), src + (lo - off), hi - lo);
        now = SLOT_CRC ? vnv_crc32(now, buf, n) : 0u;
        struct vnv_iovec iov = {buf, n};
        sec_enter(h);
        if (!err)
            err = mutate_begin(h);
        if (!err)
            err = heap_writev(h, slot_off(home, size, to) + c, &iov, 1);
        sec_leave(h);
    }
#if VNV_DATA_CRC
    if (!err && !in_place)
        err = slot_check_crc(h, u, size, cur, was); /* the source was intact */
    uint8_t cb[4];
    put_le32(cb, now);
    struct vnv_iovec ci = {cb, sizeof cb};
    sec_enter(h);
    if (!err)
        err = heap_writev(h, slot_off(home, size, to) + size, &ci, 1);
    sec_leave(h);
#else
    (void)was;
    (void)now;
#endif
    if (in_place)
        sec_leave(h);
    if (err || in_place)
        return err;
    sec_enter(h);
    map_put(h, MAP_CUR, u, (int)(1u - cur));
    bit_set(nvmap(h, MAP_FRESH), u);
    sec_leave(h);
    return VNV_OK;
}

/* A vnv_read of a non-resident object's first PEEK_MAX bytes reads its header and them in
 * one transaction when its data is in slot 0 (a container checking a node's owner). */
#define PEEK_MAX 48u

int vnv_read(struct vnv_heap *h, vnv_obj_t obj, size_t off, void *dst, size_t len)
{
    struct meta *m = NULL;
    uint32_t at = 0, size = 0;
    if (!is_open(h) || (!dst && len))
        return VNV_ERR_INVAL;
    int r = find_resident(h, obj, &m);
    if (r < 0)
        return r;
    if (r) { /* resident: a copy (the checks locate_range would make) */
        size = meta_size(m);
        if (off > size || len > size - off)
            return VNV_ERR_INVAL;
        if (m->word & ST_WRITER)
            return VNV_ERR_BUSY;
        if (len)
            memcpy(dst, meta_data(m) + off, len);
        m->word |= ST_ACCESSED;
        return VNV_OK;
    }
    if (len && off <= PEEK_MAX && len <= PEEK_MAX - off) {
        uint8_t b[VNV_OBJ_HEADER_SIZE + PEEK_MAX];
        struct objhdr oh;
        r = read_objhdr_with(h, obj.id, b, (uint32_t)(off + len), &oh);
        if (r < 0)
            return r;
        if (r == 0) {
            if (off + len > oh.size)
                return VNV_ERR_INVAL;
            memcpy(dst, b + VNV_OBJ_HEADER_SIZE + off, len);
            return VNV_OK;
        }
    }
    /* not resident (nothing above loads it): straight from home, streaming data evicts
     * nothing */
    r = locate_range(h, obj, off, len, &m, &at, &size);
    if (r < 0)
        return r;
    uint32_t u = id_unit(h, obj.id);
    (void)at;
    return slot_read_range(h, u, size, (uint32_t)bit_get(nvmap(h, MAP_CUR), u), (uint32_t)off,
                           dst, (uint32_t)len);
}

/* In a group, a short write to a non-resident object whose current slot the last
 * checkpoint does not read (MAP_FRESH): write it through, and keep the bytes it replaces in
 * the group's undo log (RAM, charged to the budget; a checkpoint inside the group records
 * it, a rollback writes them back). One read and one write of `len` bytes, where loading
 * the object would read it whole and flush it whole later. 1: not applicable (too long,
 * the slot is protected, no room, the data checksum): load the object instead. */
static int write_through(struct vnv_heap *h, uint64_t id, uint32_t at, const void *src,
                         uint32_t len)
{
    uint32_t u = id_unit(h, id), boff = 0;
    if (SLOT_CRC || !len || len > UNDO_MAX_BYTES || h->undo_count == 0xFFFFu ||
        make_budget(h, UNDO_CKPT_HDR + len))
        return 1;
    /* One section from the allocation to the write: a persist round that rebuilt the
     * arena in between would drop the entry's block (it is in no index yet) */
    sec_enter(h);
    int err = !bit_get(nvmap(h, MAP_FRESH), u) ? 1 /* the last checkpoint reads the slot */
                                               : h->ram->alloc(RAM_ST(h), UNDO_HDR + len, &boff);
    if (err) {
        sec_leave(h);
        return 1;
    }
    err = heap_read(h, at, h->arena + boff + UNDO_HDR, len); /* what a rollback puts back */
    if (err) {
        (void)h->ram->free(RAM_ST(h), boff, UNDO_HDR + len);
        sec_leave(h);
        return err;
    }
    undo_link(h, boff, u, at, len); /* before the write: a checkpoint sees both or neither */
    struct vnv_iovec iov = {src, len};
    err = mutate_begin(h);
    if (!err)
        err = heap_writev(h, at, &iov, 1);
    sec_leave(h);
    return err;
}

int vnv_write(struct vnv_heap *h, vnv_obj_t obj, size_t off, const void *src, size_t len)
{
    struct meta *m = NULL;
    uint32_t at = 0, size = 0;
    if (!is_open(h) || (!src && len))
        return VNV_ERR_INVAL;
    int r = locate_range(h, obj, off, len, &m, &at, &size);
    if (r < 0 || !len)
        return r < 0 ? r : VNV_OK; /* (nothing to write: handle and offset checked) */
    if (!r && IN_GROUP(h)) { /* in a group: the old value must survive until the group ends */
        int err = write_through(h, obj.id, at, src, (uint32_t)len);
        if (err <= 0)
            return err;
        err = load(h, obj.id, 0, NULL, &m); /* changed in RAM only, its home keeps the old value */
        if (err)
            return err;
        r = 1;
    }
    if (r) {
        if (m->word & ST_PINS)
            return VNV_ERR_BUSY;
        if (!IN_GROUP(h) && (m->word & (ST_DIRTY | ST_PARTIAL)) == ST_DIRTY) {
            memcpy(meta_data(m) + off, src, len); /* wholly dirty: nothing to log or charge */
            m->word |= ST_ACCESSED;
            return VNV_OK;
        }
        int err = log_write(h, m, (uint32_t)off, (uint32_t)len);
        if (err > 0)
            err = enlist(h, m, 0);
        if (err)
            return err;
        m->word |= ST_WRITER | ST_ACCESSED; /* pinned while budget room is made */
        err = mark_own_range(h, m, (uint32_t)off, (uint32_t)len);
        if (!err)
            memcpy(meta_data(m) + off, src, len);
        m->word &= ~ST_WRITER;
        return err;
    }
    /* Not resident: the home is the only copy, write through (no budget involved) while
     * its current slot is not the last checkpoint's; else, or for what is left once a
     * checkpoint has protected it, copy on write (which carries what was written). */
    uint32_t done = 0;
    int err = slot_write_fresh(h, id_unit(h, obj.id), at, src, (uint32_t)len, &done);
    if (err == 1) /* (with a checksum, the slot is rewritten with it) */
        err = cow_write(h, obj.id, size, (uint32_t)off + done, (const uint8_t *)src + done,
                        (uint32_t)len - done, bit_get(nvmap(h, MAP_FRESH), id_unit(h, obj.id)));
    return err;
}

int vnv_size(struct vnv_heap *h, vnv_obj_t obj, size_t *size)
{
    struct meta *m;
    if (!is_open(h) || !size)
        return VNV_ERR_INVAL;
    int r = find_resident(h, obj, &m);
    if (r < 0)
        return r;
    if (r) {
        *size = meta_size(m);
        return VNV_OK;
    }
    struct objhdr oh;
    int err = read_objhdr(h, obj.id, &oh);
    if (!err)
        *size = oh.size;
    return err;
}

bool vnv_has_room(const struct vnv_heap *h, size_t size)
{
    if (!is_open(h) || size == 0 || size > VNV_MAX_OBJECT_SIZE)
        return false;
    uint32_t sz = (uint32_t)size;
    return new_resident_fits(h, sz) && h->ram->fits(RAM_ST(h), block_need(sz, 0)) == 1;
}

bool vnv_is_resident(const struct vnv_heap *h, vnv_obj_t obj)
{
    struct meta *m;
    return is_open(h) && find_resident(h, obj, &m) == 1;
}

bool vnv_is_dirty(const struct vnv_heap *h, vnv_obj_t obj)
{
    struct meta *m;
    return is_open(h) && find_resident(h, obj, &m) == 1 && (m->word & ST_DIRTY);
}

int vnv_root(const struct vnv_heap *h, vnv_obj_t *out)
{
    if (!is_open(h) || !out)
        return VNV_ERR_INVAL;
    out->id = h->root;
    return VNV_OK;
}

int vnv_set_root(struct vnv_heap *h, vnv_obj_t obj)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    if (obj.id) {
        struct meta *m;
        int r = find_resident(h, obj, &m);
        if (r < 0)
            return r;
        struct objhdr oh;
        int err = r ? VNV_OK : read_objhdr(h, obj.id, &oh);
        if (err)
            return err;
    }
    sec_enter(h); /* two stores on a 32-bit core: a checkpoint must not see half */
    h->root = obj.id;
    sec_leave(h);
    return VNV_OK;
}
