/*
 * vnvheap/storage.h - the non-volatile storage interface.
 *
 * A storage device is a byte-addressable array of `size` bytes (FRAM, MRAM, a file).
 * The heap talks to it only through this struct of callbacks, modelled on littlefs's
 * `struct lfs_config`: the backend keeps its state behind `ctx`.
 *
 * Contract for every callback:
 *   - returns 0 on success or a negative VNV_ERR_* (VNV_ERR_IO for device failures); a
 *     positive value (a byte count, as pread returns) is taken as VNV_ERR_IO;
 *   - the heap never asks for a range outside [0, size); backends still check and return
 *     VNV_ERR_INVAL for such a range;
 *   - `len` may be 0 (the call then succeeds without touching the device);
 *   - after a failed write the content of the range is unspecified (partly written);
 *   - a callback may be invoked from the power-failure interrupt (by vnv_persist_all), but
 *     never while another callback of the same storage is running: the heap defers the
 *     checkpoint until an in-flight transaction (a sync included) has finished.
 */
#ifndef VNVHEAP_STORAGE_H
#define VNVHEAP_STORAGE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vnv_storage {
    void *ctx;     /* backend state, passed to every callback */
    uint32_t size; /* capacity in bytes */

    /* Read `len` bytes at `off` into `dst`. */
    int (*read)(void *ctx, uint32_t off, void *dst, uint32_t len);
    /* Write `len` bytes from `src` to `off`. */
    int (*write)(void *ctx, uint32_t off, const void *src, uint32_t len);
    /* Optional (NULL = the heap issues one write per piece). Write the `cnt` pieces
     * back to back starting at `off`, as ONE device transaction where the device allows it
     * (one SPI WRITE command streaming from several RAM places). */
    int (*writev)(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt);
    /* Optional (NULL = writes are durable when write returns, as on FRAM).
     * Make every completed write durable (fdatasync for files). */
    int (*sync)(void *ctx);
};

/* Helpers used by the heap and by modules; they validate the range and fall back to
 * sequential writes when `writev` is NULL. */
int vnv_storage_read(const struct vnv_storage *s, uint32_t off, void *dst, uint32_t len);
int vnv_storage_write(const struct vnv_storage *s, uint32_t off, const void *src, uint32_t len);
int vnv_storage_writev(const struct vnv_storage *s, uint32_t off, const struct vnv_iovec *iov,
                       unsigned cnt);
int vnv_storage_sync(const struct vnv_storage *s);
/* vnv_storage_writev for a caller that has validated the pieces with vnv_iov_total and
 * passes their `total` (one pass over the pieces fewer: the heap's checkpoint path). */
int vnv_storage_writev_total(const struct vnv_storage *s, uint32_t off,
                             const struct vnv_iovec *iov, unsigned cnt, uint32_t total);

/* For backends' writev: validate the pieces (no NULL piece with a length, no 32-bit
 * overflow) and return their total length in *total. 0 or VNV_ERR_INVAL. O(cnt). */
int vnv_iov_total(const struct vnv_iovec *iov, unsigned cnt, uint32_t *total);

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_STORAGE_H */
