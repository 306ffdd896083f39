/*
 * fuzz_image.c - libFuzzer harness over storage images (format 5): every byte of an image
 * is hostile.
 *
 * Input: [scenario][flags] then up to 32 mutations [kind][index][offset lo][offset hi]
 * [count-1][bytes...]. The harness builds the scenario's image in-process with the library
 * on emulated FRAM (deterministic: objects, root, power-fail and clean checkpoints, homes
 * freed since the last checkpoint, a list, an array, large non-resident objects, a group's
 * checkpoint with pre-images and an undo log of every kind), applies the mutations (kind
 * bits 0-1: offset from the image start / from the home of known object `index` (signed;
 * the home found through its handle's unit) / from a checkpoint slot (`index` bit 0 clear:
 * the slot vnv_open loads, set: the other one; bit 1 set: from where its records end and a
 * group's undo log starts) / from the loaded slot's NV map; bit 2: xor instead of set; bit
 * 3: the bytes are the 8-byte handle of known object bytes[0], bit 4 (without bit 3): its
 * 4-byte size) and, if flags bit 0 is set, recomputes every checksum of the format
 * (tests/support/image_crc.c: the one place that knows them: superblock, the tag
 * reservation records, both slots with their undo logs, the header at every START unit), so the image is crafted rather than
 * merely damaged. Anchoring the offsets to objects and slots keeps the committed inputs
 * meaningful when the layout moves.
 *
 * Each run: vnv-check's vnv_check_image; vnv_open (on failure storage must be unchanged);
 * vnv_check; walk (every known object, the root, the list, the array); writes, frees and
 * allocations chosen by flags bits 1-7; vnv_check; checkpoint + restart; close + reopen.
 * Failures (abort, reported by libFuzzer as a crash with the input):
 *   - a crash, hang or sanitizer report;
 *   - after open and check passed: CORRUPT (or another unexpected error) from an operation
 *     that does not read a damaged object (alloc, free of an intact object, checkpoint,
 *     close, vnv_check), or an intact object whose value changed although nothing wrote it;
 *   - a checkpoint or close that succeeds but whose image does not open again;
 *   - a failed vnv_open that wrote to storage;
 *   - VNV_ERR_INVAL for a known handle whose unit is a START in the loaded checkpoint's map
 *     and whose header there is damaged (CRC-32 mismatch): the damage must be reported as
 *     CORRUPT (not with recomputed checksums, where a header may be validly rewritten).
 * Every failure prints "FINDING <class>: ..." first. VNV_FUZZ_TRACE=1 traces the run.
 *
 *   make fuzz ...  (CTest fuzz_image, see CMakeLists.txt: VNV_FUZZ_IMAGE_IN_SUITE)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "image_crc.h"
#include "vnv_check_lib.h"
#include "vnvheap.h"
#include "vnvheap/array.h"
#include "vnvheap/list.h"
#include "vnvheap/storage_emu.h"

#define NV_MAX (32u * 1024u)
#define RAM_MAX 4096u
#define MAX_OBJ 24
#define MAX_NEW 8
#define MAX_MUT 32

struct scenario {
    const char *name;
    uint32_t nv, ram, dirty;
    int built;
    uint8_t img[NV_MAX];
    vnv_obj_t obj[MAX_OBJ]; /* plain objects live in the image */
    uint32_t size[MAX_OBJ];
    unsigned nobj;
    vnv_obj_t list, arr;
};

#define NSCEN 8
static struct scenario scen[NSCEN];

static uint8_t nv[NV_MAX], before[NV_MAX], ram[RAM_MAX] __attribute__((aligned(8)));
static struct vnv_emu emu;
static struct vnv_storage storage;
static struct vnv_heap heap;
static struct vnv_config cfg;

static int tracing = -1;
#define TRACE(...)                                                                           \
    do {                                                                                     \
        if (tracing < 0)                                                                     \
            tracing = getenv("VNV_FUZZ_TRACE") != NULL;                                      \
        if (tracing)                                                                         \
            fprintf(stderr, __VA_ARGS__);                                                    \
    } while (0)

