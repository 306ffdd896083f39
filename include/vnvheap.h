/*
 * vnvheap.h - a virtually non-volatile heap for intermittently powered devices.
 *
 * Objects live on non-volatile storage (their "home": SPI FRAM, MRAM, a file) and are cached
 * in a caller-supplied RAM buffer while in use. Every byte that a power-failure checkpoint
 * would have to write is accounted for, and the total is kept at or below the configured
 * `max_dirty_bytes` at every instant, so the energy one checkpoint needs is known at design
 * time: vnv_persist_bound(cfg) bytes.
 *
 * Usage in short:
 *   vnv_format(&h, &cfg)  or  vnv_open(&h, &cfg)      once, at start
 *   vnv_alloc(&h, size, init, &obj)                   new object, returns a handle
 *   vnv_get(&h, obj, &p) / vnv_get_mut(&h, obj, &p)   pin for reading / writing
 *   vnv_release(&h, obj)                              unpin (the pointer becomes invalid)
 *   vnv_persist_all()                                 from the power-failure interrupt
 *
 * Conventions for every function below
 *   - Returns 0 (VNV_OK) or a negative VNV_ERR_* code (vnvheap/common.h). On error the heap
 *     is unchanged unless the text says otherwise, and vnv_check() passes.
 *   - "n" in complexities is an OBJECT's size in bytes; R is the index capacity (a constant
 *     of the configuration, see vnv_config.index_entries), never the number of objects.
 *   - "Storage:" lists the device traffic an operation may cause (transactions x bytes).
 *     HDR = VNV_OBJ_HEADER_SIZE (object header on storage), REC = VNV_CKPT_RECORD_SIZE
 *     (checkpoint record per resident object), 16 bytes each in this format; MAP = the NV
 *     map (stats.nv_map_bytes). No operation ever overwrites what the last
 *     completed checkpoint needs: a reset at any instant reopens it (README, Guarantees).
 *   - Interrupt safety: only vnv_persist_all() and the queries marked interrupt-safe
 *     (vnv_is_open, vnv_atomic_depth, vnv_strerror) may be called from an interrupt or
 *     signal handler, and from on_persist. Everything else is for normal (non-reentrant,
 *     single-threaded) code.
 *   - Pointers handed out are 8-byte aligned and valid between get and release, including
 *     across a checkpoint followed by a RAM wipe and resume (same address).
 *   - Minimal profile (VNV_MINIMAL, vnvheap/common.h): the functions inside
 *     #if !VNV_MINIMAL below are not declared; every call that reads a block object's
 *     header from storage (a load, vnv_read, vnv_write, vnv_size, vnv_free of a
 *     non-resident object) returns VERSION and changes nothing.
 */
#ifndef VNVHEAP_H
#define VNVHEAP_H

#include <stdbool.h>

#include "vnvheap/alloc.h"
#include "vnvheap/common.h"
#include "vnvheap/policy.h"
#include "vnvheap/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- compile-time limits (override in VNV_CONFIG_HEADER) --------------------------- */

#ifndef VNV_MAX_HEAPS
#define VNV_MAX_HEAPS 4 /* heaps vnv_persist_all() can reach at once */
#endif
#ifndef VNV_MAX_READERS
#define VNV_MAX_READERS 15 /* concurrent read pins per object (4 bits) */
#endif
#ifndef VNV_IO_CHUNK
/* Most bytes of one object transferred in one storage transaction by a load, a flush, or a
 * vnv_read / vnv_write of a non-resident object (0 = the whole object or range). A
 * checkpoint requested meanwhile waits for one chunk, so this bounds the deferral of
 * those transfers; smaller chunks cost one transaction each. */
#define VNV_IO_CHUNK 0
#endif
#ifndef VNV_DATA_CRC
/* 1: every data slot of every home carries a CRC-32 of its bytes, so bit rot in object data
 * is reported as VNV_ERR_CORRUPT by every read from storage (load, vnv_read, vnv_write's
 * copy, open's reload of resident objects, vnv_check). Cost (README "Data checksum"): 8
 * bytes of storage per object; a CRC-32 over the object at every flush and load; a load
 * reads 4 more bytes in one more transaction; vnv_read of a non-resident object reads the
 * whole object; a flush of a block object rewrites its whole slot; and a slot write is one
 * critical section even with VNV_IO_CHUNK. An image records the setting: a build with the
 * other one refuses it with VNV_ERR_VERSION. Must be the same in every translation unit. */
#define VNV_DATA_CRC 0
#endif
#ifndef VNV_PERSIST_ROUNDS
/* Persist rounds per request: a request that arrives during a round's callback or restore
 * (the supply failed again) gets one more round (callback, and restore if RAM was lost),
 * up to this many in all, so one checkpoint causes at most this many restores. A request
 * still left after that runs at the end of the next critical section. */
#define VNV_PERSIST_ROUNDS 8
#endif
#ifndef VNV_PERSIST_BATCH
#define VNV_PERSIST_BATCH 8 /* a checkpoint write: 2x+4 pieces; x records if big-endian */
#endif

/* ---- sizes that the sizing formula uses ----------------------------------------------- */

#define VNV_CKPT_HEADER_SIZE 48u  /* fixed part of every checkpoint */
#define VNV_CKPT_RECORD_SIZE 16u  /* per resident object in a checkpoint */
#define VNV_META_SIZE 16u         /* RAM metadata per resident object, before its data */
#define VNV_OBJ_HEADER_SIZE 16u   /* per object on storage, before its two data slots */
#define VNV_SUPERBLOCK_SIZE 64u   /* at storage offset 0 */
#define VNV_TAG_AREA_SIZE 32u     /* after the superblock: the tag reservation (see handles) */
#define VNV_MAX_OBJECT_SIZE ((1u << 18) - 1u) /* 256 KiB - 1 */
#define VNV_MAX_STORAGE_SIZE (1u << 24) /* 16 MiB */
#ifndef VNV_MAX_UNITS
/* Most allocation units of the NV map (the automatic unit size grows with the storage to
 * stay within it). RAM: 5 bits per unit; every checkpoint: 3 bits per unit (see README). */
#define VNV_MAX_UNITS 2048u
#endif

