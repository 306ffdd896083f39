/*
 * group.c - failure-atomic groups: vnv_atomic_begin / end / abort, and the rollback a restart
 * applies to a checkpoint taken inside a group.
 *
 * A group is not a critical section: a power-fail request inside it is served at once, with
 * the same bound as anywhere else. What makes the group all-or-nothing after a restart is
 * kept in its members (access.c, enlist): before its first change inside the group an
 * object's value is kept (in its home, or as a RAM pre-image), and from then on it is
 * neither flushed nor evicted, so that value survives; objects allocated in the group stay in RAM and
 * are marked new; objects freed in the group keep their homes and are marked freed. A
 * checkpoint records these marks (with the root from before the group), so:
 *   - resume (RAM rebuilt in the running program): everything as it was, group still open;
 *   - restart (vnv_open): members reload their homes, new ones vanish, freed ones return,
 *     the root is the one from before: the state before the group began;
 *   - vnv_atomic_abort: the same rollback, in the running program;
 *   - vnv_atomic_end: freed members really go; marks are cleared.
 * A member that was dirty when the group first changed it keeps its earlier value as a RAM
 * pre-image (charged to the budget, written by checkpoints inside the group with the
 * object, copied back by a rollback) when the budget and RAM have room, else that value
 * is flushed home first. Members' changes are dirty bytes like any others, only they
 * cannot be flushed to make room (VNV_ERR_BUDGET at the change that does not fit).
 */
#include "internal.h"
#if !VNV_MINIMAL /* failure-atomic groups: not in the minimal profile */

/* A unit is noted before its object gets its first mark, so every marked object is noted
 * - or group_noted is GROUP_WALK (more members than fit, or marks a restart's restore
 * brought back) and end and abort walk the index. A note is a hint: the visit skips a unit
 * whose object is gone or has no mark. */
void group_note(struct vnv_heap *h, uint32_t unit)
{
    if (h->group_noted < GROUP_NOTES && unit <= 0xFFFFu) /* (VNV_MAX_UNITS may be raised) */
        h->group_units[h->group_noted++] = (uint16_t)unit;
    else
        h->group_noted = GROUP_WALK;
}

/* Set group marks on `m`, noting it first if it had none. */
void group_mark(struct vnv_heap *h, struct meta *m, uint32_t bits)
{
    if (!(m->word & ST_GMASK))
        group_note(h, id_unit(h, m->id));
    m->word |= bits;
}

/* Does the program hold a writer pin? The count says no at once; a count above zero is
 * confirmed by a walk (one that drifted high then costs time, never a refusal). */
static int writer_held(struct vnv_heap *h)
{
    if (!h->writer_pins)
        return 0;
    for (uint32_t s = 0; (s = idx_next_used(h, s)) <= h->index_mask; s++) {
        const struct meta *m = idx_meta(h, s);
        if (m && (m->word & ST_WRITER))
            return 1;
    }
    h->writer_pins = 0;
    return 0;
}

int vnv_atomic_begin(struct vnv_heap *h)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    if (h->group == 255u)
        return VNV_ERR_BUSY;
    if (!h->group) {
        if (writer_held(h))
            return VNV_ERR_BUSY; /* its changes could not be rolled back: pin it inside */
        sec_enter(h);
        nvmap_spare_drop(h); /* (a group's rollback frees homes: none is kept aside) */
        h->group_noted = 0;
        sec_leave(h);
        h->group_root = h->root;
    }
    h->group++;
    return VNV_OK;
}

/* Apply `roll_back` (1) or commit (0) to member `m` (marked); the first error goes to
 * *err. 1 if its index entry was removed. */
