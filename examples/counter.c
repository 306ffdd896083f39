/*
 * counter.c - the first vnvheap program: a counter that lives on non-volatile storage.
 *
 *   counter [STORAGE_FILE]        (default: /tmp/vnvheap_counter.bin)
 *
 * The heap keeps its objects in a file (on a device: FRAM) and caches them in a small RAM
 * buffer. Run the program twice: the second run finds the counter of the first through the
 * heap's root handle and keeps counting.
 */
#include <inttypes.h>
#include <stdio.h>

#include "vnvheap.h"
#include "vnvheap/storage_file.h"

/* The object we keep on the heap. Any plain struct works: the heap copies bytes. */
struct counter {
    uint32_t val;
};

/* The RAM buffer the heap caches objects in (index + resident objects). */
static _Alignas(8) uint8_t ram[1024];

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/vnvheap_counter.bin";

    /* 1. Storage: the first 16 KiB of a file, created (zero-filled) if missing. */
    struct vnv_file file;
    struct vnv_storage storage;
    if (vnv_file_open(&file, path, 16 * 1024, VNV_FILE_CREATE) != VNV_OK) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    vnv_file_storage(&file, &storage);

    /* 2. Configuration. max_dirty_bytes bounds what a power-failure checkpoint writes. */
    struct vnv_config cfg = {
        .storage = &storage,
        .buffer = ram,
        .buffer_size = sizeof ram,
        .max_dirty_bytes = 256,
    };

    /* 3. Attach to the heap of an earlier run, or create an empty one - only where there
     *    is none (NOHEAP): any other error (CORRUPT, IO, INVAL for another configuration)
     *    means data that formatting would destroy. */
    struct vnv_heap heap;
    vnv_obj_t counter;
    int err = vnv_open(&heap, &cfg);
    if (err == VNV_OK) {
        vnv_root(&heap, &counter); /* the handle we stored last time */
    } else if (err == VNV_ERR_NOHEAP) {
        err = vnv_format(&heap, &cfg);
        struct counter zero = {0};
        if (!err)
            err = VNV_NEW(&heap, struct counter, &zero, &counter); /* a new object */
        if (!err)
            err = vnv_set_root(&heap, counter); /* so that the next run finds it */
    }
    if (err) {
        fprintf(stderr, "heap: %s\n", vnv_strerror(err));
        return 1;
    }

    /* 4. Read it: vnv_get pins the object in RAM and hands out a pointer to it. The
     *    scoped reference releases the pin automatically at the closing brace. */
    {
        const struct counter *c;
        VNV_SCOPED_REF(ref, &heap, counter);
        if (vnv_ref_get(&ref, (const void **)&c) == VNV_OK)
            printf("counter: %" PRIu32 "\n", c->val);
    }

    /* 5. Modify it: VNV_GET_MUT pins it for writing (exclusively) and marks it dirty. */
    struct counter *c;
    err = VNV_GET_MUT(&heap, counter, struct counter, &c);
    if (err) {
        fprintf(stderr, "get_mut: %s\n", vnv_strerror(err));
        return 1;
    }
    c->val += 1;
    vnv_release(&heap, counter); /* unpin: the pointer is no longer valid */

    /* 6. Read it once more, with the plain typed macro and an explicit release. */
    const struct counter *rc;
    if (VNV_GET(&heap, counter, struct counter, &rc) == VNV_OK) {
        printf("counter: %" PRIu32 "\n", rc->val);
        vnv_release(&heap, counter);
    }

    /* 7. Close: writes every dirty object home and syncs, so the next vnv_open sees the
     *    new value. Then close the file. */
    err = vnv_close(&heap);
    vnv_file_close(&file);
    if (err) {
        fprintf(stderr, "close: %s\n", vnv_strerror(err));
        return 1;
    }
    return 0;
}
