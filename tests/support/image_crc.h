/*
 * image_crc.h - the one place in the tests that knows the checksums of a storage image
 * (docs/FORMAT.md, format version 5) and where the fields they cover sit.
 *
 * The image fuzzer (tests/fuzz/fuzz_image.c) and the vnv-check regression images
 * (tests/image/mkhostile.c, mkimage.c) edit images and then recompute the checksums through
 * these functions, so a change of the format (a new version, another checksum) is made here
 * and nowhere else in the tests.
 *
 * Every function treats the image as hostile: each field it uses is bounded against `len`,
 * so a damaged image gives a best-effort result and never an access outside
 * [img, img + len). No allocation, no I/O: usable on every target.
 */
#ifndef VNV_TEST_IMAGE_CRC_H
#define VNV_TEST_IMAGE_CRC_H

#include <stddef.h>
#include <stdint.h>

#include "vnvheap.h"

/* Superblock fields (byte offsets from the start of the image). */
#define VNV_IMG_SB_VERSION 8u
#define VNV_IMG_SB_STORAGE_SIZE 12u
#define VNV_IMG_SB_MAX_DIRTY 16u
#define VNV_IMG_SB_CKPT_OFF 20u
#define VNV_IMG_SB_CKPT_CAP 24u
#define VNV_IMG_SB_NV_OFF 28u
#define VNV_IMG_SB_NV_SIZE 32u
#define VNV_IMG_SB_ARENA 36u
#define VNV_IMG_SB_UNIT 48u
#define VNV_IMG_SB_UNITS 52u

/* Checkpoint slot header fields (byte offsets from the slot's start); the NV map follows
 * the header, then the records (16 bytes each, with their bitmaps and data), then, in a
 * checkpoint taken inside a group, its undo log (flags bits 16-31 entries). */
#define VNV_IMG_CK_SEQ 4u
#define VNV_IMG_CK_LEN 8u
#define VNV_IMG_CK_CRC 12u
#define VNV_IMG_CK_NREC 16u
#define VNV_IMG_CK_FLAGS 20u /* bit 0 clean, bit 1 in a group, bits 16-31 undo entries */
#define VNV_IMG_CK_ROOT 24u /* 8 bytes, like alloc_count at 32 and group_root at 40 */
#define VNV_IMG_CK_HEADER 48u
#define VNV_IMG_CK_ALLOC_COUNT 32u
#define VNV_IMG_CK_GROUP_ROOT 40u
#define VNV_IMG_CK_RECORD 16u /* handle (8), word (4), arena unit (2), pre block's unit (2) */
#define VNV_IMG_CK_RECORD_WORD 8u
#define VNV_IMG_CK_RECORD_PRE 14u
#define VNV_IMG_PRE_LOG 0xFFFFu /* pre field: no pre block, the undo log describes it */
/* An undo log entry: unit (4), offset (4; bit 31: in the resident object), len (2), arena
 * unit (2), then len (at most 32) bytes. */
#define VNV_IMG_CK_UNDO 12u
#define VNV_IMG_UNDO_MAX 32u
#define VNV_IMG_OBJ_HEADER 16u /* word (4), handle (8), CRC-32 (4) */

/* Status bits below the size in a record's word (14 in docs/FORMAT.md 2.3). */
unsigned vnv_img_status_bits(void);

uint32_t vnv_img_get32(const uint8_t *img, size_t len, uint32_t off); /* 0 outside */
void vnv_img_put32(uint8_t *img, size_t len, uint32_t off, uint32_t v); /* no-op outside */

/* CRC-32 (IEEE, reflected, as zlib); start with crc = 0. */
uint32_t vnv_img_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* Geometry as the superblock states it (unit 0 / units 0 when the fields are unusable). */
uint32_t vnv_img_unit(const uint8_t *img, size_t len);
uint32_t vnv_img_units(const uint8_t *img, size_t len);
uint32_t vnv_img_map_words(const uint8_t *img, size_t len); /* ceil(units / 32) */
uint32_t vnv_img_nv_off(const uint8_t *img, size_t len);
/* Start of checkpoint slot s (0 = A, 1 = B), 0 if the superblock puts it outside. */
uint32_t vnv_img_slot_off(const uint8_t *img, size_t len, unsigned s);
/* The slot vnv_open loads (docs/FORMAT.md 2.4: the newer verifying one), or -1. */
int vnv_img_loaded_slot(const uint8_t *img, size_t len);
/* The slot with the larger sequence number among those whose magic matches, or -1. */
int vnv_img_newest_slot(const uint8_t *img, size_t len);
/* 1 if the checkpoint in slot s is complete and its checksum verifies. */
int vnv_img_slot_ok(const uint8_t *img, size_t len, unsigned s);
/* Image offset of the undo log of the checkpoint in slot s (where its records end, whether
 * or not it has one), or 0 when its records do not parse. */
uint32_t vnv_img_undo_off(const uint8_t *img, size_t len, unsigned s);
/* Image offset of the record in slot s whose handle names the same unit as `id` (a record of
 * an object freed in a group has tag 0), or 0 when there is none or the records do not
 * parse up to it. */
uint32_t vnv_img_record_off(const uint8_t *img, size_t len, unsigned s, uint64_t id);
/* Bit u of map m (0 ALLOC, 1 START, 2 CUR) of slot s; 0 outside. */
int vnv_img_map_bit(const uint8_t *img, size_t len, unsigned s, unsigned m, uint32_t u);

/* Unit of handle `id` and the storage offset of its home (object header); 0 / UINT32_MAX
 * when the superblock is unusable. */
uint32_t vnv_img_handle_unit(const uint8_t *img, size_t len, uint64_t id);
uint32_t vnv_img_handle_home(const uint8_t *img, size_t len, uint64_t id);

/* 1 if the 16-byte object header at `home` carries a matching CRC-32, else 0. */
int vnv_img_objhdr_crc_ok(const uint8_t *img, size_t len, uint32_t home);

/* Recompute, in place: */
void vnv_img_fix_superblock(uint8_t *img, size_t len); /* CRC-32 of bytes 0..59 */
/* The CRC of each slot whose magic matches, over map, records, bitmaps and undo log as
 * ckpt_verify reads them (a record or entry that runs past the slot's length: up to the
 * length). */
void vnv_img_fix_checkpoints(uint8_t *img, size_t len);
/* The CRC of the object header at every START unit of either slot's map. Returns the
 * number of headers written. */
unsigned vnv_img_fix_object_headers(uint8_t *img, size_t len);
/* All of the above, in dependency order (objects, checkpoints, superblock). */
void vnv_img_fix_checksums(uint8_t *img, size_t len);
/* Tag reservation record `which` (0 or 1, docs/FORMAT.md 1.1): write it intact, holding
 * `value`; or, in vnv_img_fix_tag_records (part of vnv_img_fix_checksums), recompute the CRC
 * of each record whose magic matches. No-op outside the image. */
void vnv_img_put_tag_record(uint8_t *img, size_t len, unsigned which, uint64_t value);
void vnv_img_fix_tag_records(uint8_t *img, size_t len);

#endif