static int member_one(struct vnv_heap *h, struct meta *m, int roll_back, int *err)
{
    uint32_t st = m->word, u = id_unit(h, m->id);
    if ((st & ST_GNEW) || (!roll_back && (st & ST_GFREE))) {
        if ((st & ST_GNEW) && !roll_back) {
            m->word &= ~ST_GMASK; /* allocated in the group: now simply live */
            return 0;
        }
        drop_resident(h, m); /* gone: never existed, or freed for good */
        nvmap_free(h, u);
        return 1;
    }
    int revived = 0; /* from the pre block: the RAM copy is the value from before */
    if (roll_back && (st & ST_GFREE) && pre_block(m)) { /* freed in the group, kept in RAM */
        uint64_t id = get_le64(pre_data(h, m));
        if (id_unit(h, id) != u || !id_tag(h, id) || id_tag(h, id) > h->alloc_count) {
            *err = *err ? *err : VNV_ERR_CORRUPT;
            return 0;
        }
        pre_drop(h, m);
        m->id = id;
        revived = 1;
    } else if (roll_back && (st & ST_GFREE)) { /* freed in the group: from its home */
        struct objhdr oh;
        uint64_t id = 0;
        int e = unit_header(h, u, &id, &oh);
        if (!e && oh.size != meta_size(m))
            e = VNV_ERR_CORRUPT;
        if (e) {
            *err = *err ? *err : e;
            return 0;
        }
        m->id = id;
        if (ghost(st)) { /* its home holds it: no RAM copy to keep */
            drop_resident(h, m);
            return 1;
        }
    }
    if (m->pre == PRE_LOG) { /* undo_ram has put its bytes back already */
        m->pre = 0;
    } else if (m->pre) { /* its value from before the group is a RAM pre-image */
        if (roll_back)
            memcpy(meta_data(m), pre_data(h, m), meta_size(m)); /* newer than home: dirty */
        pre_drop(h, m);
    } else if (roll_back && (st & ST_DIRTY) && !revived) { /* changed: its home's value */
        int e = reload_home(h, m);
        if (e) {
            *err = *err ? *err : e;
            return 0;
        }
    }
    m->word &= ~ST_GMASK;
    return 0;
}

/* Apply `roll_back` (1) or commit (0) to every member; inside a critical section. The
 * noted units when they cover every member (one lookup each); else a walk of the index,
 * where entries may move back into slot s when one is removed, so s advances only past
 * kept entries; bounded by slots + removals. */
static int members(struct vnv_heap *h, int roll_back)
{
    int err = VNV_OK;
    if (h->group_noted <= GROUP_NOTES) {
        for (uint32_t i = 0; i < h->group_noted; i++) {
            struct meta *m = idx_lookup(h, h->group_units[i]);
            if (m && (m->word & ST_GMASK))
                (void)member_one(h, m, roll_back, &err);
        }
        return err;
    }
    for (uint32_t s = 0, guard = 0;
         (s = idx_next_used(h, s)) <= h->index_mask && guard <= 2u * (h->index_mask + 1u);
         guard++) {
        struct meta *m = idx_meta(h, s);
        if (!m || !(m->word & ST_GMASK) || !member_one(h, m, roll_back, &err))
            s++;
    }
    return err;
}

/* ---- the undo log (access.c writes it: write_through) ------------------------------------- */

/* One entry of the log, decoded (RAM layout: internal.h, UNDO_HDR). */
struct undo_ent {
    uint32_t unit, at, len; /* its object's start unit; offset (UNDO_RAM: in the object) */
    const uint8_t *bytes;   /* the `len` bytes the group replaced */
};

/* Decode the entry at arena unit `*e` and step `*e` to the next (older) one. */
static struct undo_ent undo_next(const struct vnv_heap *h, uint32_t *e)
{
    const uint8_t *p = undo_entry(h, *e);
    struct undo_ent x = {get_le32(p + 4), get_le32(p + 8), get_le16(p + 12), p + UNDO_HDR};
    *e = get_le16(p);
    return x;
}

/* Link the entry at arena offset `boff` as the newest (its UNDO_HDR.. bytes already hold
 * the `len` bytes the change replaces) and charge it. Inside the critical section that
 * allocated the block: a checkpoint, or a restore that rebuilds the arena, sees the entry
 * whole or not at all. */
void undo_link(struct vnv_heap *h, uint32_t boff, uint32_t unit, uint32_t at, uint32_t len)
{
    uint8_t *e = h->arena + boff;
    /* (the u16 pairs as words: len <= UNDO_MAX_BYTES, its arena unit < 65535) */
    const uint32_t w[4] = {h->undo, unit, at, len | (boff / 8u + 1u) << 16};
    for (uint32_t i = 0; i < 4u; i++) /* (a loop: one inlined put_le32, not four) */
        put_le32(e + 4u * i, w[i]);
    h->undo = (uint16_t)(boff / 8u + 1u);
    h->undo_count++;
    charge(h, UNDO_CKPT_HDR + len);
}

/* Forget the log (the group ended). Inside a critical section. */
void undo_discard(struct vnv_heap *h)
{
    for (uint32_t i = 0; h->undo && i < h->undo_count; i++) {
        uint8_t *e = undo_entry(h, h->undo);
        uint32_t len = get_le16(e + 12), next = get_le16(e);
        (void)h->ram->free(RAM_ST(h), (h->undo - 1u) * 8u, UNDO_HDR + len);
        h->used -= UNDO_CKPT_HDR + len;
        h->undo = (uint16_t)next;
    }
    h->undo = 0;
    h->undo_count = 0;
}

