/*
 * mkhostile - write damaged storage images (format 3) for the vnv-check regression tests:
 * each one starts as a valid image made by the library, gets one field forged, and (unless
 * the text says otherwise) has its checksums recomputed (tests/support/image_crc.c), so only
 * the forged field is wrong:
 *   base.img              the valid image they come from (a power-fail checkpoint in slot B)
 *   bad_version.img       superblock version 2
 *   huge_unit.img         allocation unit 2^31
 *   huge_units.img        unit count 2^32 - 1
 *   map_overflow.img      unit count 2^32 - 16: ceil(units / 32) wraps in 32 bits
 *   huge_dirty.img        max_dirty 2^32 - 16: the slot capacity would wrap
 *   huge_arena.img        RAM arena size of 4 GiB
 *   slot_past_end.img     slot capacity 2 GiB and a checkpoint length to match
 *   nrec_overflow.img     2^30 records in the loaded slot (12 * nrec wraps), slot A voided
 *   bitmap_overrun.img    the loaded slot's only record is a partial object whose dirty
 *                         bitmap lies past the checkpoint's end, slot A voided
 *   record_not_start.img  a record whose handle names a free unit
 *   map_cur.img           a CUR bit on a unit that is not a START
 *   header_crc.img        one flipped bit in a homed object's header (no checksum fixed)
 *   truncated.img         the first 40 bytes of a valid image
 *   truncated_homes.img   a valid image without its last 1000 bytes
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
static vnv_obj_t big;   /* a 600-byte partial object */
static vnv_obj_t homed; /* written home and evicted */

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
    homed = o[1];
    if (vnv_alloc_blocks(&heap, 600, 32, NULL, &big) || vnv_set_root(&heap, o[0]) ||
        vnv_free(&heap, o[5]) || vnv_unload(&heap, homed) || vnv_checkpoint(&heap))
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

/* a copy of base with one superblock field forged, checksums fixed */
static int sb_case(const char *dir, const char *name, uint32_t off, uint32_t v)
{
    memcpy(img, base, NV);
    vnv_img_put32(img, NV, off, v);
    vnv_img_fix_checksums(img, NV);
    return save(dir, name, NV);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    if (build())
        return 1;
    int s = vnv_img_loaded_slot(base, NV);
    uint32_t units = vnv_img_units(base, NV);
    if (s != 1 || !units) {
        fprintf(stderr, "mkhostile: the base image is not as expected (slot %d)\n", s);
        return 1;
    }
    uint32_t ck = vnv_img_slot_off(base, NV, 1), other = vnv_img_slot_off(base, NV, 0);
    uint32_t rec = ck + VNV_IMG_CK_HEADER + 12u * vnv_img_map_words(base, NV);
    memcpy(img, base, NV);
    if (save(dir, "base.img", NV))
        return 1;
    if (sb_case(dir, "bad_version.img", VNV_IMG_SB_VERSION, 2) ||
        sb_case(dir, "huge_unit.img", VNV_IMG_SB_UNIT, 0x80000000u) ||
        sb_case(dir, "huge_units.img", VNV_IMG_SB_UNITS, 0xFFFFFFFFu) ||
        sb_case(dir, "map_overflow.img", VNV_IMG_SB_UNITS, 0xFFFFFFF0u) ||
        sb_case(dir, "huge_dirty.img", VNV_IMG_SB_MAX_DIRTY, 0xFFFFFFF0u) ||
        sb_case(dir, "huge_arena.img", VNV_IMG_SB_ARENA, 0xFFFFFFF0u))
        return 1;

    memcpy(img, base, NV);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_LEN, 0x7FFFFFF0u);
    vnv_img_put32(img, NV, VNV_IMG_SB_CKPT_CAP, 0x80000000u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "slot_past_end.img", NV))
        return 1;

    memcpy(img, base, NV);
    vnv_img_put32(img, NV, other, 0);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_NREC, 0x40000000u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "nrec_overflow.img", NV))
        return 1;

    /* one record, naming the 600-byte object as partial with 16-byte blocks (a 5-byte
     * bitmap), and the checkpoint ends right after the record */
    memcpy(img, base, NV);
    vnv_img_put32(img, NV, other, 0);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_NREC, 1);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_LEN, rec - ck + VNV_IMG_CK_RECORD);
    vnv_img_put32(img, NV, rec, (uint32_t)big.id);
    vnv_img_put32(img, NV, rec + 4, (uint32_t)(big.id >> 32));
    vnv_img_put32(img, NV, rec + VNV_IMG_CK_RECORD_WORD,
                  600u << vnv_img_status_bits() | 0x080u | 0x400u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "bitmap_overrun.img", NV))
        return 1;

    /* the first record's handle moved to the last unit (free in this image) */
    memcpy(img, base, NV);
    uint32_t id = vnv_img_get32(img, NV, rec); /* the low word holds the unit */
    uint32_t u = vnv_img_handle_unit(img, NV, id);
    vnv_img_put32(img, NV, rec, id - u + (units - 1u));
    vnv_img_fix_checksums(img, NV);
    if (vnv_img_map_bit(img, NV, 1, 0, units - 1u) || save(dir, "record_not_start.img", NV))
        return 1;

    memcpy(img, base, NV);
    uint32_t cw = ck + VNV_IMG_CK_HEADER + 8u * vnv_img_map_words(base, NV) +
                  4u * ((units - 1u) / 32u);
    vnv_img_put32(img, NV, cw, vnv_img_get32(img, NV, cw) | 1u << ((units - 1u) % 32u));
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "map_cur.img", NV))
        return 1;

    memcpy(img, base, NV);
    uint32_t home = vnv_img_handle_home(img, NV, homed.id);
    if (!vnv_img_objhdr_crc_ok(img, NV, home)) {
        fprintf(stderr, "mkhostile: object %llx has no header at %u\n",
                (unsigned long long)homed.id, home);
        return 1;
    }
    img[home + 1] ^= 0x04; /* its size */
    if (save(dir, "header_crc.img", NV))
        return 1;

    memcpy(img, base, NV);
    if (save(dir, "truncated_homes.img", NV - 1000u))
        return 1;
    return save(dir, "truncated.img", 40);
}
