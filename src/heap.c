/*
 * heap.c - heap lifecycle (format, open, close), storage layout, critical sections,
 * counted storage access and the on-storage object header.
 *
 * Storage layout (docs/FORMAT.md):
 *   [0, 64)                    superblock
 *   [64, 64 + pad8(max_dirty))  checkpoint region
 *   [pad16(...), size)          NV allocator region (object homes)
 * RAM buffer layout: [canary 8 B][index: entries x 2 B, padded to 8][arena].
 */
#include "internal.h"

#ifndef __STDC_NO_ATOMICS__
#include <stdatomic.h>
/* A compiler barrier only: no instruction is emitted, so no atomics are needed. */
#define BARRIER() atomic_signal_fence(memory_order_seq_cst)
#else
#define BARRIER() __asm__ __volatile__("" ::: "memory")
#endif

#define SB_MAGIC0 0x484E4E56u /* "VNNH" little-endian bytes: 'V','N','N','H' */
#define SB_MAGIC1 0x31504145u /* "EAP1" */
#define SB_VERSION 2u /* 2: checkpoint header carries the parked homes */
#define CANARY0 0x43564E56u
#define CANARY1 0x59524E41u
#define OBJ_LIVE 0xA7u
#define OBJ_FREED 0x00u
#define MIN_ARENA 64u

/* ---- critical sections ------------------------------------------------------------------- */

/* The power-failure interrupt only ever reads `busy`; normal code owns it. */
void sec_enter(struct vnv_heap *h)
{
    h->busy++;
    BARRIER();
}

void sec_leave(struct vnv_heap *h)
{
    BARRIER();
    h->busy--;
    BARRIER();
    if (!h->busy && h->pending) {
        h->pending = 0;
        (void)persist_deferred(h); /* the deferred checkpoint runs here */
    }
}

/* ---- counted storage access -------------------------------------------------------------- */

/* Every storage transaction is a critical section of its own: a checkpoint never starts
 * while the device is in the middle of another command (storage.h promises this). */
int heap_read(struct vnv_heap *h, uint32_t off, void *dst, uint32_t len)
{
    sec_enter(h);
    h->st.storage_reads++;
    h->st.storage_read_bytes += len;
    int err = vnv_storage_read(&h->storage, off, dst, len);
    sec_leave(h);
    return err;
}

int heap_writev(struct vnv_heap *h, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    sec_enter(h);
    h->st.storage_writes++;
    for (unsigned i = 0; i < cnt; i++)
        h->st.storage_write_bytes += iov[i].len;
    int err = vnv_storage_writev(&h->storage, off, iov, cnt);
    sec_leave(h);
    return err;
}

void charge(struct vnv_heap *h, uint32_t bytes)
{
    h->used += bytes;
    if (h->used > h->st.peak_checkpoint_bytes)
        h->st.peak_checkpoint_bytes = h->used;
}

void canary_write(struct vnv_heap *h)
{
    put_le32(h->buf, CANARY0);
    put_le32(h->buf + 4, CANARY1);
}

int canary_ok(const struct vnv_heap *h)
{
    return get_le32(h->buf) == CANARY0 && get_le32(h->buf + 4) == CANARY1;
}

/* ---- object header on storage -------------------------------------------------------------- */

/* 8 bytes at the home: size|flags (4), tag (2), state (1), CRC-8 over those 7 bytes seeded
 * with the home offset, so a header copied elsewhere (inside user data) does not validate. */
static uint8_t objhdr_crc(const uint8_t *b, uint32_t home)
{
    uint8_t off[4];
    put_le32(off, home);
    return vnv_crc8(b, 7, vnv_crc8(off, 4, 0x5Au));
}

void objhdr_encode(uint8_t *b, uint32_t id, uint32_t size, uint32_t status, int live)
{
    uint32_t w = size;
    if (status & ST_PARTIAL)
        w |= 1u << 24 | ((status & ST_PSHIFT_MASK) >> ST_PSHIFT_POS) << 22;
    put_le32(b, live ? w : 0);
    put_le16(b + 4, live ? (id & ID_TAG_MASK) : 0);
    b[6] = live ? OBJ_LIVE : OBJ_FREED;
    b[7] = objhdr_crc(b, id_home(id));
}

/* 0 if the header at `home` is a valid freed header, VNV_ERR_CORRUPT if not, or IO. */
int objhdr_check_freed(struct vnv_heap *h, uint32_t home)
{
    uint8_t b[VNV_OBJ_HEADER_SIZE];
    if (home < h->nv_off || home > h->storage.size - VNV_OBJ_HEADER_SIZE)
        return VNV_ERR_CORRUPT;
    int err = heap_read(h, home, b, sizeof b);
    if (err)
        return err;
    return (b[6] == OBJ_FREED && b[7] == objhdr_crc(b, home)) ? VNV_OK : VNV_ERR_CORRUPT;
}