/* ---- handles ---------------------------------------------------------------------------- */

/* An object handle: a 64-bit value, stable across checkpoints and restarts, that may be
 * stored inside other objects. It encodes the home's allocation unit (b bits, b = bits
 * needed to number the units, at most 11 by default) and a tag of 64 - b bits: the number of
 * the allocation that issued it, from a 64-bit counter kept in every checkpoint. vnv_format
 * starts the counter at a 32-bit hash h of the RAM buffer's and the storage's addresses
 * times 2^16 on a fresh storage, or past the largest counter an earlier heap left on it,
 * by 1 + h: two heaps open at once, or a heap before and after a format (more than 2^19
 * formats in a row with b <= 11), issue different handles, and one passed to the wrong heap is refused
 * (INVAL) unless the two counters ran into each other. Tags never
 * repeat: the counter has 2^53 values before it wraps (285 years at a million allocations
 * per second; resets skip some, below), so a handle that was freed stays rejected with VNV_ERR_INVAL for the device's
 * lifetime, however often its home is reused. Resets included: an object allocated after
 * the last checkpoint is gone after a reset, but its handle, kept outside the heap (another
 * heap, a log, a message), names nothing then and is never issued again. The counter is
 * reserved ahead on storage (VNV_TAG_AREA_SIZE bytes after the superblock, docs/FORMAT.md
 * 1.1; vnv_alloc writes it, see there) and vnv_open goes on past the reservation: a reset
 * skips the rest of it, at most 2^20 tags and at most about as many as the run before it
 * issued (or 256; up to 2^20 in the run right after vnv_format). A forged value passes only if it names a live
 * object's unit and its exact tag: probability at most (live objects) / 2^53 per try, since
 * only issued tags (at most the allocation count) name anything. The all-zero handle
 * VNV_NULL is never valid. Stored inside objects, a handle takes 8 bytes. */
typedef struct {
    uint64_t id;
} vnv_obj_t;

#define VNV_NULL ((vnv_obj_t){0})
static inline bool vnv_is_null(vnv_obj_t o) { return o.id == 0; }
static inline bool vnv_same(vnv_obj_t a, vnv_obj_t b) { return a.id == b.id; }

/* ---- configuration ------------------------------------------------------------------------ */

struct vnv_heap;

/*
 * Called by every checkpoint vnv_persist_all() or vnv_checkpoint() takes (not by the ones
 * vnv_format and vnv_close write: vnv_close calls it once for a request deferred into its
 * checkpoint) after its data is durable (status 0) or when the checkpoint
 * failed (status < 0; then nothing on storage changed except a now-invalid checkpoint:
 * a new header written but not confirmed is voided; should that fail too, the heap
 * closes itself - vnv_is_open false - and a reset finds the previous checkpoint or, if
 * the header reached the device after all, the new one, both complete).
 * Runs in the context of the caller of the checkpoint: the power-failure interrupt for
 * vnv_persist_all(). This is where firmware waits for the power to fail or come back.
 * `buf`/`len` is the RAM buffer; the platform may lose it.
 * Return nonzero if the buffer's content was lost (the heap then restores it from the
 * checkpoint at the same addresses), 0 if it is intact (the heap checks a canary and
 * restores anyway if that was overwritten).
 * It runs in interrupt context, possibly in the middle of a heap call of the interrupted
 * code: it may call only the interrupt-safe functions (conventions above), which answer
 * as usual. On its own heap vnv_format, vnv_open and vnv_close are refused there
 * (VNV_ERR_BUSY), and every other call (objects, root, stats, check, checkpoint) returns
 * VNV_ERR_INVAL and changes nothing, except vnv_abandon: it closes the heap, which stays
 * closed (vnv_persist_all returns INVAL; storage holds the checkpoint the callback was
 * called for, if status is 0). Calls on another heap are not checked: their effects
 * are undefined if the interrupt stopped a call on that heap.
 */
typedef int (*vnv_persist_cb)(void *user, int status, void *buf, size_t len);

struct vnv_config {
    /* Storage device; the struct is copied, its ctx must outlive the heap. Required. */
    const struct vnv_storage *storage;
    /* RAM buffer for the index and resident objects, caller-owned, 8-byte aligned
     * (misaligned bytes at the start are skipped: declare it _Alignas(8), for a buffer
     * that loses bytes to alignment after a relink may be smaller than at format, which
     * vnv_open refuses). Required. */
    void *buffer;
    size_t buffer_size;
    /* The bound: the most bytes any checkpoint may write, header included. Required;
     * at least VNV_CKPT_HEADER_SIZE + VNV_CKPT_RECORD_SIZE + 8. */
    uint32_t max_dirty_bytes;
    /* Index slots (power of two, >= 8). 0 = one per 64 bytes of buffer. At most 3/4 of
     * them hold objects, which caps the number of resident objects. RAM: 2 B each. */
    uint32_t index_entries;
    /* Modules; NULL = default (RAM first-fit, NV first-fit, clock). The two allocators are
     * part of the image's configuration: vnv_open refuses another choice (INVAL). The
     * policy is not (it only picks which object leaves RAM): any run may choose another. */
    const struct vnv_ram_allocator *ram_allocator;
    const struct vnv_nv_allocator *nv_allocator;
    const struct vnv_policy *policy;
    /* Persist-finished callback (optional) and its first argument. */
    vnv_persist_cb on_persist;
    void *user;
    /* VNV_CFG_* bits; 0 = defaults. */
    uint32_t flags;
    /* Allocation unit of the storage in bytes (a power of two >= 16); 0 = the smallest
     * that keeps the storage within VNV_MAX_UNITS units. Every home is a whole number of
     * units. Fixed at format. */
    uint32_t nv_unit;
};

/* Accepted for compatibility; no effect. (The one freed home vnv_free may keep for the next
 * allocation of its size is free in every respect that can be observed: vnv_stats counts
 * it in nv_free, and every checkpoint and vnv_check release it first.) */
#define VNV_CFG_NO_FREE_CACHE 1u

/* ---- statistics --------------------------------------------------------------------------- */

