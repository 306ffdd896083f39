/*
 * internal.h - what the core's files share (never included by modules or users).
 *
 * RAM arena block of a resident object (offset multiple of 8):
 *   [struct meta: 16 B][bitmap, padded to 8 B: partial objects only][object data]
 * The index maps an object's home to its block: open addressing, linear probing, entries
 * hold (block offset / 8) + 1, 0 = empty.
 */
#ifndef VNV_INTERNAL_H
#define VNV_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "vnvheap.h"

/* A compiler barrier against the power-failure interrupt (critical sections, reads that
 * an interrupt's checkpoint may change): no instruction is emitted, no atomics needed. */
#ifndef __STDC_NO_ATOMICS__
#include <stdatomic.h>
#define BARRIER() atomic_signal_fence(memory_order_seq_cst)
#else
#define BARRIER() __asm__ __volatile__("" ::: "memory")
#endif

/* status bits in meta.word (low 11 bits; the object size is in the upper 21) */
#define ST_READERS 0x00Fu
#define ST_WRITER 0x010u
#define ST_DIRTY 0x020u    /* whole object dirty; partial: at least one block dirty */
#define ST_ACCESSED 0x040u
#define ST_PSHIFT_POS 8u    /* 2 bits: block size = 16 << pshift */
#define ST_PSHIFT_MASK 0x300u
#define ST_HOMED 0x400u     /* its header is on storage (it was written home at least once) */
/* The bits of the features the minimal profile leaves out (VNV_MINIMAL), as the format has
 * them: a block object, and failure-atomic group members (access.c "groups": not flushed or
 * evicted until the end). */
#define ST_F_PARTIAL 0x080u /* a block object, with a dirty bitmap */
#define ST_F_GROUP 0x800u   /* changed in the open group: its home holds the value before */
#define ST_F_GNEW 0x1000u   /* allocated in the open group: gone if the group rolls back */
#define ST_F_GFREE 0x2000u  /* freed in the open group: back if the group rolls back */
/* In the minimal profile the names the code tests are 0, so the compiler drops every path
 * behind them, and the restore refuses a record that carries one of ST_LEFT_OUT. */
#if VNV_MINIMAL
#define ST_PARTIAL 0u
#define ST_GROUP 0u
#define ST_GNEW 0u
#define ST_GFREE 0u
#define ST_LEFT_OUT (ST_F_PARTIAL | ST_F_GROUP | ST_F_GNEW | ST_F_GFREE)
#else
#define ST_PARTIAL ST_F_PARTIAL
#define ST_GROUP ST_F_GROUP
#define ST_GNEW ST_F_GNEW
#define ST_GFREE ST_F_GFREE
#define ST_LEFT_OUT 0u
_Static_assert(ST_GFREE == 1u << 13, "pin_reader tests ST_GFREE as the sign of word << 18");
#endif
#define ST_GMASK (ST_GROUP | ST_GNEW | ST_GFREE)
#define ST_BITS 14u
#define ST_MASK 0x3FFFu
#define ST_PINS (ST_READERS | ST_WRITER)
_Static_assert(ST_WRITER == ST_READERS + 1u && VNV_MAX_READERS <= ST_READERS,
               "the writer bit is just above the reader count (pin_reader)");
/* Depth of the open failure-atomic group: constant 0 in the minimal profile. */
#define IN_GROUP(h) (VNV_MINIMAL ? 0u : (uint32_t)(h)->group)

/* lifecycle */
/* The one test of "usable" every entry point makes (vnv_is_open is its public face). A
 * control block is open from format/open until close, abandon or a restore that failed,
 * and only at its own address: a copy of it (which would fork the heap's state) is not. */
static inline int is_open(const struct vnv_heap *h) { return h && h->self == h; }
/* Whether [a, a + alen) and [b, b + blen) share a byte. */
static inline int ranges_overlap(uintptr_t a, size_t alen, uintptr_t b, size_t blen)
{
    return a < b + blen && b < a + alen;
}
/* `self` while on_persist runs: neither the block nor NULL (one past it, never read). The
 * callback may have interrupted any heap call, so calls from it are refused; the
 * interrupt-safe queries and vnv_persist_all see the heap as it is (is_live). */
