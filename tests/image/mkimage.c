/*
 * mkimage - write sample storage images for the vnv-check tests:
 *   good.img     objects, a root, a power-fail checkpoint with dirty and partial objects
 *   closed.img   the same after vnv_close
 *   stale.img    storage written after the checkpoint, no new one (power ran out): open
 *                loads the last checkpoint, which is intact (since format 3: consistent)
 *   torn.img     the checkpoint cut half-way (the energy did not cover the bound): open
 *                loads the previous checkpoint (since format 3: consistent)
 *   group.img    a checkpoint inside a failure-atomic group: group marks, the root from
 *                before it, and an undo log with an entry of each kind (bytes written
 *                through to a home - not with VNV_DATA_CRC -, bytes of a resident object,
 *                an object allocated at home); open rolls it back
 *   flipped.img  one bit flipped in an object header
 *   foreign.img  not a vnvheap image
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_crc.h"
#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

#define NV (32u * 1024u)

static uint8_t nv[NV], ram[4096] __attribute__((aligned(8)));
static struct vnv_emu emu;
static struct vnv_storage st;
static struct vnv_heap heap;

static int save(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(nv, 1, NV, f) != NV || fclose(f))
        return 1;
    return 0;
}

static vnv_obj_t o[30], arr;

static int build(uint32_t cut)
{
    memset(nv, 0, NV);
    vnv_emu_init(&emu, nv, NV, NULL);
    vnv_emu_storage(&emu, &st);
    struct vnv_config cfg = {.storage = &st, .buffer = ram, .buffer_size = sizeof ram,
                             .max_dirty_bytes = 1024};
    if (vnv_format(&heap, &cfg))
        return 1;
    for (unsigned i = 0; i < 30; i++) {
        uint8_t v[48];
        memset(v, (int)i, sizeof v);
        if (vnv_alloc(&heap, 8 + i, v, &o[i]))
            return 1;
    }
    if (vnv_alloc_blocks(&heap, 600, 32, NULL, &arr) || vnv_set_root(&heap, o[0]))
        return 1;
    uint8_t *p;
    for (unsigned i = 0; i < 30; i += 4)
        if (vnv_unload(&heap, o[i]))
            return 1;
    if (vnv_free(&heap, o[3]) || vnv_get_mut_range(&heap, arr, 100, 40, (void **)&p))
        return 1;
    memset(p + 100, 0xEE, 40);
    vnv_release(&heap, arr);
    if (cut)
        vnv_emu_cut_power_after(&emu, cut);
    return vnv_checkpoint(&heap) && !cut;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    if (build(0) || save(dir, "good.img"))
        return 1;
    vnv_obj_t x;
    if (vnv_alloc(&heap, 16, NULL, &x) || save(dir, "stale.img")) /* no checkpoint after */
        return 1;
    if (build(0) || vnv_close(&heap) || save(dir, "closed.img"))
        return 1;
    if (build(300) || save(dir, "torn.img"))
        return 1;
    if (build(0)) /* a checkpoint inside a failure-atomic group: marks, group root */
        return 1;
    vnv_obj_t g[4];
    uint32_t one = 1;
    if (vnv_unload(&heap, o[5]) || /* written home after the checkpoint: its slot is fresh */
        vnv_atomic_begin(&heap) || vnv_alloc(&heap, 4, &one, &g[0]) ||
        vnv_root(&heap, &g[1]) || vnv_write(&heap, g[1], 0, &one, 4) ||
        vnv_set_root(&heap, g[0]) || vnv_alloc(&heap, 9, NULL, &g[2]) ||
        vnv_unload(&heap, g[2]) == VNV_OK ||
        vnv_write(&heap, o[5], 2, &one, 4) ||  /* written through: undo log, storage bytes */
        vnv_write(&heap, o[6], 1, &one, 4) ||  /* dirty and resident: undo log, RAM bytes */
        vnv_alloc(&heap, 900, NULL, &g[3]) || /* no room in RAM: at home, undo log */
        vnv_checkpoint(&heap) || save(dir, "group.img"))
        return 1;
    vnv_abandon(&heap);
    if (build(0))
        return 1;
    vnv_obj_t root;
    vnv_root(&heap, &root);
    uint32_t home = vnv_img_handle_home(nv, NV, root.id); /* docs/FORMAT.md section 4 */
    nv[home + 1] ^= 0x04; /* the root object's size field */
    if (save(dir, "flipped.img"))
        return 1;
    memset(nv, 0x42, NV);
    if (save(dir, "foreign.img"))
        return 1;
    vnv_abandon(&heap);
    return 0;
}