struct vnv_stats {
    uint32_t resident_objects;
    uint32_t resident_bytes;    /* RAM arena bytes used by resident objects (with metadata) */
    uint32_t dirty_bytes;       /* object bytes a checkpoint would write */
    uint32_t checkpoint_bytes;  /* budgeted bytes a checkpoint would write right now (header,
                                   records, bitmaps, dirty data: <= max_dirty_bytes) */
    uint32_t nv_map_bytes;      /* plus the NV map, a constant of the configuration: a
                                   checkpoint writes checkpoint_bytes + nv_map_bytes */
    uint32_t peak_checkpoint_bytes;
    uint32_t bound;             /* vnv_persist_bound of the configuration */
    uint32_t arena_free;        /* free bytes in the RAM arena */
    uint32_t nv_free;           /* free bytes on storage (allocator's view) */
    uint32_t loads, flushes, evictions, allocs, frees;
    uint32_t persists;          /* checkpoints written (power-fail rounds, vnv_checkpoint,
                                   vnv_close, vnv_format) */
    uint32_t callbacks;         /* on_persist calls: one per persist round */
    uint32_t rounds_unwritten;  /* persist rounds that wrote nothing: a request that arrived
                                   during the callback or restore of the round before it,
                                   while storage already held exactly that state */
    uint32_t persist_errors;    /* persist rounds whose checkpoint failed (callback got < 0) */
    uint32_t deferred;          /* persist requests deferred to the end of a critical section */
    uint32_t restores;          /* RAM buffer rebuilt from a checkpoint */
    uint32_t tag_reserves;      /* 16-byte tag reservations vnv_alloc wrote (see "handles"):
                                   the first allocation after vnv_open, then 256, 512, ...
                                   allocations later, doubling up to 2^20; after vnv_format
                                   none in the first 2^20, then one per 2^20 */
    uint32_t nv_leaked;         /* always 0 (this format cannot leak storage) */
    uint32_t nv_parked;         /* always 0 (this format has no parked homes) */
    uint32_t nv_quarantined;    /* storage bytes freed since the last checkpoint: reusable
                                   once the next checkpoint completes */
    uint32_t storage_reads, storage_writes; /* transactions issued by the heap */
    uint64_t storage_read_bytes, storage_write_bytes;
};

/* ---- the heap ------------------------------------------------------------------------------ */

/*
 * The heap's control block. Allocate it statically or on the stack of main; treat every
 * field as private (they are visible only so that no allocation is needed). Its size is
 * sizeof(struct vnv_heap) (`make size` prints it per target; README "Costs"). While open it
 * stays where it was opened: a copy of it (struct assignment, memcpy) is not open, and
 * every call through the copy returns VNV_ERR_INVAL (its queries false or 0), so that two
 * blocks never work one heap.
 */
struct vnv_heap {
    struct vnv_storage storage;
    const struct vnv_ram_allocator *ram;
    const struct vnv_nv_allocator *nv;
    const struct vnv_policy *policy;
    vnv_persist_cb on_persist;
    void *user;
    uint8_t *buf;        /* aligned start of the buffer */
    uint32_t buf_size;   /* usable bytes from buf */
    uint16_t *index;     /* open-addressing table: arena unit + 1, 0 = empty */
    uint32_t index_mask; /* entries - 1 */
    uint32_t index_cap;  /* most objects the index may hold */
    uint32_t index_used;
    uint8_t *arena;      /* the RAM allocator's range */
    uint32_t arena_size;
    uint32_t max_dirty;
    uint32_t ckpt_off, ckpt_cap; /* checkpoint slot A on storage; B follows; cap each */
    uint32_t nv_off, nv_size;    /* object homes on storage */
    uint32_t unit, units;        /* allocation unit (bytes) and number of units */
    uint32_t unit_bits;          /* handle bits for the unit number; the tag has the rest */
    uint32_t unit_mask;          /* (1 << unit_bits) - 1: the index key of a handle */
    uint32_t map_words;          /* 32-bit words per NV bitmap */
    uint32_t *map;               /* the NV bitmaps, in the buffer (see internal.h) */
    uint32_t map_sa, map_sb;     /* the checkpoint checksum's sums over the saved bitmaps */
    uint32_t used;       /* bytes the next checkpoint writes (header included, map not) */
    uint32_t dirty_data;
    uint64_t root;       /* root handle id */
    uint64_t alloc_count; /* the allocation counter: the next handle's tag */
    uint64_t tag_reserved; /* the counter may reach this before the next reservation */
    uint32_t tag_step;   /* counter values the next reservation covers */
    uint8_t tag_next;    /* the reservation record written next (0 or 1) */
    uint8_t unit_shift;  /* log2(unit): units from bytes without a division */
    uint16_t group_units[5]; /* the home units of the group's members, while group_noted
                                <= 5: end and abort visit these, not every resident object */
    uint32_t seq;        /* sequence number of the last checkpoint */
    volatile uint8_t busy;      /* inside a critical section: persist must wait */
    volatile uint8_t pending;   /* a persist was requested during the critical section */
    uint8_t slot;        /* checkpoint slot (0 = A, 1 = B) holding the last checkpoint */
    uint8_t other_live;  /* the other slot may hold an older valid checkpoint */
    volatile uint8_t group; /* nesting depth of the open failure-atomic group (0 = none) */
    uint8_t group_noted;  /* entries of group_units in use; 255: more members than that */
    uint16_t writer_pins; /* writer pins the program holds (vnv_atomic_begin's test) */
    uint32_t spare;      /* a freed home kept for the next allocation of its size: unit + 1
                            (0 = none; src/store/nvmap.c) */
    uint64_t group_root; /* the root when the group began */
    uint16_t undo;       /* the group's undo log: arena unit + 1 of the newest entry, 0 = none */
    uint16_t undo_count; /* its entries */
    uint32_t spare_units; /* the spare home's units */
    uint64_t hdr_id;     /* the last object header read from storage: its handle (0 = none), */
    uint32_t hdr_size, hdr_status; /* size and kind; forgotten when its home is freed */
    const struct vnv_heap *self; /* this block while open, else NULL: a copy is not open */
    struct vnv_stats st;
    uint32_t ram_state[VNV_RAM_STATE_MAX / 4];
    uint32_t policy_state[VNV_POLICY_STATE_MAX / 4];
};