int read_objhdr(struct vnv_heap *h, uint32_t id, struct objhdr *oh)
{
    uint32_t home = id_home(id);
    uint8_t b[VNV_OBJ_HEADER_SIZE];
    if ((id & ID_TAG_MASK) == 0 || home < h->nv_off ||
        home > h->storage.size - VNV_OBJ_HEADER_SIZE)
        return VNV_ERR_INVAL;
    int err = heap_read(h, home, b, sizeof b);
    if (err)
        return err;
    uint32_t w = get_le32(b);
    if (b[7] != objhdr_crc(b, home) || b[6] != OBJ_LIVE || get_le16(b + 4) != (id & ID_TAG_MASK))
        return VNV_ERR_INVAL;
    oh->size = w & VNV_MAX_OBJECT_SIZE;
    oh->status = (w >> 24 & 1u) ? ST_PARTIAL | ((w >> 22 & 3u) << ST_PSHIFT_POS) : 0;
    if (oh->size == 0 || (w >> 25) != 0 || oh->size > h->storage.size - home - VNV_OBJ_HEADER_SIZE)
        return VNV_ERR_INVAL;
    return VNV_OK;
}

/* ---- configuration and layout ---------------------------------------------------------------- */

struct layout {
    uint32_t align_skip, usable, entries, arena_off, arena_size;
    uint32_t ckpt_off, ckpt_cap, nv_off, nv_size;
};

static uint32_t next_pow2(uint32_t v)
{
    uint32_t p = 8;
    while (p < v && p < (1u << 16))
        p <<= 1;
    return p;
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
    l->arena_off = 8u + pad8(l->entries * 2u);
    if (l->usable < l->arena_off + MIN_ARENA)
        return VNV_ERR_INVAL;
    l->arena_size = l->usable - l->arena_off;
    if (l->arena_size > 65534u * 8u) /* index entries hold (offset / 8) + 1 in 16 bits */
        l->arena_size = 65534u * 8u;
    l->ckpt_off = VNV_SUPERBLOCK_SIZE;
    l->ckpt_cap = pad8(cfg->max_dirty_bytes);
    l->nv_off = (l->ckpt_off + l->ckpt_cap + 15u) & ~15u;
    if (s->size < l->nv_off + 256u)
        return VNV_ERR_INVAL;
    l->nv_size = s->size - l->nv_off;
    return VNV_OK;
}

uint32_t vnv_persist_bound(const struct vnv_config *cfg)
{
    struct layout l;
    if (compute_layout(cfg, &l))
        return 0;
    /* every resident object's record + bitmap + dirty bytes fit in its arena block */
    uint32_t most = VNV_CKPT_HEADER_SIZE + l.arena_size;
    return cfg->max_dirty_bytes < most ? cfg->max_dirty_bytes : most;
}

static uint32_t name_hash(const char *s)
{
    uint32_t x = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; s && s[i] && i < 64; i++)
        x = (x ^ (uint8_t)s[i]) * 16777619u;
    return x;
}

/* Fill `h` from cfg (no storage traffic). */
static int setup(struct vnv_heap *h, const struct vnv_config *cfg, struct layout *l)
{
    if (!h)
        return VNV_ERR_INVAL;
    /* From the persist callback the heap is in use: wiping it there would leave the
     * persist path's section counter unbalanced. */
    if (persist_running(h))
        return VNV_ERR_BUSY;
    int err = compute_layout(cfg, l);
    if (err)
        return err;
    if (registry_storage_taken(h, cfg->storage))
        return VNV_ERR_BUSY; /* another open heap owns this storage */
    registry_remove(h);
    memset(h, 0, sizeof *h);
    h->storage = *cfg->storage;
    h->ram = cfg->ram_allocator ? cfg->ram_allocator : &vnv_ram_firstfit;
    h->nv = cfg->nv_allocator ? cfg->nv_allocator : &vnv_nv_buddy;
    h->policy = cfg->policy ? cfg->policy : &vnv_policy_clock;
    if (h->ram->state_size > VNV_RAM_STATE_MAX || h->nv->state_size > VNV_NV_STATE_MAX ||
        h->policy->state_size > VNV_POLICY_STATE_MAX)
        return VNV_ERR_INVAL;
    h->on_persist = cfg->on_persist;
    h->user = cfg->user;
    h->cache_limit = (cfg->flags & VNV_CFG_NO_FREE_CACHE) ? 0u : VNV_FREE_CACHE;
    h->buf = (uint8_t *)cfg->buffer + l->align_skip;
    h->buf_size = l->usable;
    h->index = (uint16_t *)(void *)(h->buf + 8);
    h->index_mask = l->entries - 1u;
    h->index_cap = l->entries - l->entries / 4u;
    h->arena = h->buf + l->arena_off;
    h->arena_size = l->arena_size;
    h->max_dirty = cfg->max_dirty_bytes;
    h->ckpt_off = l->ckpt_off;
    h->ckpt_cap = l->ckpt_cap;
    h->nv_off = l->nv_off;
    h->nv_size = l->nv_size;
    h->used = VNV_CKPT_HEADER_SIZE;
    h->next_tag = 1;
    h->st.bound = vnv_persist_bound(cfg);
    if (!registry_has_room(h))
        return VNV_ERR_INVAL;
    return VNV_OK;
}

