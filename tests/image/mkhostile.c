/*
 * mkhostile - write damaged storage images (format 5) for the vnv-check regression tests:
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
 *   nrec_overflow.img     2^30 records in the loaded slot (16 * nrec wraps), slot A voided
 *   bitmap_overrun.img    the loaded slot's only record is a partial object whose dirty
 *                         bitmap lies past the checkpoint's end, slot A voided
 *   record_not_start.img  a record whose handle names a free unit
 *   map_cur.img           a CUR bit on a unit that is not a START
 *   header_crc.img        one flipped bit in a homed object's header (no checksum fixed)
 *   truncated.img         the first 40 bytes of a valid image
 *   truncated_homes.img   a valid image without its last 1000 bytes
 *   padded.img            a valid image followed by 1000 zero bytes (consistent)
 * and from a second valid image, a checkpoint taken inside a failure-atomic group whose
 * undo log has an entry of each kind (docs/FORMAT.md 2.3), the other slot voided:
 *   undo_base.img         that image
 *   undo_no_group.img     the checkpoint's group flag cleared (an undo log outside a group)
 *   undo_count.img        one more undo log entry counted than the checkpoint holds
 *   undo_long.img         an entry of 33 bytes (the most is 32), the length to match
 *   undo_not_start.img    an entry naming a free unit
 *   undo_past_slot.img    an entry of storage bytes outside the current data slot of their
 *                         home (the bytes of its object header)
 *   undo_past_object.img  RAM bytes at offset 2^31 - 1 of their resident object
 *   undo_arena.img        an entry's arena block on the first record's
 *   freed_dirty_flag.img  the record of a block object freed in the group (clean: no data
 *                         in RAM) with its dirty flag set, its bitmap still empty
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_crc.h"
#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

#define NV (16u * 1024u)

static uint8_t base[NV], gbase[NV], img[NV], ram[4096] __attribute__((aligned(8)));
static vnv_obj_t big;   /* a 600-byte partial object */
static vnv_obj_t homed; /* written home and evicted */
static vnv_obj_t ghomed; /* in gbase: written home after its first checkpoint */
static vnv_obj_t gfreed; /* in gbase: a block object freed in the group (16-byte record) */

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

/* gbase: a checkpoint inside a group (slot A, slot B voided) with an undo log of bytes
 * written through to a home (not with VNV_DATA_CRC), bytes of a resident object, and an
 * object allocated at home. */
