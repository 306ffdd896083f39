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

int vnv_atomic_begin(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN)
        return VNV_ERR_INVAL;
    if (h->group == 255u)
        return VNV_ERR_BUSY;
    for (uint32_t s = 0; !h->group && s <= h->index_mask; s++) {
        const struct meta *m = idx_meta(h, s);
        if (m && (m->word & ST_WRITER))
            return VNV_ERR_BUSY; /* its changes could not be rolled back: pin it inside */
    }
    if (!h->group)
        h->group_root = h->root;
    h->group++;
    return VNV_OK;
}

/* Apply `roll_back` (1) or commit (0) to every member; inside a critical section. Entries
 * may move back into slot s when one is removed, so s advances only past kept entries;
 * bounded by slots + removals. */
static int members(struct vnv_heap *h, int roll_back)
{
    int err = VNV_OK;
    for (uint32_t s = 0, guard = 0; s <= h->index_mask && guard <= 2u * (h->index_mask + 1u);
         guard++) {
        struct meta *m = idx_meta(h, s);
        uint32_t st = m ? m->word : 0;
        if (!(st & ST_GMASK)) {
            s++;
            continue;
        }
        uint32_t u = id_unit(h, m->id);
        if ((st & ST_GNEW) || (!roll_back && (st & ST_GFREE))) {
            if ((st & ST_GNEW) && !roll_back) {
                m->word &= ~ST_GMASK; /* allocated in the group: now simply live */
                s++;
                continue;
            }
            drop_resident(h, m); /* gone: never existed, or freed for good */
            nvmap_free(h, u);
            continue;
        }
        int revived = 0; /* from the pre block: the RAM copy is the value from before */
        if (roll_back && (st & ST_GFREE) && m->pre) { /* freed in the group, kept in RAM */
            uint64_t id = get_le64(pre_data(h, m));
            if (id_unit(h, id) != u || !id_tag(h, id) || id_tag(h, id) > h->alloc_count) {
                err = err ? err : VNV_ERR_CORRUPT;
                s++;
                continue;
            }
            pre_drop(h, m);
            m->id = id;
            revived = 1;
        } else if (roll_back && (st & ST_GFREE)) { /* freed in the group: from its home */
            uint8_t b[VNV_OBJ_HEADER_SIZE];
            struct objhdr oh;
            int e = heap_read(h, unit_off(h, u), b, sizeof b);
            uint64_t id = e ? 0 : get_le64(b + 4);
            if (!e)
                e = (id_unit(h, id) == u && id_tag(h, id)) ? objhdr_decode(h, b, id, &oh)
                                                           : VNV_ERR_CORRUPT;
            if (!e && oh.size != meta_size(m))
                e = VNV_ERR_CORRUPT;
            if (e) {
                err = err ? err : e;
                s++;
                continue;
            }
            m->id = id;
        }
        if (m->pre) { /* its value from before the group is a RAM pre-image */
            if (roll_back)
                memcpy(meta_data(m), pre_data(h, m), meta_size(m)); /* newer than home: dirty */
            pre_drop(h, m);
        } else if (roll_back && (st & ST_DIRTY) && !revived) { /* changed: its home's value */
            int e = reload_home(h, m);
            if (e) {
                err = err ? err : e;
                s++;
                continue;
            }
        }
        m->word &= ~ST_GMASK;
        s++;
    }
    return err;
}

int vnv_atomic_end(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN || !h->group)
        return VNV_ERR_INVAL;
    if (h->group > 1u) {
        h->group--; /* flat nesting: only the outermost end commits */
        return VNV_OK;
    }
    sec_enter(h);
    int err = members(h, 0);
    h->group = 0;
    sec_leave(h);
    return err;
}

int vnv_atomic_abort(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN || !h->group)
        return VNV_ERR_INVAL;
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        struct meta *m = idx_meta(h, s);
        if (m && (m->word & ST_GMASK) && (m->word & ST_PINS))
            return VNV_ERR_BUSY; /* release the group's references first */
    }
    sec_enter(h);
    int err = members(h, 1);
    if (!err) {
        h->root = h->group_root;
        h->group = 0;
    }
    sec_leave(h);
    return err;
}

int vnv_atomic_depth(const struct vnv_heap *h) { return h ? (int)h->group : 0; }

/* vnv_open of a checkpoint taken inside a group: the state before the group. */
int group_rollback(struct vnv_heap *h)
{
    int err = members(h, 1);
    return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
}
