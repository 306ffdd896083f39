/*
 * playground.c - objects that point to each other through handles.
 *
 *   playground [STORAGE_FILE]     (default: /tmp/vnvheap_playground.bin, recreated)
 *
 * A pointer into the RAM buffer is only valid while the object is pinned; a handle
 * (vnv_obj_t) is valid as long as the object lives, across checkpoints and restarts, so
 * handles are what objects store to refer to each other. This program builds
 *
 *   root: struct directory --first--> note --next--> note --next--> ... --> VNV_NULL
 *                          --config-> struct config
 *                          --samples-> uint16_t[128]
 *
 * with a RAM buffer smaller than the data, prints the heap statistics, closes the
 * heap, opens it again and walks the structure from the root handle.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vnvheap.h"
#include "vnvheap/storage_file.h"

#define NSAMPLES 128

struct directory {
    uint32_t notes;    /* number of notes in the list */
    vnv_obj_t first;   /* newest note */
    vnv_obj_t config;  /* struct config */
    vnv_obj_t samples; /* uint16_t[NSAMPLES] */
};

struct config {
    char name[24];
    uint32_t version;
};

/* A variable-size object: the text is allocated with the note. */
struct note {
    vnv_obj_t next;
    uint32_t len;
    char text[]; /* len bytes, NUL included */
};

