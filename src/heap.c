/*
 * heap.c - heap lifecycle (format, open, close): the storage and buffer layouts.
 *
 * Storage layout (docs/FORMAT.md, version 5):
 *   [0, 64)                  superblock
 *   [64, 96)                 tag reservation records (store/tags.c)
 *   [96, 96 + cap)           checkpoint slot A      cap = pad16(max_dirty + map bytes)
 *   [96 + cap, 96 + 2 cap)   checkpoint slot B
 *   [nv_off, size)           object homes, in allocation units
 * RAM buffer layout: [canary 8 B][index: entries x 2 B, padded to 8][NV bitmaps][arena].
 */
#include "internal.h"

#define SB_MAGIC0 0x484E4E56u /* "VNNH" little-endian bytes: 'V','N','N','H' */
#define SB_MAGIC1 0x31504145u /* "EAP1" */
#define SB_FEATURES (VNV_DATA_CRC ? 1u : 0u) /* bit 0: data slots carry a CRC-32 */
/* 3: shadowed homes, two checkpoint slots, committed NV map; 4: 64-bit handles; 5: the tag
 * reservation area before the slots */
#define SB_VERSION 5u
#define MIN_ARENA 64u

/* ---- configuration and layout ---------------------------------------------------------------- */

struct layout {
    uint32_t align_skip, usable, entries, map_off, map_words, arena_off, arena_size;
    uint32_t ckpt_off, ckpt_cap, nv_off, nv_size, unit, units, unit_bits;
};

static uint32_t next_pow2(uint32_t v)
{
    uint32_t p = 8;
    while (p < v && p < (1u << 16))
        p <<= 1;
    return p;
}

/* Storage side: unit, units, checkpoint slots, homes. The map's size depends on the number
 * of units and the slots' on the map's size: size the map for the whole device first (an
 * upper bound), then count the units that remain. */
static int storage_layout(const struct vnv_config *cfg, struct layout *l)
{
    uint32_t size = cfg->storage->size, unit = cfg->nv_unit;
    if (size < 1024u)
        return VNV_ERR_INVAL;
    if (unit) {
        if (unit < 16u || unit > (1u << 20) || (unit & (unit - 1u)))
            return VNV_ERR_INVAL;
    } else {
        /* the smallest unit whose bitmaps (MAP_COUNT bits a unit) take at most 1/3 of the
         * buffer and that keeps within VNV_MAX_UNITS units */
        uint32_t most = VNV_MAX_UNITS, by_ram = (uint32_t)(cfg->buffer_size / 3u * 8u / MAP_COUNT);
        if (by_ram < most)
            most = by_ram;
        for (unit = 16u; size / unit > most && unit < (1u << 20); unit <<= 1)
            ;
    }
    uint32_t most = size / unit, words = (most + 31u) / 32u;
    l->ckpt_off = TAGS_AREA_OFF + TAGS_AREA_SIZE;
    l->ckpt_cap = (cfg->max_dirty_bytes + MAP_SAVED * words * 4u + 15u) & ~15u;
    l->nv_off = l->ckpt_off + 2u * l->ckpt_cap;
    if (l->ckpt_cap > size || 2u * unit > size || l->nv_off > size - 2u * unit)
        return VNV_ERR_INVAL;
    l->nv_size = size - l->nv_off;
    l->unit = unit;
    l->units = l->nv_size / unit;
    if (l->units > (1u << 21))
        return VNV_ERR_INVAL;
    l->map_words = (l->units + 31u) / 32u;
    l->unit_bits = 1;
    while ((1u << l->unit_bits) < l->units)
        l->unit_bits++;
    return VNV_OK;
}

static int compute_layout(const struct vnv_config *cfg, struct layout *l)
{
    if (!cfg || !cfg->storage || !cfg->buffer || !cfg->storage->read || !cfg->storage->write)
        return VNV_ERR_INVAL;
    const struct vnv_storage *s = cfg->storage;
    if (s->size > VNV_MAX_STORAGE_SIZE ||
        cfg->max_dirty_bytes < VNV_CKPT_HEADER_SIZE + VNV_CKPT_RECORD_SIZE + 8u ||
        cfg->max_dirty_bytes > VNV_MAX_STORAGE_SIZE)
        return VNV_ERR_INVAL;
    int err = storage_layout(cfg, l);
    if (err)
        return err;
    l->align_skip = (uint32_t)((8u - ((uintptr_t)cfg->buffer & 7u)) & 7u);
    if (cfg->buffer_size < l->align_skip + 8u + 16u + MIN_ARENA || cfg->buffer_size > UINT32_MAX)
        return VNV_ERR_INVAL;
    l->usable = (uint32_t)(cfg->buffer_size - l->align_skip) & ~7u;
    if (cfg->index_entries) {
        uint32_t e = cfg->index_entries;
        if (e < 8 || e > (1u << 16) || (e & (e - 1u)))
            return VNV_ERR_INVAL;
        l->entries = e;
    } else {
        l->entries = next_pow2(l->usable / 64u);
    }
    l->map_off = 8u + pad8(l->entries * 2u);
    l->arena_off = l->map_off + pad8(MAP_COUNT * l->map_words * 4u);
    if (l->usable < l->arena_off + MIN_ARENA)
        return VNV_ERR_INVAL;
    l->arena_size = l->usable - l->arena_off;
    if (l->arena_size > 65534u * 8u) /* index entries hold (offset / 8) + 1 in 16 bits */
        l->arena_size = 65534u * 8u;
    return VNV_OK;
}

