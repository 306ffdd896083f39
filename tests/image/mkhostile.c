/*
 * mkhostile - write damaged storage images for the vnv-check regression tests: each one
 * starts as a valid image made by the library, gets one field forged, and (unless the
 * name says raw) has its checksums recomputed, so only the forged field is wrong:
 *   ncache_wrap.img     superblock free-cache count whose header size wraps 32 bits
 *   huge_arena.img      superblock arena size of 4 GiB
 *   huge_ckpt.img       checkpoint region and length of 2 GiB
 *   bitmap_overrun.img  the last checkpoint record is a partial object whose dirty bitmap
 *                       lies past the end of the checkpoint
 *   truncated.img       the first 40 bytes of a valid image
 *   base.img            the valid image they come from
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_crc.h"
#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

#define NV (16u * 1024u)

static uint8_t base[NV], img[NV], ram[4096] __attribute__((aligned(8)));
static vnv_obj_t big; /* a 600-byte partial object */

static int build(void)
{
    static struct vnv_emu emu;
    static struct vnv_storage st;
    static struct vnv_heap heap;
    vnv_emu_init(&emu, base, NV, NULL);
    vnv_emu_storage(&emu, &st);
    struct vnv_config cfg = {.storage = &st, .buffer = ram, .buffer_size = sizeof ram,
                             .max_dirty_bytes = 1024};
    vnv_obj_t o[8];
    if (vnv_format(&heap, &cfg))
        return 1;
    for (unsigned i = 0; i < 8; i++)
        if (vnv_alloc(&heap, 8 + 4 * i, NULL, &o[i]))
            return 1;
    if (vnv_alloc_blocks(&heap, 600, 32, NULL, &big) || vnv_set_root(&heap, o[0]) ||
        vnv_free(&heap, o[5]) || vnv_checkpoint(&heap))
        return 1;
    vnv_abandon(&heap);
    return 0;
}

static int save(const char *dir, const char *name, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(img, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "mkhostile: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    if (build())
        return 1;
    uint32_t ck = vnv_img_ckpt_off(base, NV), hsize = vnv_img_ckpt_header_size(base, NV);
    if (!ck || !hsize)
        return 1;
    memcpy(img, base, NV);
    if (save(dir, "base.img", NV))
        return 1;

    /* 32 + 8 * ncache == 64 modulo 2^32: the header size looks normal, the count is not */
    memcpy(img, base, NV);
    vnv_img_put32(img, NV, VNV_IMG_SB_NCACHE, 0x20000004u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "ncache_wrap.img", NV))
        return 1;

    memcpy(img, base, NV);
    vnv_img_put32(img, NV, VNV_IMG_SB_ARENA, 0xFFFFFFF0u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "huge_arena.img", NV))
        return 1;

    memcpy(img, base, NV);
    vnv_img_put32(img, NV, VNV_IMG_SB_CKPT_CAP, 0x80000000u);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_LEN, 0x7FFFFFF0u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "huge_ckpt.img", NV))
        return 1;

    /* one record, naming the 600-byte object as partial with 16-byte blocks (a 5-byte
     * bitmap), and the checkpoint ends right after the record */
    memcpy(img, base, NV);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_NREC, 1);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_LEN, hsize + 8u);
    vnv_img_put32(img, NV, ck + hsize, big.id);
    uint32_t unit = vnv_img_get32(img, NV, ck + hsize + 4) & 0xFFFFu;
    vnv_img_put32(img, NV, ck + hsize + 4, 0x00800000u | unit); /* status: partial, code 0 */
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "bitmap_overrun.img", NV))
        return 1;

    memcpy(img, base, NV);
    return save(dir, "truncated.img", 40);
}