#define IN_CALLBACK(h) ((h) + 1)
static inline int is_live(const struct vnv_heap *h)
{
    return h && (h->self == h || h->self == IN_CALLBACK(h));
}

/* NV bitmaps (one bit per allocation unit, h->map_words words each), in the buffer. The
 * first three are committed with every checkpoint; the last two describe the protection
 * of the last checkpoint's state. */
enum {
    MAP_ALLOC,  /* unit in use (current state) */
    MAP_START,  /* unit is the first of an object's home */
    MAP_CUR,    /* at a start unit: the object's current data slot (0 or 1) */
    MAP_CALLOC, /* unit in use at the last checkpoint: not reusable before the next one */
    MAP_FRESH,  /* at a start unit: the current slot was written since the last checkpoint
                   (or the object is newer), so it may be overwritten in place */
    MAP_COUNT,
    MAP_SAVED = 3 /* bitmaps in a checkpoint */
};

/* Laid out as its checkpoint record (docs/FORMAT.md 2.3: handle, word, arena unit, pre
 * block), so that on a little-endian machine a checkpoint writes the meta itself, with a
 * plain object's data right behind it, as one piece (checkpoint.c). */
struct meta {
    uint64_t id;   /* handle value */
    uint32_t word; /* size << ST_BITS | status */
    uint16_t self; /* its own arena unit + 1 (where its block starts) */
    uint16_t pre;  /* group member: arena unit + 1 of its value before the group (a RAM
                      pre-image, see access.c enlist), PRE_LOG, or 0 = none */
};

/* A meta's bytes are its checkpoint record where the machine is little-endian (the
 * format's byte order); elsewhere, or built with VNV_ENCODE_RECORDS, records are encoded. */
#ifndef VNV_META_IS_RECORD
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VNV_META_IS_RECORD 1
#else
#define VNV_META_IS_RECORD 0
#endif
#endif
_Static_assert(sizeof(struct meta) == VNV_META_SIZE && VNV_META_SIZE == VNV_CKPT_RECORD_SIZE &&
                   offsetof(struct meta, word) == 8 && offsetof(struct meta, self) == 12 &&
                   offsetof(struct meta, pre) == 14,
               "struct meta is laid out as a checkpoint record");

/* Decoded object header on storage (VNV_OBJ_HEADER_SIZE bytes at the home). */
struct objhdr {
    uint32_t size;
    uint32_t status; /* ST_PARTIAL | pshift bits, as they go into meta.word */
};

/* A handle: tag << unit_bits | unit. The index is keyed by the unit. */
static inline uint32_t id_unit(const struct vnv_heap *h, uint64_t id)
{
    return (uint32_t)id & h->unit_mask; /* the get/release hot path: one load, one AND */
}
static inline uint64_t id_tag(const struct vnv_heap *h, uint64_t id) { return id >> h->unit_bits; }
#define id_key id_unit
static inline uint32_t unit_off(const struct vnv_heap *h, uint32_t u)
{
    return h->nv_off + u * h->unit;
}
static inline uint32_t id_home(const struct vnv_heap *h, uint64_t id)
{
    return unit_off(h, id_unit(h, id));
}
/* Bytes after each data slot: its CRC-32 when built with VNV_DATA_CRC. */
#if VNV_DATA_CRC
#define SLOT_CRC 4u
#else
#define SLOT_CRC 0u
#endif
/* Storage offset of data slot `slot` of an object of `size` bytes at `home`. */
static inline uint32_t slot_off(uint32_t home, uint32_t size, uint32_t slot)
{
    return home + VNV_OBJ_HEADER_SIZE + slot * (size + SLOT_CRC);
}
static inline uint32_t *nvmap(const struct vnv_heap *h, unsigned which)
{
    return h->map + which * h->map_words;
}
static inline int bit_get(const uint32_t *m, uint32_t u) { return (int)((m[u >> 5] >> (u & 31u)) & 1u); }
static inline void bit_set(uint32_t *m, uint32_t u) { m[u >> 5] |= 1u << (u & 31u); }
static inline void bit_clr(uint32_t *m, uint32_t u) { m[u >> 5] &= ~(1u << (u & 31u)); }
/* Set bit u of a saved bitmap (MAP_ALLOC, MAP_START, MAP_CUR) to v, keeping the two sums
 * the checkpoint checksum takes over the saved map (cksum.c: Fletcher over words is linear,
 * so a word that changes by d moves the first by d and the second by d times its distance
 * from the end): a checkpoint then needs no pass over the map. */
