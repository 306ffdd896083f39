/*
 * image_crc.h - the one place in the tests that knows the checksums of a storage image
 * (docs/FORMAT.md, format version 2) and where the fields they cover sit.
 *
 * The image fuzzer (tests/fuzz/fuzz_image.c) and the vnv-check regression images
 * (tests/image/mkhostile.c) edit images and then recompute the checksums through these
 * functions, so a change of the format (a new version, another checksum) is made here and
 * nowhere else in the tests.
 *
 * Every function treats the image as hostile: each field it uses is bounded against `len`,
 * so a damaged image gives a best-effort result and never an access outside
 * [img, img + len). No allocation, no I/O: usable on every target.
 */
#ifndef VNV_TEST_IMAGE_CRC_H
#define VNV_TEST_IMAGE_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Superblock fields (byte offsets from the start of the image). */
#define VNV_IMG_SB_VERSION 8u
#define VNV_IMG_SB_STORAGE_SIZE 12u
#define VNV_IMG_SB_MAX_DIRTY 16u
#define VNV_IMG_SB_CKPT_OFF 20u
#define VNV_IMG_SB_CKPT_CAP 24u
#define VNV_IMG_SB_NV_OFF 28u
#define VNV_IMG_SB_NV_SIZE 32u
#define VNV_IMG_SB_ARENA 36u
#define VNV_IMG_SB_NCACHE 48u

/* Checkpoint header fields (byte offsets from the checkpoint region's start). */
#define VNV_IMG_CK_LEN 8u
#define VNV_IMG_CK_NREC 16u
#define VNV_IMG_CK_ROOT 20u
#define VNV_IMG_CK_PARKED 32u /* + 8 i: home, + 8 i + 4: size */

uint32_t vnv_img_get32(const uint8_t *img, size_t len, uint32_t off); /* 0 outside */
void vnv_img_put32(uint8_t *img, size_t len, uint32_t off, uint32_t v); /* no-op outside */

/* CRC-32 (IEEE, reflected, as zlib); start with crc = 0. */
uint32_t vnv_img_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* Storage offset of the home (object header) of handle `id`. */
uint32_t vnv_img_handle_home(uint32_t id);
/* Checkpoint region start and header size as the superblock states them (bounded: 0 if
 * the superblock puts them outside the image). */
uint32_t vnv_img_ckpt_off(const uint8_t *img, size_t len);
uint32_t vnv_img_ckpt_header_size(const uint8_t *img, size_t len);
/* NV allocator region start (superblock's nv_off). */
uint32_t vnv_img_nv_off(const uint8_t *img, size_t len);

/* 1 if the 8-byte object header at `home` carries a matching CRC-8, else 0. */
int vnv_img_objhdr_crc_ok(const uint8_t *img, size_t len, uint32_t home);

/* Recompute, in place: */
void vnv_img_fix_superblock(uint8_t *img, size_t len);   /* CRC-32 of bytes 0..59 */
void vnv_img_fix_checkpoint(uint8_t *img, size_t len);   /* CRC-32 over body + header */
void vnv_img_fix_nv_region(uint8_t *img, size_t len);    /* buddy region header CRC-32 */
/* The CRC-8 of every object header found behind an allocated buddy block tag. Returns the
 * number of headers visited. */
unsigned vnv_img_fix_object_headers(uint8_t *img, size_t len);
/* All of the above, in dependency order (objects, NV region, checkpoint, superblock). */
void vnv_img_fix_checksums(uint8_t *img, size_t len);

#endif