/*
 * Create an empty heap on the storage described by `cfg`, erasing what was there, and
 * register it for vnv_persist_all(). Lays out: superblock | tag reservation | checkpoint
 * slots A and B | object homes, and writes an empty checkpoint so that vnv_open works at once.
 * Errors: INVAL (NULL, buffer too small for the index plus one object, max_dirty_bytes too
 *   small to hold even one object, storage too small or larger than VNV_MAX_STORAGE_SIZE,
 *   more than VNV_MAX_HEAPS heaps, module state too large, a buffer that overlaps the
 *   control block `h`), BUSY (called from the persist callback; `h` was opened in this run
 *   and has an atomic group open or an object still pinned: nothing is changed, end the
 *   group and release first - a block kept in RAM across a reset does not count; or another open heap uses the same storage - same ctx and read function - or a
 *   byte of the same RAM buffer), IO. An open, idle `h` is abandoned first (vnv_abandon:
 *   what changed since its last checkpoint is dropped).
 * Time: O(buffer_size / 64 + units / 32). Storage: reads 8 bytes of each checkpoint header
 *   and the tag reservation area (the old allocation counter, where the new one starts: see
 *   handles; a read error only loses that hint), voids the superblock's first 48 bytes
 *   (sync), voids both slot headers, writes the tag reservation area (32 bytes), an empty
 *   checkpoint (header + MAP; two syncs), the superblock but its magic (sync), then the
 *   magic (sync): five syncs (docs/FORMAT.md section 1). A cut anywhere in it leaves the old
 *   heap, no heap (NOHEAP) or the new one, never a damaged image.
 */
int vnv_format(struct vnv_heap *h, const struct vnv_config *cfg);

/*
 * Attach to a heap on storage after a reset or process restart: validates the superblock
 * and the last checkpoint (its checksum), then rebuilds the RAM buffer from it. Afterwards the
 * heap holds exactly the objects and values of the moment that checkpoint was taken; no
 * object is pinned (references of the previous run are gone). Registers the heap.
 * Errors: NOHEAP (no vnvheap image: blank or foreign device — the one case where a boot
 *   sequence should call vnv_format), INVAL (bad cfg; configuration differs from the one
 *   formatted: storage size, max_dirty_bytes, buffer smaller than at format, another RAM or
 *   NV allocator, another nv_unit), CORRUPT (a vnvheap image that is damaged: a checksum
 *   that fails where no power cut leaves one, both checkpoints unusable, records that
 *   disagree with the homes; a power cut, announced or not, never causes it), VERSION (another
 *   format version or VNV_DATA_CRC setting; in the minimal profile, VNV_MINIMAL, also a last
 *   checkpoint taken inside a group or holding a block object), NOMEM
 *   (the checkpoint holds more resident objects than this buffer's index can, or places
 *   them past the end of this buffer's arena - written by a run with a larger buffer,
 *   which open accepts: open with the buffer_size and index_entries of that run), BUSY (as vnv_format), IO. Only NOHEAP means
 *   "nothing to lose"; never format on CORRUPT or IO without deciding to discard the data.
 *   On error storage is not changed, except by an open of a checkpoint taken inside a
 *   group whose rollback fails while it writes the group's logged bytes back (its last
 *   step; IO): the older checkpoint is then voided and part of the bytes back; the next
 *   open writes them all again.
 * Which checkpoint: the newer of the two slots, or the older one if the newer was cut while
 *   it was written (docs/FORMAT.md 2.4). After any reset, announced or not, that is the last
 *   completed checkpoint. There is no scan of the storage, whatever the number of objects.
 * Checkpoint records are checked against their objects' homes: a record whose home header
 *   (intact) names another handle, size or block size is CORRUPT. A resident object whose
 *   home header is itself damaged does not stop the open: a clean one stays on storage,
 *   where each access returns CORRUPT; a dirty one keeps its value from the checkpoint.
 * Time: O(checkpoint bytes + resident objects + units / 32). Storage: reads superblock, the
 *   tag reservation area (32 bytes: the counter goes on past it, see handles), both
 *   slot headers, the checkpoint twice (verify in arena-sized reads, then apply), the home
 *   header of each resident object that has a home, and each resident clean object's data.
 */
int vnv_open(struct vnv_heap *h, const struct vnv_config *cfg);

/*
 * Write every dirty object home, write a checkpoint with no dirty data (the root handle and
 * a record per resident object, so the next open loads them again; open it with an index
 * that holds them), sync, and unregister. Afterwards vnv_open finds every object with its current value.
 * on_persist is NOT called for this checkpoint (it is not a power-failure checkpoint; the
 * caller knows when close returns), unless vnv_persist_all deferred a request into it:
 * then on_persist is called once, with status 0 (or, if close's checkpoint failed so that
 * the heap closed itself, with the error), before close returns (the heap is closed by
 * then; its return value is ignored, as nothing is left to restore).
 * Errors: INVAL (not open), BUSY (an object is still pinned, or called from the persist
 *   callback or inside an atomic group; nothing was closed), IO (the heap stays open and
 *   usable; retry - unless the checkpoint's header could be neither confirmed nor voided:
 *   then it has closed itself, see vnv_persist_cb).
 * Storage: one write per dirty object (runs for partial objects) + a checkpoint; two syncs.
 */
int vnv_close(struct vnv_heap *h);

/*
 * Forget the heap without writing anything: unregister it from vnv_persist_all and mark
 * it closed. Storage keeps whatever it holds (the last checkpoint, if still valid, is what
 * vnv_open will find). For error handling and for simulating a power loss in tests.
 * Never fails; O(VNV_MAX_HEAPS). Storage: none.
 */
void vnv_abandon(struct vnv_heap *h);