static inline void map_word(struct vnv_heap *h, uint32_t i, uint32_t now)
{
    uint32_t d = now - h->map[i]; /* word i of the saved bitmaps (i < MAP_SAVED words) */
    h->map[i] = now;
    h->map_sa += d;
    h->map_sb += (MAP_SAVED * h->map_words - i) * d;
}
static inline void map_put(struct vnv_heap *h, unsigned which, uint32_t u, int v)
{
    uint32_t i = which * h->map_words + (u >> 5), old = h->map[i];
    map_word(h, i, v ? old | 1u << (u & 31u) : old & ~(1u << (u & 31u)));
}
static inline void bit_put(uint32_t *m, uint32_t u, int v)
{
    if (v)
        bit_set(m, u);
    else
        bit_clr(m, u);
}
static inline uint32_t meta_size(const struct meta *m) { return m->word >> ST_BITS; }
static inline uint32_t pad8(uint32_t n) { return (n + 7u) & ~7u; }

static inline uint32_t part_block(uint32_t status)
{
    return 16u << ((status & ST_PSHIFT_MASK) >> ST_PSHIFT_POS);
}
static inline uint32_t part_nblocks(uint32_t size, uint32_t status)
{
    uint32_t bs = part_block(status);
    return (size + bs - 1u) / bs;
}
/* Bitmap bytes of a partial object (0 for a plain one): what a checkpoint records. */
static inline uint32_t bitmap_bytes(uint32_t size, uint32_t status)
{
    return (status & ST_PARTIAL) ? (part_nblocks(size, status) + 7u) / 8u : 0u;
}
/* Offset of the data inside the block. */
static inline uint32_t data_offset(uint32_t size, uint32_t status)
{
    return VNV_META_SIZE + pad8(bitmap_bytes(size, status));
}
static inline uint8_t *meta_bitmap(struct meta *m) { return (uint8_t *)m + VNV_META_SIZE; }
/* A member freed in the open group whose home holds its value from before the group (clean):
 * nothing reads its data again (a rollback drops it, the group's end frees it), so its block
 * is the meta and bitmap only. */
static inline int ghost(uint32_t status)
{
    return !VNV_MINIMAL && (status & (ST_GFREE | ST_DIRTY)) == ST_GFREE;
}
/* Arena bytes of a resident object's block: meta, bitmap, data (none for a ghost). */
static inline uint32_t block_need(uint32_t size, uint32_t status)
{
    return data_offset(size, status) + (ghost(status) ? 0u : size);
}
static inline uint8_t *meta_data(struct meta *m)
{
    return (uint8_t *)m + data_offset(meta_size(m), m->word & ST_MASK);
}
static inline struct meta *unit_meta(const struct vnv_heap *h, uint32_t unit)
{
    return (struct meta *)(void *)(h->arena + (unit - 1u) * 8u);
}
static inline uint8_t *pre_data(const struct vnv_heap *h, const struct meta *m)
{
    return h->arena + (m->pre - 1u) * 8u;
}
/* meta.pre of a member whose value from before the group is its RAM copy with the undo
 * log's entries for it put back (small vnv_writes, group.c); not an arena place. */
#define PRE_LOG 0xFFFFu
static inline int pre_block(const struct meta *m)
{
    return !VNV_MINIMAL && m->pre && m->pre != PRE_LOG;
}
/* Bytes of a member's pre block: its value from before the group, or for one freed in the
 * group (ST_GFREE) its 8-byte handle, which the tombstone in meta.id no longer carries. */
static inline uint32_t pre_size(uint32_t word)
{
    return (word & ST_GFREE) ? 8u : word >> ST_BITS;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void put_le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}
static inline uint32_t get_le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
/* n little-endian words of a record read from storage (a header, the superblock), decoded
 * in one loop: each field is then a word, a pair of them a handle or a counter. */