uint32_t vnv_persist_bound(const struct vnv_config *cfg)
{
    struct layout l;
    if (compute_layout(cfg, &l))
        return 0;
    /* a resident object's record + bitmap + dirty bytes never exceed its arena block
     * (meta + bitmap + data: the record is no larger than the meta). The NV map is the
     * constant part. */
    _Static_assert(VNV_CKPT_RECORD_SIZE <= VNV_META_SIZE, "the bound assumes it");
    uint32_t most = VNV_CKPT_HEADER_SIZE + l.arena_size;
    return (cfg->max_dirty_bytes < most ? cfg->max_dirty_bytes : most) +
           MAP_SAVED * l.map_words * 4u;
}

static uint32_t name_hash(const char *s)
{
    uint32_t x = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; s && s[i] && i < 64; i++)
        x = (x ^ (uint8_t)s[i]) * 16777619u;
    return x;
}

/* 1 if the open heap `h` is in use: inside a section, an atomic group open, or an object
 * pinned. Closing or re-initialising it then would drop the group or pull the RAM from
 * under a reference. O(index slots). */
static int in_use(struct vnv_heap *h)
{
    if (h->busy || IN_GROUP(h))
        return 1;
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        const struct meta *m = idx_meta(h, s);
        if (m && (m->word & ST_PINS))
            return 1;
    }
    return 0;
}

/* Fill `h` from cfg (no storage traffic). */
static int setup(struct vnv_heap *h, const struct vnv_config *cfg, struct layout *l)
{
    if (!h)
        return VNV_ERR_INVAL;
    /* From the persist callback the heap is in use: wiping it there would leave the
     * persist path's section counter unbalanced. */
    /* (registered: open in this run - a block kept in RAM that a reset does not clear,
     * which the registry's zeroed .bss no longer names, is not in use) */
    if (persist_running(h) || (is_open(h) && registry_has(h) && in_use(h)))
        return VNV_ERR_BUSY;
    int err = compute_layout(cfg, l);
    if (err)
        return err;
    if (registry_taken(h, cfg->storage, cfg->buffer, cfg->buffer_size))
        return VNV_ERR_BUSY; /* another open heap owns this storage or RAM */
    if (ranges_overlap((uintptr_t)cfg->buffer, cfg->buffer_size, (uintptr_t)h, sizeof *h))
        return VNV_ERR_INVAL; /* the buffer would overwrite the control block */
    registry_remove(h);
    memset(h, 0, sizeof *h);
    h->storage = *cfg->storage;
    h->ram = cfg->ram_allocator ? cfg->ram_allocator : &vnv_ram_firstfit;
    h->nv = cfg->nv_allocator ? cfg->nv_allocator : &vnv_nv_firstfit;
    h->policy = cfg->policy ? cfg->policy : &vnv_policy_clock;
    if (h->ram->state_size > VNV_RAM_STATE_MAX || h->policy->state_size > VNV_POLICY_STATE_MAX ||
        !h->nv->round || !h->nv->place)
        return VNV_ERR_INVAL;
    h->on_persist = cfg->on_persist;
    h->user = cfg->user;
    h->buf = (uint8_t *)cfg->buffer + l->align_skip;
    h->buf_size = l->usable;
    h->index = (uint16_t *)(void *)(h->buf + 8);
    h->index_mask = l->entries - 1u;
    h->index_cap = l->entries - l->entries / 4u;
    h->map = (uint32_t *)(void *)(h->buf + l->map_off);
    h->map_words = l->map_words;
    h->arena = h->buf + l->arena_off;
    h->arena_size = l->arena_size;
    h->max_dirty = cfg->max_dirty_bytes;
    h->ckpt_off = l->ckpt_off;
    h->ckpt_cap = l->ckpt_cap;
    h->nv_off = l->nv_off;
    h->nv_size = l->nv_size;
    h->unit = l->unit;
    for (h->unit_shift = 4; (1u << h->unit_shift) < l->unit && h->unit_shift < 20; h->unit_shift++)
        ; /* (the unit is a power of two from 16 B to 1 MiB) */
    h->units = l->units;
    h->unit_bits = l->unit_bits;
    h->unit_mask = (1u << l->unit_bits) - 1u;
    h->used = VNV_CKPT_HEADER_SIZE;
    h->st.bound = vnv_persist_bound(cfg);
    if (!registry_has_room(h))
        return VNV_ERR_INVAL;
    return VNV_OK;
}