#define FINDING(cls, ...)                                                                    \
    do {                                                                                     \
        fprintf(stderr, "FINDING %s: ", cls);                                                \
        fprintf(stderr, __VA_ARGS__);                                                        \
        fprintf(stderr, "\n");                                                               \
        abort();                                                                             \
    } while (0)

#define BUILD(x)                                                                             \
    do {                                                                                     \
        int e_ = (x);                                                                        \
        if (e_) {                                                                            \
            fprintf(stderr, "fuzz_image: building scenario: %s -> %s\n", #x,               \
                    vnv_strerror(e_));                                                       \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static void setup(uint8_t *mem, uint32_t nv_size, uint32_t ram_size, uint32_t dirty)
{
    vnv_emu_init(&emu, mem, nv_size, NULL);
    vnv_emu_storage(&emu, &storage);
    memset(&cfg, 0, sizeof cfg);
    cfg.storage = &storage;
    cfg.buffer = ram;
    cfg.buffer_size = ram_size;
    cfg.max_dirty_bytes = dirty;
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static void keep(struct scenario *s, uint32_t size, int partial)
{
    static uint8_t v[NV_MAX];
    fill(v, size, s->nobj + 1u);
    vnv_obj_t o;
    BUILD(partial ? vnv_alloc_blocks(&heap, size, 16u << (s->nobj % 4), v, &o)
                  : vnv_alloc(&heap, size, v, &o));
    s->obj[s->nobj] = o;
    s->size[s->nobj++] = size;
}

static void drop(struct scenario *s, unsigned i)
{
    BUILD(vnv_free(&heap, s->obj[i]));
    s->obj[i] = s->obj[--s->nobj];
    s->size[i] = s->size[s->nobj];
}

static void scribble(struct scenario *s, unsigned i, uint32_t off, uint32_t len)
{
    uint8_t v[256];
    fill(v, len, 99u + i);
    BUILD(vnv_write(&heap, s->obj[i], off, v, len));
}

static void build(int k)
{
    struct scenario *s = &scen[k];
    static const struct {
        const char *name;
        uint32_t nv, ram, dirty;
    } geo[NSCEN] = {
        {"closed", 8192, 1024, 384},     {"power-fail", 8192, 1536, 512},
        {"freed", 8192, 1024, 400},     {"list", 12288, 2048, 512},
        {"array", 12288, 2048, 600},     {"large", 32768, 4096, 4096},
        {"mixed", 16384, 4096, 2048},     {"group", 12288, 3072, 1536},
    };
    memset(s, 0, sizeof *s);
    s->name = geo[k].name;
    s->nv = geo[k].nv, s->ram = geo[k].ram, s->dirty = geo[k].dirty;
    setup(s->img, s->nv, s->ram, s->dirty);
    BUILD(vnv_format(&heap, &cfg));
    switch (k) {
    case 0: /* objects and a root, written home by close */
        for (unsigned i = 0; i < 6; i++)
            keep(s, 8 + 12 * i, 0);
        BUILD(vnv_set_root(&heap, s->obj[2]));
        BUILD(vnv_close(&heap));
        break;
    case 1: /* power-fail checkpoint: dirty, clean, non-resident and partial objects */
        for (unsigned i = 0; i < 8; i++)
            keep(s, 16 + 20 * i, i == 5);
        BUILD(vnv_unload(&heap, s->obj[1]));
        BUILD(vnv_flush(&heap, s->obj[3]));
        scribble(s, 5, 40, 30);
        scribble(s, 0, 0, 8);
        BUILD(vnv_set_root(&heap, s->obj[4]));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap);
        break;
    case 2: /* homes freed since the last checkpoint (quarantined), then a checkpoint */
        for (unsigned i = 0; i < 9; i++)
            keep(s, 24 + 8 * (i % 3), 0);
        drop(s, 1);
        drop(s, 4);
        drop(s, 6);
        BUILD(vnv_set_root(&heap, s->obj[0]));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap);
        break;
    case 3: { /* a list as the root, and objects around it */
        uint8_t v[24];
        BUILD(vnv_list_create(&heap, sizeof v, &s->list));
        for (unsigned i = 0; i < 10; i++) {
            fill(v, sizeof v, i);
            BUILD(vnv_list_push_back(&heap, s->list, v));
            if (i % 3 == 0)
                keep(s, 20 + i, 0);
        }
        BUILD(vnv_list_pop_front(&heap, s->list, v));
        BUILD(vnv_set_root(&heap, s->list));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap);
        break;
    }
    case 4: { /* an array with per-block dirtiness */
        uint8_t v[8];
        BUILD(vnv_array_create(&heap, 60, sizeof v, 32, NULL, &s->arr));
        keep(s, 40, 0);
        for (unsigned i = 0; i < 60; i += 7) {
            fill(v, sizeof v, i);
            BUILD(vnv_array_set(&heap, s->arr, i, v));
        }
        keep(s, 56, 1);
        BUILD(vnv_set_root(&heap, s->arr));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap);
        break;
    }
    case 5: /* large objects that do not fit RAM together: non-resident, streamed at home */
        keep(s, 3000, 0);
        keep(s, 24, 0);
        keep(s, 1800, 0);
        keep(s, 2500, 0);
        keep(s, 40, 0);
        scribble(s, 0, 1000, 200);
        scribble(s, 3, 2400, 100);
        scribble(s, 4, 0, 40);
        BUILD(vnv_set_root(&heap, s->obj[2]));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap);
        break;
    case 7: { /* a checkpoint inside a failure-atomic group: short writes to dirty members
                 (undo log entries of RAM bytes), a longer one (a pre-image), a freed dirty
                 one (its handle in a pre block), a freed homed one, a short write through
                 to a home (an undo log entry of storage bytes), a new resident one and one
                 at home (an undo log entry), a non-resident block object freed (a record
                 without data), the root moved; open rolls all of it back */
        for (unsigned i = 0; i < 9; i++)
            keep(s, 12 + 20 * i, i == 6 || i == 8);
        BUILD(vnv_unload(&heap, s->obj[1]));
        BUILD(vnv_unload(&heap, s->obj[8]));
        BUILD(vnv_flush(&heap, s->obj[2]));
        BUILD(vnv_set_root(&heap, s->obj[3]));
        BUILD(vnv_checkpoint(&heap));
        BUILD(vnv_unload(&heap, s->obj[7])); /* its home's current slot is fresh now */
        BUILD(vnv_atomic_begin(&heap));
        uint8_t v[64];
        fill(v, sizeof v, 77u);
        BUILD(vnv_write(&heap, s->obj[0], 0, v, 12)); /* dirty, short: the undo log */
        BUILD(vnv_write(&heap, s->obj[4], 4, v, 20));
        BUILD(vnv_write(&heap, s->obj[4], 50, v, 40)); /* longer: a pre-image from the log */
        BUILD(vnv_write(&heap, s->obj[7], 100, v, 24)); /* written through to its home */
        BUILD(vnv_write(&heap, s->obj[6], 0, v, 40)); /* a block object: flushed first */
        BUILD(vnv_write(&heap, s->obj[1], 0, v, 8));  /* not resident: loaded, home keeps */
        BUILD(vnv_free(&heap, s->obj[5]));            /* dirty: its handle in a pre block */
        BUILD(vnv_free(&heap, s->obj[2]));            /* clean: its home names it */
        BUILD(vnv_free(&heap, s->obj[8])); /* not resident: a 16-byte record, no data */
        vnv_obj_t n, big;
        BUILD(vnv_alloc(&heap, 30, v, &n));
        BUILD(vnv_alloc(&heap, 900, NULL, &big)); /* no room in RAM: at home */
        BUILD(vnv_set_root(&heap, n));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap); /* the group's objects are tracked as before it */
        break;
    }
    default: { /* everything at once, several checkpoints, then a power-fail one */
        uint8_t v[16];
        BUILD(vnv_list_create(&heap, sizeof v, &s->list));
        BUILD(vnv_array_create(&heap, 20, 4, 16, NULL, &s->arr));
        for (unsigned i = 0; i < 14; i++) {
            keep(s, 8 + 37 * (i % 5), i % 4 == 3);
            fill(v, sizeof v, i);
            BUILD(vnv_list_push_front(&heap, s->list, v));
            if (i % 5 == 4)
                BUILD(vnv_checkpoint(&heap));
        }
        keep(s, 1500, 0);
        drop(s, 2);
        drop(s, 9);
        BUILD(vnv_list_pop_back(&heap, s->list, v));
        BUILD(vnv_array_set(&heap, s->arr, 3, v));
        scribble(s, 0, 0, 8);
        BUILD(vnv_set_root(&heap, s->list));
        BUILD(vnv_checkpoint(&heap));
        vnv_abandon(&heap);
        break;
    }
    }
    s->built = 1;
}