static inline void le32_words(uint32_t *w, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        w[i] = get_le32(p + 4u * i);
}
static inline uint64_t words64(const uint32_t *w, uint32_t i)
{
    return w[i] | (uint64_t)w[i + 1u] << 32;
}

/* crc32.c */
uint32_t vnv_crc32(uint32_t crc, const void *buf, uint32_t len); /* start with 0 */
/* cksum.c: the checkpoint checksum */
struct cksum {
    uint32_t a, b, part, n;
};
void cksum_init(struct cksum *s);
void cksum_add(struct cksum *s, const void *buf, uint32_t len);
uint32_t cksum_end(const struct cksum *s);

/* index.c (lookups are inline: they are the get/release hot path) */
static inline uint32_t home_slot(const struct vnv_heap *h, uint32_t key)
{
    return ((key * 0x9E3779B1u) >> 16) & h->index_mask; /* Fibonacci hashing, <= 65536 slots */
}
/* Metadata in `slot`, NULL if the slot is empty. */
static inline struct meta *idx_meta(const struct vnv_heap *h, uint32_t slot)
{
    uint32_t e = h->index[slot];
    return e ? unit_meta(h, e) : NULL;
}
/* Slot of the resident object with home key `key`, or -1. At most one pass (bounded). */
static inline int32_t idx_find(const struct vnv_heap *h, uint32_t key)
{
    uint32_t s = home_slot(h, key);
    for (uint32_t n = 0; n <= h->index_mask; n++) {
        uint32_t e = h->index[s];
        if (!e)
            return -1;
        if (id_key(h, unit_meta(h, e)->id) == key)
            return (int32_t)s;
        s = (s + 1u) & h->index_mask;
    }
    return -1;
}
/* Metadata of the resident object with home key `key`, or NULL. */
static inline struct meta *idx_lookup(const struct vnv_heap *h, uint32_t key)
{
    uint32_t s = home_slot(h, key);
    for (uint32_t n = 0; n <= h->index_mask; n++) {
        uint32_t e = h->index[s];
        if (!e)
            return NULL;
        struct meta *m = unit_meta(h, e);
        if (id_key(h, m->id) == key)
            return m;
        s = (s + 1u) & h->index_mask;
    }
    return NULL;
}
/* The first used slot at or after `slot`, or the slot count (index_mask + 1) if none. */
uint32_t idx_next_used(const struct vnv_heap *h, uint32_t slot);
void idx_insert(struct vnv_heap *h, uint32_t key, uint32_t unit);
void idx_remove(struct vnv_heap *h, uint32_t key); /* (the entry of home key `key`) */

/* sections.c: critical sections, budget counter, canary */
#define RAM_ST(h) ((void *)(h)->ram_state)
#define POL_ST(h) ((void *)(h)->policy_state)
void canary_write(struct vnv_heap *h);
int canary_ok(const struct vnv_heap *h);
void charge(struct vnv_heap *h, uint32_t bytes);
void sec_enter(struct vnv_heap *h);
void sec_leave(struct vnv_heap *h);

/* store/home.c: counted storage access and object headers on storage */
int heap_read(struct vnv_heap *h, uint32_t off, void *dst, uint32_t len);
int heap_writev(struct vnv_heap *h, uint32_t off, const struct vnv_iovec *iov, unsigned cnt);
/* heap_writev for a caller that built the pieces and knows their total (the checkpoint
 * writer: one pass less over the pieces, once per record on the power-failure path) */
int heap_writev_total(struct vnv_heap *h, uint32_t off, const struct vnv_iovec *iov,
                      unsigned cnt, uint32_t total);
void objhdr_encode(const struct vnv_heap *h, uint8_t *b, uint64_t id, uint32_t size,
                   uint32_t status);
int objhdr_decode(const struct vnv_heap *h, const uint8_t *b, uint64_t id, struct objhdr *oh);
int read_objhdr(struct vnv_heap *h, uint64_t id, struct objhdr *oh);
int unit_header(struct vnv_heap *h, uint32_t u, uint64_t *id, struct objhdr *oh); /* !MINIMAL */
int read_objhdr_with(struct vnv_heap *h, uint64_t id, uint8_t *buf, uint32_t len,
                     struct objhdr *oh);