/*
 * true while `h` is open: from a successful vnv_format or vnv_open until vnv_close
 * succeeds or vnv_abandon; false for NULL, a zeroed struct, a failed open and a copy of an
 * open control block. Also false once a power-failure checkpoint found its RAM buffer lost
 * (on_persist said so, or the canary was overwritten) and could not rebuild it from
 * storage: every call is then refused (VNV_ERR_INVAL; the queries answer false or 0) until
 * its storage is opened again (vnv_open, with this or another control block; the broken
 * heap has already left vnv_persist_all's registry). When that happens inside a call
 * (the request was deferred to the end of one of its storage transactions), the call
 * returns with what it had done by then (OK or an error), and nothing it does after the
 * close reaches storage. A vnv_close that fails with IO leaves the heap open. Inside on_persist it stays true, though calls from there are refused.
 * O(1); interrupt-safe (two loads); storage: none.
 */
bool vnv_is_open(const struct vnv_heap *h);

/*
 * New object of `size` bytes initialised from `init` (NULL = zeroes). If RAM and budget have
 * room without evicting or flushing anything (vnv_has_room), it is placed in RAM, dirty;
 * otherwise it is written home. Inside a failure-atomic group, an object that would go
 * home with an undo entry stays in RAM only if RAM keeps room for two more entries
 * (2 x VNV_UNDO_ENTRY_RAM(32)) beside it: the writes that link it in need them.
 * Errors: INVAL (size 0 or > VNV_MAX_OBJECT_SIZE, NULL out), NOMEM (can never fit the RAM
 *   arena; inside a group also when neither the object nor its undo entry finds room in
 *   RAM, e.g. pinned objects fill it), BUDGET (size + REC + header exceeds max_dirty_bytes:
 *   it could never be written; inside a group also when members fill the budget), NOSPC
 *   (storage full, or no home could ever hold the object), IO.
 * Time: O(n + units / 32) (the NV map's placement scan; O(n) when it takes the home the
 *   last vnv_free kept, vnv_free). Storage: none if it stays in RAM
 *   (it is written home, with its header, when first flushed or evicted); else one write of
 *   HDR + n bytes (+ the 16-byte void of the older checkpoint, once per checkpoint interval).
 *   Plus the tag reservation (see handles) when the counter reaches it: one 16-byte write
 *   and a sync (each a critical section of its own), before the handle is issued - at the first
 *   allocation after vnv_open, then after 256, 512, ... more, doubling up to every 2^20
 *   (after vnv_format, the first 2^20 write none). stats.tag_reserves counts them. If that
 *   write or sync fails: IO, and nothing is allocated (INVAL if a checkpoint deferred into
 *   it closed the heap); a call that fails after it (NOSPC, NOMEM, BUDGET or IO while making
 *   room or writing home) keeps the reservation it wrote.
 *   NOSPC may be transient: homes freed since the last checkpoint are reusable after the
 *   next one (stats.nv_quarantined).
 */
int vnv_alloc(struct vnv_heap *h, size_t size, const void *init, vnv_obj_t *out);

#if !VNV_MINIMAL
/*
 * Like vnv_alloc, initialised from `cnt` pieces (1..8) placed back to back: size = the sum
 * of their lengths. Written home as header + pieces in one gather transaction, so a record
 * header and a payload held apart never need a copy or a second write.
 * Errors: as vnv_alloc; INVAL also for cnt 0 or > 8, or a NULL piece with a length.
 */
int vnv_alloc_gather(struct vnv_heap *h, const struct vnv_iovec *init, unsigned cnt,
                     vnv_obj_t *out);

/*
 * Like vnv_alloc, for an object with partial dirtiness tracking: a writer marks only the
 * blocks of `block_size` bytes (16, 32, 64 or 128) it touches (vnv_get_mut_range,
 * vnv_mark_dirty); flushes and checkpoints write only those blocks. Costs one bit per block
 * of RAM and checkpoint bytes while resident (rounded up to 8 bytes).
 */
int vnv_alloc_blocks(struct vnv_heap *h, size_t size, uint32_t block_size, const void *init,
                     vnv_obj_t *out);

#endif /* !VNV_MINIMAL */

/*
 * Delete an object; its home becomes reusable and its handle invalid. If it was the root,
 * the root becomes VNV_NULL in the same step (a checkpoint never records a dangling root).
 * Errors: INVAL (bad handle), BUSY (pinned), CORRUPT (damaged header), IO (nothing changed).
 * Time: O(home units).
 * Storage: none if resident; else one HDR read (validates the handle). Never writes: the
 *   home's units are free at once in RAM and reusable once the next checkpoint completes
 *   (at once if that checkpoint does not hold them: then the next vnv_alloc of the same
 *   size takes this home first, with no placement scan - include/vnvheap/alloc.h).
 * Inside a failure-atomic group (vnv_atomic_begin) the object only looks freed until the
 *   group ends, and its home keeps its value from before the group: a dirty one keeps that
 *   value in RAM (8 more bytes of budget), or flushes it home when there is no room (one
 *   write of its dirty bytes); a clean or non-resident one costs a
 *   16-byte record (plus a block object's bitmap) and no RAM beyond that (no load), and a
 *   resident clean one gives its data's RAM back at once. Extra errors in a group: NOMEM,
 *   BUDGET (no room for that record or value).
 */
int vnv_free(struct vnv_heap *h, vnv_obj_t obj);

/*
 * Pin for reading. `*ptr` stays valid (same address, same content) until vnv_release.
 * Up to VNV_MAX_READERS readers at once; none while a writer holds it.
 * If the object is not resident it is loaded, which may flush/evict unpinned objects.
 * Errors: INVAL (bad handle, NULL ptr), BUSY (a writer holds it, or too many readers),
 *   NOMEM (cannot make room: everything else pinned), BUDGET, IO, CORRUPT (home header bad).
 * Time: resident O(1) expected (index probe, bounded by R); load O(n) + policy O(R) per
 *   victim. Storage: none if resident; else HDR read + n read, plus victims' flushes.
 */
int vnv_get(struct vnv_heap *h, vnv_obj_t obj, const void **ptr);

/*
 * Pin for writing (exclusive). Marks the whole object dirty, charging n bytes to the budget
 * (flushing other objects first if needed). The object is pinned before room is made, so it
 * can never evict itself. For partial objects, use vnv_get_mut_range.
 * Errors: as vnv_get, BUSY also if readers hold it; BUDGET if n + REC + header exceeds
 *   max_dirty_bytes even with nothing else dirty.
 * Time/Storage: as vnv_get, plus victims' flushes.
 */
