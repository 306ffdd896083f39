/*
 * vnv_check_lib.h - the checking function of vnv-check, as a library: the command-line tool
 * (vnv-check.c) and the image fuzzer (tests/fuzz/fuzz_image.c) both call it.
 *
 * Every byte of the image is treated as hostile: any damaged image gives 1 and a message
 * starting with "PROBLEM:", never a read outside the image, and the memory it allocates is
 * bounded: about 1.5 MiB of tables besides the image, plus private copies of the image
 * pages the library's own check (an open that rolls a group back) writes to, at most the
 * image's size again. The image itself is never written.
 */
#ifndef VNV_CHECK_LIB_H
#define VNV_CHECK_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of vnv-check. */
#define VNV_CHECK_OK 0       /* consistent */
#define VNV_CHECK_PROBLEMS 1 /* damaged: at least one PROBLEM line */
#define VNV_CHECK_ERROR 2    /* could not check: usage, I/O error, out of memory */

/*
 * Check the image [img, img + len) read-only. `name` labels the verdict line; the report
 * goes to `out` (NULL: no output at all), and with `quiet` only the problems and the
 * verdict. Returns one of the statuses above.
 */
int vnv_check_image(const uint8_t *img, size_t len, const char *name, FILE *out, int quiet);

/*
 * Read the file at `path` (an image is at most VNV_MAX_STORAGE_SIZE bytes; a larger file
 * is reported as a problem without being read) and check it. I/O errors are reported on
 * stderr (VNV_CHECK_ERROR). The file is closed before the check, on every path.
 */
int vnv_check_file(const char *path, FILE *out, int quiet);

#endif
