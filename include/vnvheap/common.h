/*
 * vnvheap/common.h - error codes and small types shared by every module.
 *
 * Every function of the library returns 0 (VNV_OK) on success or one of the negative
 * VNV_ERR_* values below. Modules (storage backends, allocators, policies) use the same
 * codes so that an error travels unchanged from the device driver to the caller.
 */
#ifndef VNVHEAP_COMMON_H
#define VNVHEAP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef VNV_CONFIG_HEADER
#include VNV_CONFIG_HEADER /* user overrides of the compile-time limits */
#endif

#ifndef VNV_MINIMAL
/* 1: the minimal profile, for the smallest code (README "Minimal profile"; like littlefs's
 * LFS_READONLY). It leaves out failure-atomic groups (vnv_atomic_*), block objects and
 * gather (vnv_alloc_blocks, vnv_alloc_gather, vnv_get_mut_range, vnv_mark_dirty),
 * vnv_check, the containers (vnvheap/list.h, array.h) and the buddy allocators (first-fit
 * remains, for RAM and NV). Their declarations are gone, so a use is a compile error.
 * Images keep the same format: a minimal build opens an image that uses none of those, and
 * refuses with VNV_ERR_VERSION, changing nothing, what uses one (vnv_open: an intact
 * checkpoint taken inside a group or holding a block object; any access that reads a block
 * object's header). Must be the same in every translation unit (the CMake option
 * VNV_MINIMAL sets it for the library and its users). */
#define VNV_MINIMAL 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum vnv_error {
    VNV_OK = 0,
    VNV_ERR_INVAL = -22,   /* bad argument, unknown/freed handle, call out of protocol  */
    VNV_ERR_NOMEM = -12,   /* the RAM buffer (or its index) cannot hold the object      */
    VNV_ERR_NOSPC = -28,   /* the non-volatile storage is full                          */
    VNV_ERR_IO = -5,       /* the storage device reported an error                      */
    VNV_ERR_BUSY = -16,    /* reference conflict: pinned, or readers/writer present     */
    VNV_ERR_CORRUPT = -84, /* checksum, magic or format mismatch on storage             */
    VNV_ERR_BUDGET = -122, /* the dirty budget cannot hold it, even after flushing      */
    VNV_ERR_NOHEAP = -19,  /* no vnvheap image on this device (blank or foreign data)   */
    VNV_ERR_VERSION = -95  /* a vnvheap image of another format version (not touched)   */
};

/* Non-negative result of vnv_persist_all(): at least one heap was inside a critical section,
 * and its checkpoint runs when that section ends (in normal code, not in the interrupt). */
#define VNV_PERSIST_DEFERRED 1

/* Name of a result code ("VNV_ERR_IO", ..., "VNV_PERSIST_DEFERRED"; "VNV_ERR_UNKNOWN" for
 * any other value); never NULL. O(1); interrupt-safe; storage: none. */
const char *vnv_strerror(int err);

/* One piece of a gather write: `len` bytes starting at `base`. */
struct vnv_iovec {
    const void *base;
    uint32_t len;
};

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_COMMON_H */