int vnv_get_mut(struct vnv_heap *h, vnv_obj_t obj, void **ptr);

/*
 * vnv_get / vnv_get_mut for a caller that knows how large the object is (the typed macros
 * VNV_GET / VNV_GET_MUT pass sizeof(T)): the object must have at least `size` bytes, else
 * INVAL (nothing pinned), so that a T * never reaches past it; more is allowed (a struct
 * with a flexible array member). Knowing the size lets a load read the header and the data
 * in one transaction.
 * Errors: as vnv_get / vnv_get_mut; INVAL also for size 0 or an object smaller than size
 *   (a non-resident one: told before room is made for `size` - from its home's extent in
 *   the NV map, or, for a size the budget could not take, from its header - so a wrong
 *   size neither evicts nor flushes anything, nor answers BUDGET).
 * Time: as vnv_get / vnv_get_mut. Storage: none if resident; else, for a plain object of
 *   exactly `size` bytes whose current data slot is slot 0 (always until it is first
 *   flushed after a checkpoint), when HDR + size fits VNV_IO_CHUNK (if set) and without
 *   VNV_DATA_CRC (the slot's checksum follows the data): one read of HDR + size bytes;
 *   a larger object: that read, then one read of its n bytes; slot 1: as vnv_get. Plus
 *   victims' flushes. When no room can be made (a group's members fill the budget or
 *   RAM), one HDR read tells a stale handle (INVAL) from the lack of room (BUDGET, NOMEM).
 */
int vnv_get_sized(struct vnv_heap *h, vnv_obj_t obj, size_t size, const void **ptr);
int vnv_get_mut_sized(struct vnv_heap *h, vnv_obj_t obj, size_t size, void **ptr);

/*
 * As vnv_get_sized / vnv_get_mut_sized, but the object must have exactly `size` bytes: a
 * fixed-size record, a container's node or header. Another size is INVAL with nothing
 * pinned and nothing loaded (a non-resident object's header is read to tell).
 * Errors, time, storage: as vnv_get_sized / vnv_get_mut_sized.
 */
int vnv_get_exact(struct vnv_heap *h, vnv_obj_t obj, size_t size, const void **ptr);
int vnv_get_mut_exact(struct vnv_heap *h, vnv_obj_t obj, size_t size, void **ptr);

#if !VNV_MINIMAL
/*
 * Pin a partial-dirtiness object for writing and mark the blocks overlapping
 * [off, off + len) dirty; `*ptr` points to the whole object. len 0 marks nothing. A plain
 * object (vnv_alloc) has one block: a range with len > 0 marks all of it, as vnv_get_mut.
 * Errors: as vnv_get_mut; INVAL if the range is outside the object.
 */
int vnv_get_mut_range(struct vnv_heap *h, vnv_obj_t obj, size_t off, size_t len, void **ptr);

/*
 * While holding the writer pin of a partial object: mark more blocks dirty. A plain object
 * (vnv_alloc) has one block: marking any of it marks all of it (a vnv_get_mut* pin has
 * done that already).
 * Errors: INVAL (not resident and writer-pinned by vnv_get_mut* or vnv_get_mut_range,
 * range outside), BUDGET.
 */
int vnv_mark_dirty(struct vnv_heap *h, vnv_obj_t obj, size_t off, size_t len);

#endif /* !VNV_MINIMAL */

/*
 * Drop one pin (the writer's, or one reader's). The object stays resident and keeps its
 * dirty state until the policy needs the room. Errors: INVAL (bad handle, not pinned).
 * Time: O(1) expected. Storage: none.
 */
int vnv_release(struct vnv_heap *h, vnv_obj_t obj);

/*
 * Write the object's dirty bytes home now (it stays resident, now clean). No-op if not
 * resident or clean. Allowed while readers hold it. Not a commit point: a restart returns
 * to the last checkpoint, whatever was flushed since. Errors: INVAL, BUSY (writer holds it;
 * or a member of the open failure-atomic group: its home keeps the value from before the
 * group until the group ends), IO.
 * Storage: the first flush after a checkpoint writes the whole object (n bytes, + HDR if it
 *   was never written home) into the data slot the checkpoint does not read; later ones
 *   write n bytes (partial: one write per run of dirty blocks) in place.
 */
int vnv_flush(struct vnv_heap *h, vnv_obj_t obj);

/* vnv_flush, then drop the RAM copy. Errors: INVAL, BUSY (pinned, or a member of the open
 * failure-atomic group), IO. */
int vnv_unload(struct vnv_heap *h, vnv_obj_t obj);

/*
 * Copy bytes out of / into an object without pinning it. A non-resident object is NOT
 * loaded: the bytes go straight from / to its home, so streaming access (a queue's items,
 * a log) never evicts the working set. A resident object is copied in RAM; vnv_write then
 * marks the range dirty (charging the budget, flushing others if needed).
 * Errors: INVAL (bad handle, range outside the object, NULL with len > 0), BUSY (vnv_read:
 *   a writer holds it; vnv_write: pinned), BUDGET, IO. An IO from a vnv_write written
 *   through to a non-resident object may leave the range partly written (the device took
 *   part of it, or of its chunks): the object then holds old and new bytes, as after a
 *   restart from a checkpoint taken during the write; write the range again. What the
 *   last checkpoint holds is never touched.
 * Time: O(len) + O(1) lookup. Storage: none if resident (vnv_write may flush others);
 *   else HDR read + one read / write of len bytes (ceil(len / VNV_IO_CHUNK) of them if set;
 *   a checkpoint between two chunks of a write makes the rest a copy, as below); a
 *   vnv_write into a non-resident object whose current data slot the last checkpoint
 *   reads copies it to the other slot instead (2 x ceil(n / 128) transactions). Inside a failure-atomic group a vnv_write into a
 *   non-resident object is written through only when len <= 32 and that slot is not the
 *   checkpoint's (HDR read + read of the len old bytes + write of len bytes; the old bytes
 *   go to the undo log, 12 + len bytes of budget); otherwise the object is loaded first
 *   (vnv_get's traffic) and changed in RAM.
 * Power failure: a resume (RAM kept or restored) continues the call as if nothing happened.
 * A restart from a checkpoint taken during a vnv_write outside a group may find the range
 * partly written (as with memcpy through vnv_get_mut): put the write in a group
 * (vnv_atomic_begin) when a restart must see all of it or none.
 */