/* The value `unit` had before the group, in `dst` (a copy of its RAM data): its RAM entries
 * put back, newest first. */
void undo_revert(const struct vnv_heap *h, uint32_t unit, uint8_t *dst)
{
    uint32_t e = h->undo;
    for (uint32_t i = 0; e && i < h->undo_count; i++) {
        struct undo_ent x = undo_next(h, &e);
        if ((x.at & UNDO_RAM) && x.unit == unit)
            memcpy(dst + (x.at & ~UNDO_RAM), x.bytes, x.len);
    }
}

/* The current data slot of the object at `u` and its size, from its header on storage. */
static int data_slot_of(struct vnv_heap *h, uint32_t u, uint32_t *slot, uint32_t *size)
{
    struct objhdr oh;
    uint64_t id;
    int err = unit_header(h, u, &id, &oh);
    if (err)
        return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
    *size = oh.size;
    *slot = slot_off(unit_off(h, u), oh.size, (uint32_t)bit_get(nvmap(h, MAP_CUR), u));
    return VNV_OK;
}

/* Every entry must name bytes inside a live object (its current data slot on storage, or
 * its RAM copy): a checkpoint's log is input. Reads headers only, changes nothing, so a
 * rollback refused here has written nothing. */
static int undo_check(struct vnv_heap *h)
{
    uint32_t e = h->undo;
    for (uint32_t i = 0; e && i < h->undo_count; i++) {
        struct undo_ent x = undo_next(h, &e);
        uint32_t u = x.unit, at = x.at, len = x.len;
        if (u >= h->units || !bit_get(nvmap(h, MAP_START), u) || len > UNDO_MAX_BYTES)
            return VNV_ERR_CORRUPT;
        if (at & UNDO_RAM) { /* bytes of a resident member (not one the group allocated) */
            struct meta *m = idx_lookup(h, u);
            uint32_t off = at & ~UNDO_RAM;
            if (!m || (m->word & (ST_GROUP | ST_GNEW)) != ST_GROUP || !len ||
                len > meta_size(m) || off > meta_size(m) - len)
                return VNV_ERR_CORRUPT;
            continue;
        }
        if (len == 0) { /* an allocation */
            if (at)
                return VNV_ERR_CORRUPT;
            continue;
        }
        if (SLOT_CRC)
            return VNV_ERR_CORRUPT; /* never written with the data checksum on */
        uint32_t slot = 0, size = 0;
        int err = data_slot_of(h, u, &slot, &size);
        if (err)
            return err;
        if (at < slot || len > size || at - slot > size - len)
            return VNV_ERR_CORRUPT;
    }
    return VNV_OK;
}

/* The RAM half of a rollback (after undo_check): logged bytes of resident members put
 * back, objects the group allocated at home gone. Newest first, so the oldest bytes stay. */
static void undo_ram(struct vnv_heap *h)
{
    uint32_t e = h->undo;
    for (uint32_t i = 0; e && i < h->undo_count; i++) {
        struct undo_ent x = undo_next(h, &e);
        uint32_t u = x.unit, at = x.at, len = x.len;
        if (!bit_get(nvmap(h, MAP_START), u))
            continue; /* (a crafted log names it twice: gone already) */
        struct meta *m = idx_lookup(h, u);
        if (at & UNDO_RAM) {
            uint32_t off = at & ~UNDO_RAM;
            if (m && !ghost(m->word) && len <= meta_size(m) && off <= meta_size(m) - len)
                memcpy(meta_data(m) + off, x.bytes, len); /* (a ghost: no RAM copy) */
        } else if (len == 0) { /* an object the group allocated at home: it goes */
            if (m)
                drop_resident(h, m); /* loaded since */
            nvmap_free(h, u);
        }
    }
}

/* A clean RAM copy of an object whose home the group wrote through (it was loaded after,
 * or its member was just reloaded) gets the bytes the storage half will put back. */
static int undo_overlay(struct vnv_heap *h)
{
    uint32_t e = h->undo;
    for (uint32_t i = 0; e && i < h->undo_count; i++) {
        struct undo_ent x = undo_next(h, &e);
        uint32_t u = x.unit, at = x.at, len = x.len;
        struct meta *m = (at & UNDO_RAM) || !len ? NULL : idx_lookup(h, u);
        uint32_t slot = 0, size = 0;
        if (!m || (m->word & ST_DIRTY) || ghost(m->word) || !bit_get(nvmap(h, MAP_START), u))
            continue;
        int err = data_slot_of(h, u, &slot, &size);
        if (err)
            return err;
        if (size == meta_size(m) && at >= slot && at - slot <= size - len)
            memcpy(meta_data(m) + (at - slot), x.bytes, len);
    }
    return VNV_OK;
}