/* ---- the run ------------------------------------------------------------------------------ */

struct track {
    vnv_obj_t obj;
    uint32_t size;
    int ok; /* value known: every later read must return exactly it */
    int hands_off; /* VNV_FUZZ_IMAGE_SKIP=size: its size changed, leave it alone */
    uint8_t *val;
};

static struct track tr[MAX_OBJ + MAX_NEW];
static unsigned ntr;
static uint8_t vals[MAX_OBJ + MAX_NEW][NV_MAX / 4], rbuf[NV_MAX];
static int crafted;
/* VNV_FUZZ_IMAGE_SKIP (to look past known findings while they are being fixed):
 *   "inval": no inval-for-damaged-header findings;
 *   "tool":  run only the images vnv-check finds consistent (so what remains is damage the
 *            offline checker cannot see either);
 *   "size":  leave alone (no write, free or value check) a known object whose size differs
 *            from the one it was created with;
 *   "wrote": no open-wrote findings (a failed vnv_open that changed storage). */
static int skip_inval, skip_tool, skip_size, skip_wrote;
static const struct scenario *cur;

/* A known handle that the heap refuses with INVAL: if the loaded checkpoint's map has a
 * START at its unit, the header there must be intact (or crafted). `before` is the image
 * vnv_open read. */
static void refused(const char *op, const struct track *t, int err)
{
    uint32_t home = vnv_img_handle_home(before, cur->nv, t->obj.id);
    uint32_t u = vnv_img_handle_unit(before, cur->nv, t->obj.id);
    int slot = vnv_img_loaded_slot(before, cur->nv);
    if (err == VNV_ERR_INVAL && !skip_inval && !crafted && slot >= 0 &&
        vnv_img_map_bit(before, cur->nv, (unsigned)slot, 1, u) &&
        !vnv_img_objhdr_crc_ok(before, cur->nv, home))
        FINDING("inval-for-damaged-header",
                "%s of known handle %" PRIx64 ": INVAL, but its unit %u is a START and its "
                "header at %u fails its CRC (damage, not a bad handle: expected CORRUPT)", op,
                t->obj.id, u, home);
}