int vnv_read(struct vnv_heap *h, vnv_obj_t obj, size_t off, void *dst, size_t len);
int vnv_write(struct vnv_heap *h, vnv_obj_t obj, size_t off, const void *src, size_t len);

/*
 * Kept for compatibility: format 3 parks no freed homes, so there is nothing to give back.
 * Errors: INVAL (not open). O(1). Storage: none.
 */
int vnv_trim(struct vnv_heap *h);

/* Size in bytes of a live object. Errors: INVAL. Storage: HDR read if not resident. */
int vnv_size(struct vnv_heap *h, vnv_obj_t obj, size_t *size);

/* Residency/dirtiness queries, O(1) expected, no storage traffic; false for bad handles. */
bool vnv_is_resident(const struct vnv_heap *h, vnv_obj_t obj);
bool vnv_is_dirty(const struct vnv_heap *h, vnv_obj_t obj);

/*
 * Whether an object of `size` bytes could be made resident now - loaded by vnv_get, or
 * created in RAM by vnv_alloc - without evicting or flushing anything: a free RAM block
 * for it and its metadata, an index entry, and checkpoint budget for its record and all
 * its bytes. When true, vnv_alloc of that size evicts and flushes nothing; outside a
 * failure-atomic group it is placed in RAM with no storage traffic but a tag reservation
 * that may fall due (see vnv_alloc; inside a group it may still go home with an undo
 * entry). For streaming containers that
 * make room on their own terms before an access would have the policy pick a victim
 * (vnv_list's pop unloads the node the last push linked). False for a closed heap, size 0
 * or above VNV_MAX_OBJECT_SIZE. Changes nothing.
 * Time: the RAM allocator's fits (first-fit: O(free blocks); buddy: O(orders)). Not
 * interrupt-safe (reads the allocator's lists). Storage: none.
 */
bool vnv_has_room(const struct vnv_heap *h, size_t size);

/*
 * The root handle, stored in every checkpoint and found again by vnv_open.
 * vnv_set_root accepts VNV_NULL (no root: vnv_root then yields VNV_NULL, and the object
 * that was the root is left alone, still live) or a live handle (INVAL otherwise); no
 * storage traffic. vnv_free of the root object clears the root.
 */
int vnv_root(const struct vnv_heap *h, vnv_obj_t *out);
int vnv_set_root(struct vnv_heap *h, vnv_obj_t obj);

/*
 * Checkpoint every registered heap: the power-failure entry point. INTERRUPT/SIGNAL SAFE.
 * For a heap inside a critical section the checkpoint is deferred to that section's end
 * (the interrupted code runs it there); sections are short and bounded (README). Uses no
 * read-modify-write atomics. For each heap: writes, into the checkpoint slot that does not
 * hold the last one, the NV map + one record per resident object + its dirty bytes, never
 * more than vnv_persist_bound() bytes, as gather writes of at most 2 x VNV_PERSIST_BATCH + 4
 * pieces each (on a big-endian target also at most VNV_PERSIST_BATCH records each: their
 * encoded copies are on the stack); syncs; then the header; syncs. Pieces: the NV map 1; a
 * resident object 1 (2 on big-endian targets) + 1 for a group member's pre-image + 1 per
 * run of dirty blocks of a block object; an entry of the open group's undo log 1. So at
 * most ceil(max(resident, 1) / VNV_PERSIST_BATCH) + ceil(undo / (2 x VNV_PERSIST_BATCH + 4))
 * + 1 write transactions when no block object is dirty (undo: the group's undo entries, 0
 * outside a group, at most max_dirty_bytes / 12); on a little-endian target with no group
 * open and no block object dirty exactly ceil((1 + resident) / (2 x VNV_PERSIST_BATCH + 4))
 * + 1;
 * calls on_persist; restores RAM if it was lost. A cut anywhere leaves the previous
 * checkpoint in place.
 * Where the checkpoint and on_persist run: in the caller (the interrupt) when the heap was
 * outside its critical sections; otherwise at the end of the critical section that the
 * interrupt landed in, i.e. in normal code, after the handler returned (most requests in a
 * busy program land in a section: storage transfers are sections). A request that arrives
 * during on_persist or the restore gets one more round (callback, and restore if RAM was
 * lost; nothing is written: storage already holds that state); at most VNV_PERSIST_ROUNDS
 * (default 8) rounds per request, so a checkpoint causes at most that many restores.
 * Returns 0 if every heap was checkpointed (also when no heap is open: there was nothing
 * to write, and no callback ran; vnv_is_open tells), VNV_PERSIST_DEFERRED (1) if at least one was
 * deferred and none failed, else the first error (the heap's state in RAM is unaffected
 * by a failed checkpoint, unless on_persist reports the buffer lost: a heap that cannot
 * rebuild it - its checkpoint failed, or reading it back did - is closed, vnv_is_open).
 */
int vnv_persist_all(void);

