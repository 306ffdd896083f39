/*
 * vnvheap/storage_file.h - POSIX file as non-volatile storage (host builds, VNV_POSIX).
 *
 * The first `size` bytes of a regular file are the storage; a longer file is used as is.
 * The callbacks use only pread/pwrite/pwritev/fdatasync (no stdio, no allocation, errno
 * preserved), so a power-failure signal handler may call them. Every OS error becomes
 * VNV_ERR_IO. Writes are durable only after the sync callback (fdatasync).
 */
#ifndef VNVHEAP_STORAGE_FILE_H
#define VNVHEAP_STORAGE_FILE_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VNV_FILE_CREATE 1u   /* create a missing file; zero-extend a short one to size */
#define VNV_FILE_TRUNCATE 2u /* discard the content: start all-zero */

struct vnv_file {
    int fd;        /* -1 when closed */
    uint32_t size; /* storage capacity in bytes */
};

/*
 * Open `path` read-write as storage of `size` bytes. `flags` is a mix of VNV_FILE_*.
 * Without VNV_FILE_CREATE the file must exist and hold at least `size` bytes; with it a
 * missing file is created and a short one extended with zeros (content kept).
 * VNV_FILE_TRUNCATE empties the file first, then extends it to `size` zero bytes. A file
 * created or extended is synced with its directory entry (fsync of both) before this
 * returns, so it is still there, full size, after a power cut.
 * One vnv_file per file: it holds an exclusive lock on the file (flock, on Linux, macOS and
 * the BSDs; a file system without locks is used unlocked) until vnv_file_close or the end
 * of the process, so a second heap cannot write the same storage from this process or
 * another one. The descriptor is close-on-exec, but a child forked without exec shares it
 * and its lock: until the child exits or closes it, a new vnv_file_open of the file gets
 * VNV_ERR_BUSY, even in the parent after its vnv_file_close.
 * Returns VNV_OK; VNV_ERR_INVAL for NULL f/path, size 0 or unknown flags, or a file
 * shorter than `size` without CREATE/TRUNCATE; VNV_ERR_BUSY if another vnv_file holds the
 * file (nothing changed, TRUNCATE included); VNV_ERR_IO if the OS refuses (missing file
 * without CREATE included). On error f->fd is -1 and nothing is left open.
 * O(1) system calls (extending may cost O(size) in the file system).
 */
int vnv_file_open(struct vnv_file *f, const char *path, uint32_t size, unsigned flags);

/*
 * Fill `*out` with the callbacks (read, write, writev, sync) of `f`; ctx = f,
 * size = f->size. Reads and writes loop over short transfers and EINTR; reading past
 * the end of the file is VNV_ERR_IO; a range outside [0, size) is VNV_ERR_INVAL; a
 * closed or invalid fd is VNV_ERR_IO. Does nothing if f or out is NULL. O(1).
 */
void vnv_file_storage(struct vnv_file *f, struct vnv_storage *out);

/*
 * Close the file (without syncing: call the sync callback first for durability).
 * f->fd becomes -1 whatever the outcome. Returns VNV_OK, VNV_ERR_INVAL if f is NULL or
 * already closed, VNV_ERR_IO if close() reports an error. O(1).
 */
int vnv_file_close(struct vnv_file *f);

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_STORAGE_FILE_H */