/* Empty RAM state: canary, index, arena. */
static int reset_ram(struct vnv_heap *h)
{
    canary_write(h);
    memset(h->index, 0, (h->index_mask + 1u) * 2u);
    h->index_used = 0;
    h->policy->reset(POL_ST(h), h->index_mask + 1u);
    return h->ram->init(RAM_ST(h), h->arena, h->arena_size);
}

static void superblock_encode(const struct vnv_heap *h, uint8_t *b)
{
    memset(b, 0, VNV_SUPERBLOCK_SIZE);
    put_le32(b, SB_MAGIC0);
    put_le32(b + 4, SB_MAGIC1);
    put_le32(b + 8, SB_VERSION);
    put_le32(b + 12, h->storage.size);
    put_le32(b + 16, h->max_dirty);
    put_le32(b + 20, h->ckpt_off);
    put_le32(b + 24, h->ckpt_cap);
    put_le32(b + 28, h->nv_off);
    put_le32(b + 32, h->nv_size);
    put_le32(b + 36, h->arena_size);
    put_le32(b + 40, name_hash(h->nv->name));
    put_le32(b + 44, name_hash(h->ram->name));
    put_le32(b + 48, VNV_FREE_CACHE); /* the checkpoint header's size depends on it */
    put_le32(b + 60, vnv_crc32(0, b, 60));
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
    uint8_t sb[VNV_SUPERBLOCK_SIZE];
    superblock_encode(h, sb);
    struct vnv_iovec iov = {sb, sizeof sb};
    err = heap_writev(h, 0, &iov, 1);
    if (!err)
        err = h->nv->format(NV_ST(h), &h->storage, h->nv_off, h->nv_size);
    if (!err)
        err = ckpt_write(h, CKPT_FLAG_CLEAN);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (err)
        return err;
    h->state = HS_OPEN;
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
    if (get_le32(sb) != SB_MAGIC0 || get_le32(sb + 4) != SB_MAGIC1)
        return VNV_ERR_NOHEAP; /* blank or foreign: the caller may format */
    if (get_le32(sb + 60) != vnv_crc32(0, sb, 60) || get_le32(sb + 8) != SB_VERSION)
        return VNV_ERR_CORRUPT;
    superblock_encode(h, want);
    /* Everything but the arena size must match; a larger arena than at format is fine. */
    if (get_le32(sb + 36) > h->arena_size)
        return VNV_ERR_INVAL;
    put_le32(want + 36, get_le32(sb + 36));
    if (memcmp(sb, want, 60) != 0)
        return VNV_ERR_INVAL;
    err = h->nv->attach(NV_ST(h), &h->storage, h->nv_off, h->nv_size);
    if (!err)
        err = reset_ram(h);
    if (!err)
        err = ckpt_restore(h, 0);
    if (err)
        return err;
    h->state = HS_OPEN;
    registry_add(h);
    return VNV_OK;
}

int vnv_close(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN)
        return VNV_ERR_INVAL;
    if (h->busy)
        return VNV_ERR_BUSY; /* from the persist callback or inside an atomic group */
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        struct meta *m = idx_meta(h, s);
        if (m && (m->word & ST_PINS))
            return VNV_ERR_BUSY;
    }
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        struct meta *m = idx_meta(h, s);
        int err = m ? vnv_flush(h, (vnv_obj_t){m->id}) : 0;
        if (err)
            return err;
    }
    sec_enter(h);
    int err = free_cache_drain(h); /* a closed image holds no parked blocks */
    if (!err)
        err = ckpt_write(h, CKPT_FLAG_CLEAN);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (!err) {
        registry_remove(h);
        h->state = HS_NONE;
    }
    sec_leave(h);
    return err;
}

void vnv_abandon(struct vnv_heap *h)
{
    if (!h)
        return;
    registry_remove(h);
    h->state = HS_NONE;
}

int vnv_atomic_begin(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN)
        return VNV_ERR_INVAL;
    if (h->busy >= 200u)
        return VNV_ERR_BUSY; /* nesting depth is a uint8_t */
    sec_enter(h);
    return VNV_OK;
}

int vnv_atomic_end(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN || !h->busy)
        return VNV_ERR_INVAL;
    sec_leave(h); /* runs a checkpoint requested meanwhile */
    return VNV_OK;
}