#if !VNV_MINIMAL
/*
 * Failure-atomic groups: the operations between begin and end happen all or not at all for
 * a program that restarts from main. A power-fail request inside a group is served at once,
 * like anywhere else (same bound, same deferral: the group is not a critical section), and:
 *   - resume (RAM kept or rebuilt): the program continues inside the group with all its
 *     changes;
 *   - restart (vnv_open after a reset, announced or not): every object and the root are as
 *     they were before the group began, or, if the group ended before the last completed
 *     checkpoint, as after it; never a mix;
 *   - vnv_atomic_abort: rolls the group back in the running program.
 * How: before its first change in the group an object's value is kept: a clean object's
 * home holds it; a dirty one copies it into a RAM pre-image (charged to the budget; or a
 * flush when there is no room); a vnv_write of at most 32 bytes keeps only the bytes it
 * replaces, in the group's undo log (12 + len bytes of budget per entry, and
 * VNV_UNDO_ENTRY_RAM(len) bytes of the RAM arena until the group ends), written straight
 * through when the object is not resident. Until the group ends a member is neither
 * flushed nor evicted; objects allocated in the group stay in RAM or go home with an undo
 * entry; objects freed in the group keep their homes (their handles are refused at once;
 * in RAM only a 16-byte record, or a dirty one's value from before the group).
 * Changes are charged to the budget as dirty bytes like any others, so a change that
 * cannot fit returns VNV_ERR_BUDGET (or NOMEM: RAM full of members) and the group can be
 * aborted. Nesting is flat: inner begin/end pairs only count; the outermost end commits, an
 * abort at any depth rolls back the whole group.
 * A group covers what is changed through calls made inside it; so the outermost begin
 * refuses (BUSY) while any object is pinned for writing: take such pins inside the group.
 * Errors: INVAL (not open; end/abort without begin), BUSY (begin: 255 deep, or a writer pin
 *   is held; abort: an object the group changed, allocated or freed is still pinned),
 *   CORRUPT (abort: an object's header on storage is damaged), IO (abort). An abort that
 *   fails before it changes anything (the log's headers are read first) leaves the group
 *   open, as it was; one that fails part way (a storage error, a damaged header) would leave
 *   it half rolled back, so the heap closes itself instead (vnv_is_open false, a power-fail
 *   request deferred into the abort gets its callback with the error): vnv_open then finds
 *   the last checkpoint, as after a reset. begin: O(1) (a count of the writer pins the
 *   program holds; O(R) while one is held, to confirm it), no storage traffic. end: O(M +
 *   log entries) for a group of M <= 5 members (objects changed, allocated or freed in
 *   it: the group notes their homes), O(R + log entries) for a larger one; no storage
 *   traffic. abort: the same, plus one HDR read per object freed in the group, one read
 *   of n bytes per object changed in it, one HDR read per logged object and one write of
 *   the logged bytes per storage entry. Pointers into members are invalid after abort.
 */
#define VNV_UNDO_ENTRY_RAM(len) (16u + (((uint32_t)(len) + 7u) & ~7u))
int vnv_atomic_begin(struct vnv_heap *h);
int vnv_atomic_end(struct vnv_heap *h);
int vnv_atomic_abort(struct vnv_heap *h);
/* Nesting depth of the open group (0: none). INTERRUPT/SIGNAL SAFE (one load): a persist
 * callback can tell whether the checkpoint it follows was taken inside a group, i.e.
 * whether a restart from it rolls the group back. O(1), no storage traffic; 0 for NULL
 * and for a heap that is not open (vnv_is_open). */
int vnv_atomic_depth(const struct vnv_heap *h);

#endif /* !VNV_MINIMAL */

/* The same for one heap, from normal code (never deferred; allowed inside a group: a
 * restart then rolls the group back). Errors: INVAL (not open, or called from the persist
 * callback), IO. */
int vnv_checkpoint(struct vnv_heap *h);

/*
 * Worst-case bytes any checkpoint of a heap with this configuration writes: the energy
 * figure. 0 if the configuration is invalid. Pure function of cfg; O(1).
 */
uint32_t vnv_persist_bound(const struct vnv_config *cfg);

#if !VNV_MINIMAL
/*
 * Validate every invariant: budget sum, index <-> metadata, RAM allocator structure, pins,
 * NV allocator structure, and that each clean resident object equals its home.
 * Returns 0 or CORRUPT (first violation), IO. Time: O(R + resident bytes + NV structure).
 * Also: the NV map's structure, every home's header against it (size fits the home,
 * handle names the unit), and the one decoded header the heap keeps to spare reads (it
 * must still be on storage as kept). Storage: reads every object header (the kept one
 * twice) and every clean resident object's data.
 */
int vnv_check(struct vnv_heap *h);

#endif /* !VNV_MINIMAL */

/* Counters (see struct vnv_stats). Errors: INVAL. O(1). */
int vnv_stats(const struct vnv_heap *h, struct vnv_stats *out);

/* ---- typed convenience ------------------------------------------------------------------- */

#define VNV_NEW(h, T, init_ptr, out) vnv_alloc((h), sizeof(T), (init_ptr), (out))
#define VNV_GET(h, obj, T, pptr)                                                             \
    vnv_get_sized((h), (obj), sizeof(T), (const void **)(const T **)(pptr))
#define VNV_GET_MUT(h, obj, T, pptr)                                                         \
    vnv_get_mut_sized((h), (obj), sizeof(T), (void **)(T **)(pptr))

/* Scope-bound references: the C analogue of the original's guards. With GCC/Clang,
 * VNV_SCOPED_REF releases automatically when the variable goes out of scope:
 *   VNV_SCOPED_REF(ref, &heap, obj);
 *   if (vnv_ref_get(&ref, (const void **)&p) == 0) { ... }   // released at '}'
 * Plain C: declare `struct vnv_scoped_ref ref = VNV_REF_INIT(&heap, obj);` and call
 * vnv_ref_release(&ref) yourself (it is harmless when nothing is held). */
struct vnv_scoped_ref {
    struct vnv_heap *h;
    vnv_obj_t obj;
    bool held;
};
#define VNV_REF_INIT(heap, obj_) {(heap), (obj_), false}
static inline void vnv_ref_release(struct vnv_scoped_ref *r)
{
    if (r->held)
        (void)vnv_release(r->h, r->obj);
    r->held = false;
}
static inline int vnv_ref_get(struct vnv_scoped_ref *r, const void **p)
{
    if (r->held)
        return VNV_ERR_BUSY; /* one pin per scoped reference */
    int err = vnv_get(r->h, r->obj, p);
    r->held = (err == 0);
    return err;
}
static inline int vnv_ref_get_mut(struct vnv_scoped_ref *r, void **p)
{
    if (r->held)
        return VNV_ERR_BUSY;
    int err = vnv_get_mut(r->h, r->obj, p);
    r->held = (err == 0);
    return err;
}
#if defined(__GNUC__) || defined(__clang__)
#define VNV_SCOPED_REF(name, heap, obj_)                                                     \
    struct vnv_scoped_ref name __attribute__((cleanup(vnv_ref_release))) =                 \
        VNV_REF_INIT(heap, obj_)
#endif

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_H */