/* store/tags.c: the tag reservation (handles never issued twice, docs/FORMAT.md 1.1) */
#define TAGS_AREA_OFF VNV_SUPERBLOCK_SIZE
#define TAGS_AREA_SIZE VNV_TAG_AREA_SIZE
/* Read the area: the larger intact record's value (0 if none); picks the record to write
 * next. One read of 32 bytes. */
int tags_load(struct vnv_heap *h, uint64_t *upto);
/* After vnv_open's checkpoint is loaded: go on past `upto` (tags_load), nothing reserved. */
void tags_resume(struct vnv_heap *h, uint64_t upto);
/* vnv_format: write the area (a first reservation, the other record void). No sync. */
int tags_format(struct vnv_heap *h);
/* Reserve the next tags: write and sync one record, before the counter passes
 * h->tag_reserved. IO or INVAL (the heap closed itself meanwhile) leave it unreserved. */
int tags_reserve(struct vnv_heap *h);

/* store/nvmap.c: the NV bitmaps */
/* Bytes of a home for an object of `size` bytes: header and two slots (each with its
 * checksum when built with VNV_DATA_CRC). */
static inline uint32_t nvmap_need(const struct vnv_heap *h, uint32_t size)
{
    (void)h;
    return VNV_OBJ_HEADER_SIZE + 2u * (size + SLOT_CRC);
}
int nvmap_alloc(struct vnv_heap *h, uint32_t size, uint32_t *unit);
uint32_t nvmap_extent(const struct vnv_heap *h, uint32_t unit);
int nvmap_holds(const struct vnv_heap *h, uint32_t unit, uint32_t size);
void nvmap_free(struct vnv_heap *h, uint32_t unit);
void nvmap_free_keep(struct vnv_heap *h, uint32_t unit);
void nvmap_spare_drop(struct vnv_heap *h);
void nvmap_commit(struct vnv_heap *h);
void nvmap_clear(struct vnv_heap *h);
int nvmap_validate(const struct vnv_heap *h);
uint32_t nvmap_count(const struct vnv_heap *h, unsigned which);
void nvmap_sums(const struct vnv_heap *h, uint32_t *sa, uint32_t *sb);
uint32_t nvmap_quarantined(const struct vnv_heap *h);

/* cache/resident.c: one resident object */
uint32_t dirty_bytes_of(struct meta *m);
uint32_t charge_of(struct meta *m);
void drop_resident(struct vnv_heap *h, struct meta *m);
void pre_drop(struct vnv_heap *h, struct meta *m);
int reload_home(struct vnv_heap *h, struct meta *m);

/* access.c: object operations; group.c */
int mutate_begin(struct vnv_heap *h);

/* store/slot.c: moving object data between RAM and a home's data slots */
int slot_load(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot, uint8_t *dst);
int slot_read_range(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot,
                    uint32_t off, uint8_t *dst, uint32_t len);
int slot_store(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot,
               const uint8_t *src, const uint8_t *hdr);
int slot_store_at(struct vnv_heap *h, uint32_t off, const uint8_t *src, uint32_t len);
int slot_write_fresh(struct vnv_heap *h, uint32_t unit, uint32_t off, const uint8_t *src,
                     uint32_t len, uint32_t *written);
int slot_verify(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot);
int slot_check_crc(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot,
                   uint32_t crc);

/* group.c: the undo log of bytes a group wrote through to non-resident objects.
 * Entry in RAM: [u16 next][u16 0][u32 unit][u32 storage offset][u16 len][u16 its own arena
 * unit][len old bytes]; a checkpoint writes the 12 + len bytes from `unit` on. */
/* A writer pin the program takes (+1) or gives back (-1): vnv_atomic_begin refuses while
 * one is held, without a walk. Main context only, like the pins themselves: a restore
 * inside a persist round brings back the same pins (they are in its records). */
static inline void writer_pins_add(struct vnv_heap *h, int d)
{
    if (!VNV_MINIMAL)
        h->writer_pins = (uint16_t)(h->writer_pins + d);
}

