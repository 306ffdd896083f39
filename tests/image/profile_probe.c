/*
 * vnv-profile-probe - images across the two profiles (VNV_MINIMAL, README "Minimal
 * profile"), with real images in both directions: tests/CMakeLists.txt runs it from the
 * minimal build against a default build's tools (make test-minimal).
 *
 *   vnv-profile-probe write IMAGE   a heap on a 32 KiB file (4 KiB buffer, max_dirty 1024,
 *                                   the geometry of tests/image/mkimage.c): objects at home,
 *                                   resident clean and dirty ones, a freed one, a root; then a
 *                                   checkpoint and a power loss (no close)
 *   vnv-profile-probe open IMAGE    open it with that configuration; prints "open: <code>" and,
 *                                   when open, whether every object reachable from the root
 *                                   reads back as `write` made it ("objects: N intact")
 * Exit status: 0 when the operation ran (whatever open returned), 1 on a failed write or a
 * wrong object, 2 on usage or file errors.
 */
#include <stdio.h>
#include <string.h>

#include "vnvheap.h"
#include "vnvheap/storage_file.h"

#define NV_SIZE (32u * 1024u)
#define NOBJ 12u

static _Alignas(8) uint8_t ram[4096];
static struct vnv_file file;
static struct vnv_storage st;
static struct vnv_heap heap;

/* Object i: 8 + 13 i bytes of value (i * 37 + byte index) mod 251; the root holds the
 * handles of all of them (slot of a freed one: 0). */
static uint8_t value_byte(unsigned i, unsigned k) { return (uint8_t)((i * 37u + k) % 251u); }
static uint32_t value_size(unsigned i) { return 8u + 13u * i; }

static int setup(const char *path, unsigned flags)
{
    if (vnv_file_open(&file, path, NV_SIZE, flags) != VNV_OK)
        return -1;
    vnv_file_storage(&file, &st);
    return VNV_OK;
}

static int write_image(void)
{
    struct vnv_config cfg = {.storage = &st, .buffer = ram, .buffer_size = sizeof ram,
                             .max_dirty_bytes = 1024};
    int err = vnv_format(&heap, &cfg);
    vnv_obj_t o[NOBJ], root;
    uint64_t ids[NOBJ];
    for (unsigned i = 0; !err && i < NOBJ; i++) {
        uint8_t v[8u + 13u * NOBJ];
        for (unsigned k = 0; k < value_size(i); k++)
            v[k] = value_byte(i, k);
        err = vnv_alloc(&heap, value_size(i), v, &o[i]);
        ids[i] = o[i].id;
        if (!err && i % 3u == 0u)
            err = vnv_unload(&heap, o[i]); /* at home */
        else if (!err && i % 3u == 1u)
            err = vnv_flush(&heap, o[i]); /* resident and clean */
    }
    if (!err)
        err = vnv_free(&heap, o[5]);
    ids[5] = 0;
    if (!err)
        err = vnv_alloc(&heap, sizeof ids, ids, &root);
    if (!err)
        err = vnv_set_root(&heap, root);
    if (!err)
        err = vnv_checkpoint(&heap);
    vnv_abandon(&heap); /* the power fails: no close */
    printf("write: %s\n", vnv_strerror(err));
    return err ? 1 : 0;
}

static int open_image(void)
{
    struct vnv_config cfg = {.storage = &st, .buffer = ram, .buffer_size = sizeof ram,
                             .max_dirty_bytes = 1024};
    int err = vnv_open(&heap, &cfg);
    printf("open: %s\n", vnv_strerror(err));
    if (err)
        return 0;
    vnv_obj_t root;
    uint64_t ids[NOBJ];
    size_t size = 0;
    if (vnv_root(&heap, &root) || vnv_is_null(root) || vnv_size(&heap, root, &size) ||
        size != sizeof ids || vnv_read(&heap, root, 0, ids, sizeof ids)) {
        printf("objects: no root of vnv-profile-probe write\n");
        vnv_abandon(&heap);
        return 0; /* an image of another writer: open's result is what was asked */
    }
    unsigned intact = 0;
    for (unsigned i = 0; i < NOBJ; i++) {
        uint8_t v[8u + 13u * NOBJ];
        if (!ids[i])
            continue;
        if (vnv_size(&heap, (vnv_obj_t){ids[i]}, &size) || size != value_size(i) ||
            vnv_read(&heap, (vnv_obj_t){ids[i]}, 0, v, size))
            break;
        unsigned k = 0;
        while (k < size && v[k] == value_byte(i, k))
            k++;
        if (k != size)
            break;
        intact++;
    }
    printf("objects: %u intact of %u\n", intact, NOBJ - 1u);
    vnv_abandon(&heap);
    return intact == NOBJ - 1u ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "open"))) {
        fprintf(stderr, "usage: vnv-profile-probe write|open IMAGE\n");
        return 2;
    }
    int w = strcmp(argv[1], "write") == 0;
    if (setup(argv[2], w ? VNV_FILE_CREATE | VNV_FILE_TRUNCATE : 0u) != VNV_OK) {
        fprintf(stderr, "vnv-profile-probe: cannot open %s\n", argv[2]);
        return 2;
    }
    int rc = w ? write_image() : open_image();
    (void)vnv_file_close(&file);
    return rc;
}