static void verify_values(const char *when)
{
    for (unsigned i = 0; i < ntr; i++) {
        struct track *t = &tr[i];
        if (!t->ok)
            continue;
        size_t sz = 0;
        int err = vnv_size(&heap, t->obj, &sz);
        if (!err && sz != t->size)
            FINDING("value-changed", "%s: object %" PRIx64 " now has %zu bytes, had %u", when,
                    t->obj.id, sz, t->size);
        if (!err)
            err = vnv_read(&heap, t->obj, 0, rbuf, t->size);
        if (err)
            FINDING("intact-object-refused", "%s: reading object %" PRIx64 ": %s", when,
                    t->obj.id, vnv_strerror(err));
        if (memcmp(rbuf, t->val, t->size) != 0) {
            uint32_t k = 0;
            while (rbuf[k] == t->val[k])
                k++;
            FINDING("value-changed",
                    "%s: object %" PRIx64 " (home %u, %u bytes) differs at byte %u", when,
                    t->obj.id, vnv_img_handle_home(nv, cur->nv, t->obj.id), t->size, k);
        }
    }
}

static void must(const char *what, int err)
{
    if (err)
        FINDING("fails-after-check", "%s -> %s (open and check had passed)", what,
                vnv_strerror(err));
}

static void walk_containers(void)
{
    vnv_obj_t root;
    uint8_t v[64];
    size_t sz;
    if (vnv_root(&heap, &root) == VNV_OK && !vnv_is_null(root))
        (void)vnv_size(&heap, root, &sz);
    if (!vnv_is_null(cur->list) && vnv_list_attach(&heap, cur->list) == VNV_OK) {
        uint32_t len = 0, esz = 0;
        int lerr = vnv_list_check(&heap, cur->list);
        TRACE("list check: %s\n", vnv_strerror(lerr));
        vnv_obj_t n;
        int err = vnv_list_first(&heap, cur->list, &n);
        for (int steps = 0; !err && !vnv_is_null(n) && steps < 64; steps++) {
            (void)vnv_list_get(&heap, cur->list, n, rbuf);
            err = vnv_list_next(&heap, cur->list, n, &n);
        }
        if (vnv_list_length(&heap, cur->list, &len) == VNV_OK &&
            vnv_list_elem_size(&heap, cur->list, &esz) == VNV_OK && esz <= sizeof v && !lerr) {
            memset(v, 0x3C, sizeof v);
            (void)vnv_list_push_back(&heap, cur->list, v);
            (void)vnv_list_pop_front(&heap, cur->list, v);
        }
    }
    if (!vnv_is_null(cur->arr)) {
        uint32_t len = 0, esz = 0;
        if (vnv_array_attach(&heap, cur->arr, &len, &esz) == VNV_OK && len && esz <= sizeof v) {
            (void)vnv_array_get(&heap, cur->arr, len - 1, v);
            memset(v, 0x5A, sizeof v);
            (void)vnv_array_set(&heap, cur->arr, len / 2, v);
        }
    }
}