/* The group's members by home unit (group_units), so that end and abort look up a few
 * members instead of walking every resident object (group.c). */
#define GROUP_NOTES 5u
#define GROUP_WALK 255u
_Static_assert(sizeof(((struct vnv_heap *)0)->group_units) == GROUP_NOTES * 2u, "vnvheap.h");

#define UNDO_MAX_BYTES 32u /* longer writes load the object instead */
#define UNDO_HDR 16u
#define UNDO_CKPT_HDR 12u
#if !VNV_MINIMAL
_Static_assert(VNV_UNDO_ENTRY_RAM(UNDO_MAX_BYTES) == UNDO_HDR + UNDO_MAX_BYTES, "vnvheap.h");
void undo_link(struct vnv_heap *h, uint32_t boff, uint32_t unit, uint32_t at, uint32_t len);
void undo_discard(struct vnv_heap *h);
int undo_write(struct vnv_heap *h);
void undo_revert(const struct vnv_heap *h, uint32_t unit, uint8_t *dst);
int group_rollback(struct vnv_heap *h);
void group_note(struct vnv_heap *h, uint32_t unit);
void group_mark(struct vnv_heap *h, struct meta *m, uint32_t bits);
#else
/* No groups (VNV_MINIMAL): the calls sit on paths that IN_GROUP(h) == 0 or a zero status
 * bit makes dead; these keep an unoptimised build linking without group.c. */
static inline void undo_link(struct vnv_heap *h, uint32_t boff, uint32_t unit, uint32_t at,
                             uint32_t len)
{
    (void)h, (void)boff, (void)unit, (void)at, (void)len;
}
static inline void undo_discard(struct vnv_heap *h) { (void)h; }
static inline int undo_write(struct vnv_heap *h) { return (void)h, VNV_OK; }
static inline void undo_revert(const struct vnv_heap *h, uint32_t unit, uint8_t *dst)
{
    (void)h, (void)unit, (void)dst;
}
static inline int group_rollback(struct vnv_heap *h) { return (void)h, VNV_OK; }
static inline void group_note(struct vnv_heap *h, uint32_t unit) { (void)h, (void)unit; }
static inline void group_mark(struct vnv_heap *h, struct meta *m, uint32_t bits)
{
    (void)h, (void)m, (void)bits;
}
#endif
#define UNDO_RAM 0x80000000u /* entry offset flag: bytes of a resident object, not storage */
static inline uint8_t *undo_entry(const struct vnv_heap *h, uint32_t unit)
{
    return h->arena + (unit - 1u) * 8u;
}

/* checkpoint.c */
int ckpt_write(struct vnv_heap *h, uint32_t flags);
int ckpt_restore(struct vnv_heap *h, int keep_pins);
int ckpt_invalidate_other(struct vnv_heap *h);
int ckpt_open(struct vnv_heap *h);
int persist_now(struct vnv_heap *h);
int persist_deferred(struct vnv_heap *h);
void registry_add(struct vnv_heap *h);
void registry_remove(struct vnv_heap *h);
int registry_has(const struct vnv_heap *h);
int registry_has_room(const struct vnv_heap *h);
int persist_running(const struct vnv_heap *h);
void persist_answer_closed(struct vnv_heap *h, int status);
void heap_die(struct vnv_heap *h, int ram_lost);
int heap_is_dead(const struct vnv_heap *h);
int registry_taken(const struct vnv_heap *h, const struct vnv_storage *s, const void *buf,
                   size_t len);


#define CKPT_FLAG_CLEAN 1u
#define CKPT_FLAG_GROUP 2u /* taken inside a failure-atomic group: open rolls it back */
#define CKPT_MAGIC 0x43564E56u /* "VNVC" */

/* Iterate the runs of consecutive dirty blocks of a partial object: returns the number of
 * runs written to `runs` (pairs of byte offset, length), starting after `*block` and
 * continuing at most `max` runs; *block is advanced. Clipped to the object size. */
uint32_t dirty_runs(struct meta *m, uint32_t *block, uint32_t (*runs)[2], uint32_t max);

#endif /* VNV_INTERNAL_H */