/* The storage half, last of all (nothing can be refused after it): the old bytes written
 * back, newest first; then the log is forgotten. */
int undo_write(struct vnv_heap *h)
{
    int err = VNV_OK;
    uint32_t e = h->undo;
    for (uint32_t i = 0; !err && e && i < h->undo_count; i++) {
        struct undo_ent x = undo_next(h, &e);
        if ((x.at & UNDO_RAM) || !x.len || !bit_get(nvmap(h, MAP_START), x.unit))
            continue; /* (an object the rollback freed: nothing to keep) */
        struct vnv_iovec iov = {x.bytes, x.len};
        err = mutate_begin(h);
        if (!err)
            err = heap_writev(h, x.at, &iov, 1);
    }
    if (!err)
        undo_discard(h);
    return err;
}

/* The RAM part of a rollback, after undo_check: changes RAM from its first step, so an
 * error part way (a storage read, a damaged header) leaves the group half rolled back. */
static int rollback_apply(struct vnv_heap *h)
{
    undo_ram(h);
    int err = members(h, 1);
    if (!err)
        err = undo_overlay(h);
    return err;
}

int vnv_atomic_end(struct vnv_heap *h)
{
    if (!is_open(h) || !h->group)
        return VNV_ERR_INVAL;
    if (h->group > 1u) {
        h->group--; /* flat nesting: only the outermost end commits */
        return VNV_OK;
    }
    sec_enter(h);
    int err = members(h, 0);
    undo_discard(h);
    h->group = 0;
    sec_leave(h);
    return err;
}

/* Is a member pinned? The noted units, or a walk (as members()). */
static int member_pinned(const struct vnv_heap *h)
{
    int walk = h->group_noted > GROUP_NOTES;
    uint32_t n = walk ? h->index_mask + 1u : h->group_noted;
    for (uint32_t i = 0; i < n; i++) {
        if (walk && (i = idx_next_used(h, i)) > h->index_mask)
            break;
        const struct meta *m = walk ? idx_meta(h, i) : idx_lookup(h, h->group_units[i]);
        if (m && (m->word & ST_GMASK) && (m->word & ST_PINS))
            return 1;
    }
    return 0;
}

int vnv_atomic_abort(struct vnv_heap *h)
{
    if (!is_open(h) || !h->group)
        return VNV_ERR_INVAL;
    if (member_pinned(h))
        return VNV_ERR_BUSY; /* release the group's references first */
    /* objects the undo log changes are the group's too (allocated at home, or written
     * through and loaded since): a rollback drops or rewrites them */
    for (uint32_t i = 0, e = h->undo; e && i < h->undo_count; i++) {
        struct undo_ent x = undo_next(h, &e);
        const struct meta *m = idx_lookup(h, x.unit);
        if (m && (m->word & ST_PINS))
            return VNV_ERR_BUSY;
    }
    sec_enter(h);
    int err = undo_check(h), asked = 0; /* a refusal here has changed nothing */
    if (!err) {
        err = rollback_apply(h);
        if (!err)
            err = undo_write(h);
        if (!err) {
            h->root = h->group_root;
            h->group = 0;
        } else {
            /* Part of the group is rolled back in RAM, part not, and the log names homes
             * already freed: no checkpoint may record that. The heap closes itself, like
             * a reset; vnv_open finds the last checkpoint (rolled back if taken inside
             * the group). A request deferred into this section gets its callback here,
             * with the error: storage holds that last checkpoint only. */
            heap_die(h, 0);
            asked = h->pending;
            h->pending = 0;
        }
    }
    sec_leave(h);
    if (asked)
        persist_answer_closed(h, err);
    return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
}

int vnv_atomic_depth(const struct vnv_heap *h) { return is_live(h) ? (int)h->group : 0; }

/* The state before the group, in RAM (vnv_open of a checkpoint taken inside a group, or
 * vnv_atomic_abort); undo_write then puts the group's write-through bytes back on storage.
 * Everything that can be refused as damage is refused before storage changes. */
int group_rollback(struct vnv_heap *h)
{
    h->group_noted = GROUP_WALK; /* (the marks came from storage: none was noted) */
    int err = undo_check(h);
    if (!err)
        err = rollback_apply(h);
    return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
}

#endif /* !VNV_MINIMAL */