static int build_group(void)
{
    static struct vnv_emu emu;
    static struct vnv_storage st;
    static struct vnv_heap heap;
    vnv_emu_init(&emu, gbase, NV, NULL);
    vnv_emu_storage(&emu, &st);
    struct vnv_config cfg = {.storage = &st, .buffer = ram, .buffer_size = sizeof ram,
                             .max_dirty_bytes = 1024};
    vnv_obj_t o[6], g;
    uint8_t v[96]; /* the largest initial value: 80 bytes */
    memset(v, 0x5A, sizeof v);
    if (vnv_format(&heap, &cfg))
        return 1;
    for (unsigned i = 0; i < 6; i++)
        if (vnv_alloc(&heap, 40 + 8 * i, v, &o[i]))
            return 1;
    ghomed = o[1];
    if (vnv_alloc_blocks(&heap, 64, 16, v, &gfreed))
        return 1;
    if (vnv_set_root(&heap, o[0]) || vnv_checkpoint(&heap) || vnv_unload(&heap, o[1]) ||
        vnv_unload(&heap, gfreed) || vnv_atomic_begin(&heap) || vnv_free(&heap, gfreed) ||
        vnv_write(&heap, o[1], 4, v, 8) ||
        vnv_write(&heap, o[2], 0, v, 12) || vnv_alloc(&heap, 600, NULL, &g) ||
        vnv_checkpoint(&heap))
        return 1;
    vnv_abandon(&heap);
    vnv_img_put32(gbase, NV, vnv_img_slot_off(gbase, NV, 1), 0);
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

/* The undo log cases, from gbase: its entries found by kind (newest first on storage). */
static int undo_cases(const char *dir)
{
    if (build_group())
        return 1;
    uint32_t ck = vnv_img_slot_off(gbase, NV, 0), flags = vnv_img_get32(gbase, NV, ck + 20);
    uint32_t log = vnv_img_undo_off(gbase, NV, 0), n = flags >> 16, at = log;
    uint32_t ram_e = 0, disk_e = 0, alloc_e = 0, last = 0; /* entries, by kind */
    for (uint32_t i = 0; i < n && at; i++) {
        uint32_t off = vnv_img_get32(gbase, NV, at + 4);
        uint32_t len = vnv_img_get32(gbase, NV, at + 8) & 0xFFFFu;
        if (off & 0x80000000u)
            ram_e = ram_e ? ram_e : at;
        else if (len)
            disk_e = disk_e ? disk_e : at;
        else
            alloc_e = alloc_e ? alloc_e : at;
        last = at;
        at += VNV_IMG_CK_UNDO + len;
    }
    if (vnv_img_loaded_slot(gbase, NV) != 0 || !(flags & 2u) || !ram_e ||
        (!disk_e && !VNV_DATA_CRC) || !alloc_e ||
        at != ck + vnv_img_get32(gbase, NV, ck + VNV_IMG_CK_LEN)) {
        fprintf(stderr, "mkhostile: the group image is not as expected (flags %08x)\n",
                (unsigned)flags);
        return 1;
    }
    memcpy(img, gbase, NV);
    if (save(dir, "undo_base.img", NV))
        return 1;
    memcpy(img, gbase, NV);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_FLAGS, flags & ~2u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "undo_no_group.img", NV))
        return 1;
    memcpy(img, gbase, NV);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_FLAGS, flags + (1u << 16));
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "undo_count.img", NV))
        return 1;
    /* the last entry (at the checkpoint's end) one byte longer, and the checkpoint too */
    memcpy(img, gbase, NV);
    uint32_t w = vnv_img_get32(img, NV, last + 8), len = w & 0xFFFFu;
    vnv_img_put32(img, NV, last + 8, (w & 0xFFFF0000u) | 33u);
    vnv_img_put32(img, NV, ck + VNV_IMG_CK_LEN,
                  vnv_img_get32(img, NV, ck + VNV_IMG_CK_LEN) + 33u - len);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "undo_long.img", NV))
        return 1;
    memcpy(img, gbase, NV);
    vnv_img_put32(img, NV, ram_e, vnv_img_units(img, NV) - 1u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "undo_not_start.img", NV))
        return 1;
    /* the RAM entry made a storage one, of the bytes of ghomed's header */
    memcpy(img, gbase, NV);
    vnv_img_put32(img, NV, ram_e, vnv_img_handle_unit(img, NV, ghomed.id));
    vnv_img_put32(img, NV, ram_e + 4, vnv_img_handle_home(img, NV, ghomed.id));
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "undo_past_slot.img", NV))
        return 1;
    memcpy(img, gbase, NV);
    vnv_img_put32(img, NV, ram_e + 4, 0xFFFFFFFFu);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "undo_past_object.img", NV))
        return 1;
    /* the freed block object's record claims dirty blocks it does not carry */
    memcpy(img, gbase, NV);
    uint32_t fr = vnv_img_record_off(img, NV, 0, gfreed.id);
    if (!fr || (vnv_img_get32(img, NV, fr + 8) & 0x20A0u) != 0x2080u) {
        fprintf(stderr, "mkhostile: no clean record of the freed block object\n");
        return 1;
    }
    vnv_img_put32(img, NV, fr + 8, vnv_img_get32(img, NV, fr + 8) | 0x20u);
    vnv_img_fix_checksums(img, NV);
    if (save(dir, "freed_dirty_flag.img", NV))
        return 1;
    /* the alloc entry's arena unit := the first record's */
    memcpy(img, gbase, NV);
    uint32_t rec = ck + VNV_IMG_CK_HEADER + 12u * vnv_img_map_words(img, NV);
    w = vnv_img_get32(img, NV, alloc_e + 8);
    vnv_img_put32(img, NV, alloc_e + 8,
                  (w & 0xFFFFu) | (vnv_img_get32(img, NV, rec + 12) & 0xFFFFu) << 16);
    vnv_img_fix_checksums(img, NV);
    return save(dir, "undo_arena.img", NV);
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

    /* an intact tag reservation record (FORMAT.md 1.1) at 2^64 - 1, past the tag space:
     * forged, ignored by open and reported, not a problem */
    memcpy(img, base, NV);
    vnv_img_put_tag_record(img, NV, 1, UINT64_MAX);
    if (save(dir, "tag_forged.img", NV))
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
        fprintf(stderr, "mkhostile: object %" PRIx64 " has no header at %u\n", homed.id,
                home);
        return 1;
    }
    img[home + 1] ^= 0x04; /* its size */
    if (save(dir, "header_crc.img", NV))
        return 1;

    memcpy(img, base, NV);
    if (save(dir, "truncated_homes.img", NV - 1000u) || save(dir, "truncated.img", 40))
        return 1;
    { /* a valid image on a larger file (the file backend uses such a file as is) */
        char path[512];
        static const uint8_t tail[1000];
        snprintf(path, sizeof path, "%s/%s", dir, "padded.img");
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(img, 1, NV, f) != NV || fwrite(tail, 1, sizeof tail, f) != sizeof tail ||
            fclose(f)) {
            fprintf(stderr, "mkhostile: cannot write %s\n", path);
            return 1;
        }
    }
    return undo_cases(dir);
}