/* Empty RAM state: canary, index, NV map, arena. */
static int reset_ram(struct vnv_heap *h)
{
    canary_write(h);
    memset(h->index, 0, (h->index_mask + 1u) * 2u);
    h->index_used = 0;
    nvmap_clear(h);
    h->policy->reset(POL_ST(h), h->index_mask + 1u);
    return h->ram->init(RAM_ST(h), h->arena, h->arena_size);
}

static void superblock_encode(const struct vnv_heap *h, uint8_t *b)
{
    /* the 15 words at bytes 0..59 (FORMAT.md 1), then their CRC-32 */
    const uint32_t w[15] = {SB_MAGIC0,      SB_MAGIC1,   SB_VERSION,
                            h->storage.size, h->max_dirty, h->ckpt_off,
                            h->ckpt_cap,    h->nv_off,    h->nv_size,
                            h->arena_size,  name_hash(h->nv->name), name_hash(h->ram->name),
                            h->unit,        h->units,     SB_FEATURES};
    for (uint32_t i = 0; i < 15u; i++)
        put_le32(b + 4u * i, w[i]);
    put_le32(b + 60, vnv_crc32(0, b, 60));
}

/* Where a new heap's allocation counter starts. Tags are issued from it, so two heaps (or
 * the heap before and after a format) issue different handles, and a handle passed to the
 * wrong one names no object there (INVAL) rather than an unrelated object. Two heaps open
 * at once never share their buffer or storage, so a hash of those addresses tells them
 * apart (x 2^16: counters that far apart need that many allocations to meet, within a
 * quarter of the tag space). Over an earlier heap's image the counter goes on past the
 * largest counter left there instead (checkpoint headers, unverified, and the tag
 * reservation), plus the hash (at most 2^32: apart from a heap that goes on from a copy of
 * that image): a format never reissues the handles of the heap before it, and formats can
 * follow each other more than 2^19 times before the counter reaches half the tag space,
 * where hints are no longer believed (far from where tags repeat; then it starts over). */
static uint64_t first_count(struct vnv_heap *h, const struct vnv_config *cfg)
{
    const uintptr_t who[3] = {(uintptr_t)cfg->buffer, (uintptr_t)h->storage.ctx,
                              (uintptr_t)h->storage.read};
    uint64_t room = UINT64_MAX >> (h->unit_bits + 2u), most = 2u * room;
    uint64_t before = 0;
    for (uint32_t s = 0; s < 2; s++) {
        uint8_t c[8]; /* an old slot header's alloc_count: unverified, a hint */
        uint32_t x[2] = {0, 0};
        if (!heap_read(h, h->ckpt_off + s * h->ckpt_cap + 32u, c, sizeof c))
            le32_words(x, c, 2);
        uint64_t v = words64(x, 0);
        if (v < most && v > before)
            before = v;
    }
    uint64_t reserved = 0; /* and an old tag reservation (intact: checked) */
    if (!tags_load(h, &reserved) && reserved < most && reserved > before)
        before = reserved;
    uint32_t apart = vnv_crc32(0, who, sizeof who);
    return before ? before + 1u + apart : ((uint64_t)apart << 16) & room;
}