static int reopen(void)
{
    memset(ram, 0xA5, sizeof ram);
    memset(&heap, 0x5A, sizeof heap);
    vnv_emu_power_on(&emu);
    return vnv_open(&heap, &cfg);
}

static void run(uint32_t flags)
{
    int err;
    /* walk: every known object; the readable ones are tracked from here on */
    for (unsigned i = 0; i < ntr; i++) {
        struct track *t = &tr[i];
        size_t sz = 0;
        err = vnv_size(&heap, t->obj, &sz);
        if (!err && sz > sizeof vals[0])
            err = VNV_ERR_NOMEM;
        if (!err)
            err = vnv_read(&heap, t->obj, 0, t->val, sz);
        if (!err && i % 2) { /* pin and release: loads it into RAM */
            const void *p;
            int e = vnv_get(&heap, t->obj, &p);
            if (!e && memcmp(p, t->val, sz) != 0)
                FINDING("value-changed", "object %" PRIx64 ": vnv_get and vnv_read disagree",
                        t->obj.id);
            if (!e)
                must("vnv_release", vnv_release(&heap, t->obj));
            else if (!env_error(e))
                err = e;
        }
        TRACE("object %" PRIx64 " (%u bytes): %s, size %zu\n", t->obj.id, t->size,
              vnv_strerror(err), sz);
        t->hands_off = skip_size && !err && sz != t->size;
        if (err)
            refused("read", t, err);
        t->ok = !err;
        t->size = (uint32_t)sz;
    }
    walk_containers();
    must("vnv_check after the walk", vnv_check(&heap));
    verify_values("after the walk");

    /* writes and frees, chosen per object by the flags */
    unsigned nt = ntr;
    for (unsigned i = 0; i < nt; i++) {
        struct track *t = &tr[i];
        unsigned op = ((flags >> 1) + i * ((flags >> 5) | 1u)) % 4u;
        uint32_t sz = t->size;
        if (t->hands_off) {
            t->ok = 0;
            continue;
        }
        if (op == 1) { /* write the whole object (as large as the heap says it is) */
            static uint8_t v[NV_MAX];
            size_t rs = 0;
            if (vnv_size(&heap, t->obj, &rs) || rs > sizeof vals[0])
                continue;
            fill(v, (uint32_t)rs, 77u + i);
            err = vnv_write(&heap, t->obj, 0, v, rs);
            TRACE("write %" PRIx64 " (%zu bytes): %s\n", t->obj.id, rs, vnv_strerror(err));
            if (!err && t->ok) {
                t->size = (uint32_t)rs;
                memcpy(t->val, v, rs);
            } else if (err && t->ok && !env_error(err)) {
                must("vnv_write of an intact object", err);
            }
        } else if (op == 2) {
            err = vnv_free(&heap, t->obj);
            TRACE("free %" PRIx64 ": %s\n", t->obj.id, vnv_strerror(err));
            if (t->ok)
                must("vnv_free of an intact object", err);
            t->ok = 0;
            (void)sz;
        }
    }
    /* allocations: sizes of the known objects (freed homes get reused after a checkpoint) and a large one */
    for (unsigned k = 0; k < MAX_NEW && ntr < MAX_OBJ + MAX_NEW; k++) {
        struct track *t = &tr[ntr];
        uint32_t size = k < nt ? tr[k].size : 600u * k;
        if (!size || size > sizeof vals[0])
            continue;
        t->val = vals[ntr];
        fill(t->val, size, 500u + k);
        err = vnv_alloc(&heap, size, t->val, &t->obj);
        TRACE("alloc %u: %s %" PRIx64 "\n", size, vnv_strerror(err), t->obj.id);
        if (env_error(err))
            continue;
        must("vnv_alloc", err);
        t->size = size;
        t->ok = 1;
        t->hands_off = 0;
        ntr++;
    }
    must("vnv_check after writes, frees and allocations", vnv_check(&heap));
    verify_values("after writes, frees and allocations");

    /* checkpoint, then a restart from it */
    must("vnv_checkpoint", vnv_checkpoint(&heap));
    vnv_abandon(&heap);
    err = reopen();
    if (err)
        FINDING("no-reopen", "vnv_open after a successful checkpoint: %s", vnv_strerror(err));
    must("vnv_check after the restart", vnv_check(&heap));
    verify_values("after the restart");

    /* close, then open again */
    must("vnv_close", vnv_close(&heap));
    err = reopen();
    if (err)
        FINDING("no-reopen", "vnv_open after a successful close: %s", vnv_strerror(err));
    must("vnv_check after close and open", vnv_check(&heap));
    verify_values("after close and open");

    /* more changes with the power cut after some of their bytes, and no checkpoint: the
     * restart must find exactly the state the close left */
    vnv_emu_cut_power_after(&emu, 1u + ((flags * 2654435761u) >> 20) % 4096u);
    uint8_t junk[64];
    memset(junk, 0xC3, sizeof junk);
    for (unsigned i = 0; i < ntr; i++) {
        struct track *t = &tr[i];
        if (t->ok && !t->hands_off) {
            (void)vnv_write(&heap, t->obj, 0, junk, t->size < sizeof junk ? t->size : sizeof junk);
            (void)vnv_unload(&heap, t->obj);
        }
    }
    vnv_obj_t extra;
    (void)vnv_alloc(&heap, 40, junk, &extra);
    vnv_abandon(&heap);
    err = reopen();
    if (err)
        FINDING("no-reopen", "vnv_open after a power cut with no checkpoint: %s",
                vnv_strerror(err));
    must("vnv_check after a power cut", vnv_check(&heap));
    verify_values("after a power cut with no checkpoint");
    vnv_abandon(&heap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tracing < 0) {
        const char *skip = getenv("VNV_FUZZ_IMAGE_SKIP");
        tracing = getenv("VNV_FUZZ_TRACE") != NULL;
        skip_inval = skip && strstr(skip, "inval");
        skip_tool = skip && strstr(skip, "tool");
        skip_size = skip && strstr(skip, "size");
        skip_wrote = skip && strstr(skip, "wrote");
    }
    if (size < 2)
        return 0;
    int k = data[0] % NSCEN;
    uint32_t flags = data[1];
    if (!scen[k].built)
        build(k);
    cur = &scen[k];
    crafted = (int)(flags & 1u);
    memcpy(nv, cur->img, cur->nv);

    /* mutations, anchored to the base image */
    int ls = vnv_img_loaded_slot(cur->img, cur->nv);
    uint32_t slot_at[2] = {vnv_img_slot_off(cur->img, cur->nv, ls > 0 ? 1u : 0u),
                           vnv_img_slot_off(cur->img, cur->nv, ls > 0 ? 0u : 1u)};
    uint32_t undo_at[2] = {vnv_img_undo_off(cur->img, cur->nv, ls > 0 ? 1u : 0u),
                           vnv_img_undo_off(cur->img, cur->nv, ls > 0 ? 0u : 1u)};
    size_t pos = 2;
    for (int m = 0; m < MAX_MUT && pos + 5 <= size; m++) {
        uint32_t kind = data[pos], idx = data[pos + 1];
        uint32_t off16 = (uint32_t)data[pos + 2] | (uint32_t)data[pos + 3] << 8;
        uint32_t n = 1u + data[pos + 4] % 8u;
        pos += 5;
        if (n > size - pos)
            n = (uint32_t)(size - pos);
        if (!n)
            break;
        int64_t at;
        switch (kind & 3u) {
        case 0: at = off16; break;
        case 1:
            at = cur->nobj ? (int64_t)vnv_img_handle_home(cur->img, cur->nv,
                                                           cur->obj[idx % cur->nobj].id) +
                                 (int16_t)off16
                           : (int64_t)off16;
            break;
        case 2:
            at = (int64_t)((idx & 2u) && undo_at[idx & 1u] ? undo_at[idx & 1u]
                                                           : slot_at[idx & 1u]) + off16;
            break;
        default: at = (int64_t)slot_at[0] + VNV_IMG_CK_HEADER + off16; break;
        }
        uint8_t val[8];
        memcpy(val, data + pos, n);
        pos += n;
        if ((kind & 0x18u) && cur->nobj) { /* a field naming another object: handle or size */
            uint32_t o = val[0] % cur->nobj;
            uint64_t v = (kind & 8u) ? cur->obj[o].id : cur->size[o];
            n = (kind & 8u) ? 8u : 4u;
            for (uint32_t b = 0; b < n; b++)
                val[b] = (uint8_t)(v >> (8 * b));
        }
        for (uint32_t j = 0; j < n; j++) {
            int64_t a = at + j;
            if (a < 0 || a >= (int64_t)cur->nv)
                continue;
            nv[a] = (kind & 4u) ? (uint8_t)(nv[a] ^ val[j]) : val[j];
        }
        TRACE("mutation %d: kind %u at %lld, %u bytes\n", m, kind & 7u, (long long)at, n);
    }
    if (crafted)
        vnv_img_fix_checksums(nv, cur->nv);

    /* vnv-check's entry point: must not crash, whatever the image */
    int rc = vnv_check_image(nv, cur->nv, "fuzz", tracing > 0 ? stderr : NULL, 1);
    TRACE("scenario %s, flags %02x: vnv-check status %d\n", cur->name, (unsigned)flags, rc);
    TRACE("base image: slot %d loaded, its flags %08x\n", ls,
          ls < 0 ? 0u : vnv_img_get32(cur->img, cur->nv, slot_at[0] + VNV_IMG_CK_FLAGS));

    ntr = 0;
    for (unsigned i = 0; i < cur->nobj; i++) {
        tr[ntr].obj = cur->obj[i];
        tr[ntr].size = cur->size[i];
        tr[ntr].val = vals[ntr];
        tr[ntr].ok = tr[ntr].hands_off = 0;
        ntr++;
    }
    memcpy(before, nv, cur->nv);
    setup(nv, cur->nv, cur->ram, cur->dirty);
    int err = vnv_open(&heap, &cfg);
    TRACE("vnv_open: %s\n", vnv_strerror(err));
    if (err) {
        if (!skip_wrote && memcmp(before, nv, cur->nv) != 0)
            FINDING("open-wrote", "vnv_open failed (%s) but changed storage",
                    vnv_strerror(err));
        return 0;
    }
    err = vnv_check(&heap);
    TRACE("vnv_check: %s\n", vnv_strerror(err));
    if (err || (skip_tool && rc != VNV_CHECK_OK)) {
        vnv_abandon(&heap);
        return 0;
    }
    run(flags);
    return 0;
}