static const char *const texts[] = {
    "first",
    "objects of different sizes",
    "each one knows only the handle of the next",
    "the RAM buffer holds a few of them at a time",
    "the rest waits on storage until somebody asks for it",
    "last",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

static _Alignas(8) uint8_t ram[512]; /* deliberately small: objects get evicted */

/* Stop at the first error: a playground has nothing to recover. */
#define TRY(call)                                                                          \
    do {                                                                                   \
        int err_ = (call);                                                                 \
        if (err_ != VNV_OK) {                                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                  \
                    vnv_strerror(err_));                                                   \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

static void print_stats(const struct vnv_heap *h)
{
    struct vnv_stats s;
    if (vnv_stats(h, &s) != VNV_OK)
        return;
    printf("  resident %" PRIu32 " objects / %" PRIu32 " B, dirty %" PRIu32
           " B, checkpoint now %" PRIu32 " B (peak %" PRIu32 ", bound %" PRIu32 ")\n",
           s.resident_objects, s.resident_bytes, s.dirty_bytes, s.checkpoint_bytes,
           s.peak_checkpoint_bytes, s.bound);
    printf("  allocs %" PRIu32 ", loads %" PRIu32 ", flushes %" PRIu32 ", evictions %" PRIu32
           ", storage %" PRIu32 " reads / %" PRIu32 " writes\n",
           s.allocs, s.loads, s.flushes, s.evictions, s.storage_reads, s.storage_writes);
}

/* Build the structure on a freshly formatted heap. */
static int build(struct vnv_heap *h)
{
    /* The directory first, with null handles; it becomes the root. */
    struct directory d0 = {0, VNV_NULL, VNV_NULL, VNV_NULL};
    vnv_obj_t dir;
    TRY(VNV_NEW(h, struct directory, &d0, &dir));
    TRY(vnv_set_root(h, dir));

    /* Two more objects; their handles go into the directory below. */
    struct config cfg0 = {"playground", 3};
    vnv_obj_t conf, samples;
    TRY(VNV_NEW(h, struct config, &cfg0, &conf));
    TRY(vnv_alloc(h, NSAMPLES * sizeof(uint16_t), NULL, &samples)); /* zero-filled */

    void *p;
    TRY(vnv_get_mut(h, samples, &p));
    uint16_t *sp = p;
    for (uint32_t i = 0; i < NSAMPLES; i++)
        sp[i] = (uint16_t)(i * i);
    TRY(vnv_release(h, samples));

    /* The list: each new note points to the previous first one. */
    vnv_obj_t first = VNV_NULL;
    for (size_t i = 0; i < NTEXTS; i++) {
        uint32_t len = (uint32_t)strlen(texts[i]) + 1u;
        vnv_obj_t n;
        struct note *np;
        TRY(vnv_alloc(h, offsetof(struct note, text) + len, NULL, &n));
        TRY(VNV_GET_MUT(h, n, struct note, &np));
        np->next = first;
        np->len = len;
        memcpy(np->text, texts[i], len);
        TRY(vnv_release(h, n));
        first = n;
    }

    /* Store the handles in the root object. */
    struct directory *dp;
    TRY(VNV_GET_MUT(h, dir, struct directory, &dp));
    dp->notes = (uint32_t)NTEXTS;
    dp->first = first;
    dp->config = conf;
    dp->samples = samples;
    TRY(vnv_release(h, dir));
    return 0;
}

/* Walk everything reachable from the root and print it. */
static int walk(struct vnv_heap *h)
{
    vnv_obj_t dir;
    TRY(vnv_root(h, &dir));
    if (vnv_is_null(dir)) {
        fprintf(stderr, "no root object\n");
        return 1;
    }
    /* Copy the directory out: we do not need to keep it pinned. */
    const struct directory *dp;
    TRY(VNV_GET(h, dir, struct directory, &dp));
    struct directory d = *dp;
    TRY(vnv_release(h, dir));

    const struct config *cp;
    TRY(VNV_GET(h, d.config, struct config, &cp));
    printf("  config \"%s\" version %" PRIu32 "\n", cp->name, cp->version);
    TRY(vnv_release(h, d.config));

    const void *p;
    size_t size;
    TRY(vnv_size(h, d.samples, &size));
    TRY(vnv_get(h, d.samples, &p));
    const uint16_t *sp = p;
    uint32_t sum = 0;
    for (size_t i = 0; i < size / sizeof *sp; i++)
        sum += sp[i];
    TRY(vnv_release(h, d.samples));
    printf("  samples: %zu values, sum %" PRIu32 "\n", size / sizeof *sp, sum);

    printf("  %" PRIu32 " notes, newest first:\n", d.notes);
    uint32_t seen = 0;
    for (vnv_obj_t n = d.first; !vnv_is_null(n); seen++) {
        const struct note *np;
        TRY(VNV_GET(h, n, struct note, &np));
        TRY(vnv_size(h, n, &size));
        printf("    [%zu B] %s\n", size, np->text);
        vnv_obj_t next = np->next; /* read the link before releasing */
        TRY(vnv_release(h, n));
        n = next;
    }
    if (seen != d.notes) {
        fprintf(stderr, "found %" PRIu32 " notes, expected %" PRIu32 "\n", seen, d.notes);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/vnvheap_playground.bin";
    struct vnv_file file;
    struct vnv_storage storage;
    TRY(vnv_file_open(&file, path, 32 * 1024, VNV_FILE_CREATE | VNV_FILE_TRUNCATE));
    vnv_file_storage(&file, &storage);
    struct vnv_config cfg = {
        .storage = &storage,
        .buffer = ram,
        .buffer_size = sizeof ram,
        .max_dirty_bytes = 352, /* header 64 + records + a 256-byte object */
    };
    printf("storage %s, RAM buffer %zu B, checkpoint bound %" PRIu32 " B\n", path,
           sizeof ram, vnv_persist_bound(&cfg));

    struct vnv_heap heap;
    TRY(vnv_format(&heap, &cfg));
    if (build(&heap))
        return 1;
    printf("built:\n");
    print_stats(&heap);
    TRY(vnv_check(&heap)); /* every internal invariant */
    TRY(vnv_close(&heap));

    /* A new session: nothing of the old one is left in RAM but what storage gives back. */
    memset(ram, 0xA5, sizeof ram);
    TRY(vnv_open(&heap, &cfg));
    printf("re-opened, walking from the root:\n");
    if (walk(&heap))
        return 1;
    print_stats(&heap);
    TRY(vnv_check(&heap));
    TRY(vnv_close(&heap));
    TRY(vnv_file_close(&file));
    return 0;
}