int vnv_format(struct vnv_heap *h, const struct vnv_config *cfg)
{
    struct layout l;
    int err = setup(h, cfg, &l);
    if (err)
        return err;
    err = reset_ram(h);
    if (err)
        return err;
    h->alloc_count = first_count(h, cfg);
    /* Crash-safe order: first no superblock (a cut from here on leaves "no heap", never a
     * damaged one), then both slots void, the empty checkpoint into slot A, and last the
     * new superblock that makes it count. */
    static const uint8_t zero[VNV_CKPT_HEADER_SIZE];
    struct vnv_iovec z = {zero, sizeof zero};
    err = heap_writev(h, 0, &z, 1);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (!err)
        err = heap_writev(h, h->ckpt_off, &z, 1);
    if (!err)
        err = heap_writev(h, h->ckpt_off + h->ckpt_cap, &z, 1);
    if (!err)
        err = tags_format(h);
    h->slot = 1; /* so that the first checkpoint goes to slot A */
    if (!err)
        err = ckpt_write(h, CKPT_FLAG_CLEAN);
    /* The superblock without its magic first, then the magic: a cut inside it leaves no
     * magic (NOHEAP, format again), never a magic over a torn rest (CORRUPT: damage). */
    uint8_t sb[VNV_SUPERBLOCK_SIZE];
    superblock_encode(h, sb);
    struct vnv_iovec rest = {sb + 8, sizeof sb - 8u}, magic = {sb, 8};
    if (!err)
        err = heap_writev(h, 8, &rest, 1);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (!err)
        err = heap_writev(h, 0, &magic, 1);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (err)
        return err;
    h->self = h;
    registry_add(h);
    return VNV_OK;
}

int vnv_open(struct vnv_heap *h, const struct vnv_config *cfg)
{
    struct layout l;
    int err = setup(h, cfg, &l);
    if (err)
        return err;
    uint8_t sb[VNV_SUPERBLOCK_SIZE], want[VNV_SUPERBLOCK_SIZE];
    err = heap_read(h, 0, sb, sizeof sb);
    if (err)
        return err;
    uint32_t w[VNV_SUPERBLOCK_SIZE / 4u]; /* its words (FORMAT.md 1) */
    le32_words(w, sb, VNV_SUPERBLOCK_SIZE / 4u);
    if (w[0] != SB_MAGIC0 || w[1] != SB_MAGIC1)
        return VNV_ERR_NOHEAP; /* blank or foreign: the caller may format */
    if (w[15] != vnv_crc32(0, sb, 60))
        return VNV_ERR_CORRUPT;
    if (w[2] != SB_VERSION || w[14] != SB_FEATURES)
        return VNV_ERR_VERSION; /* another format version or build option: not touched */
    if (!cfg->nv_unit && w[12] != h->unit) {
        /* the unit was chosen at format (from that buffer's size): lay out with it. A unit
         * no format writes is damage; a layout this buffer cannot hold is the caller's
         * configuration (INVAL, as for any other mismatch): the heap on storage is intact. */
        if (w[12] < 16u || w[12] > (1u << 20) || (w[12] & (w[12] - 1u)))
            return VNV_ERR_CORRUPT;
        struct vnv_config c = *cfg;
        c.nv_unit = w[12];
        err = setup(h, &c, &l);
        if (err)
            return err;
    }
    superblock_encode(h, want);
    /* Everything but the arena size must match; a larger arena than at format is fine. */
    if (w[9] > h->arena_size)
        return VNV_ERR_INVAL;
    put_le32(want + 36, w[9]);
    if (memcmp(sb, want, 60) != 0)
        return VNV_ERR_INVAL;
    uint64_t reserved = 0;
    err = reset_ram(h);
    if (!err)
        err = tags_load(h, &reserved);
    if (!err)
        err = ckpt_open(h);
    if (err)
        return err;
    tags_resume(h, reserved);
    h->self = h;
    registry_add(h);
    return VNV_OK;
}

int vnv_close(struct vnv_heap *h)
{
    if (persist_running(h))
        return VNV_ERR_BUSY; /* from the persist callback */
    if (!is_open(h))
        return VNV_ERR_INVAL;
    if (in_use(h))
        return VNV_ERR_BUSY; /* inside an atomic group, or an object still pinned */
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        struct meta *m = idx_meta(h, s);
        int err = m ? vnv_flush(h, (vnv_obj_t){m->id}) : 0;
        if (err)
            return err;
    }
    sec_enter(h);
    int err = ckpt_write(h, CKPT_FLAG_CLEAN);
    int asked = 0;
    if (!err || heap_is_dead(h)) {
        if (!err) {
            registry_remove(h); /* from here no interrupt sees the heap */
            h->self = NULL;
        }
        asked = h->pending;
        h->pending = 0;
    }
    sec_leave(h);
    /* A power-failure request deferred into this checkpoint still gets its callback (the
     * firmware may wait there for the power to go), also when the checkpoint failed so
     * that the heap closed itself (with the error: storage holds the last checkpoint);
     * RAM is no longer the heap's, so what the callback returns does not matter. */
    if (asked)
        persist_answer_closed(h, err);
    return err;
}

void vnv_abandon(struct vnv_heap *h)
{
    if (!h)
        return;
    registry_remove(h);
    h->self = NULL;
}

bool vnv_is_open(const struct vnv_heap *h) { return is_live(h); }
