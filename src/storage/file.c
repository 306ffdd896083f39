/* file.c - POSIX file storage backend. The callbacks are async-signal-safe. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE      /* pwritev on glibc and musl */
#define _FILE_OFFSET_BITS 64 /* offsets up to 4 GiB on 32-bit hosts */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vnvheap/storage_file.h"

#if defined(__linux__)
#define VNV_FILE_HAVE_PWRITEV 1
#else
#define VNV_FILE_HAVE_PWRITEV 0 /* elsewhere pwritev hides behind non-POSIX feature macros */
#endif

/* flock: a lock per open file, so a second open in the same process conflicts too (POSIX
 * record locks do not conflict within a process). Not POSIX, but on every desktop system. */
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__OpenBSD__)
#include <sys/file.h>
#define VNV_FILE_HAVE_FLOCK 1
#else
#define VNV_FILE_HAVE_FLOCK 0
#endif

/* Bytes per system call: keeps the return value within ssize_t on 32-bit hosts. */
#define CHUNK_MAX ((uint32_t)1 << 30)
/* iovecs per pwritev: _XOPEN_IOV_MAX, the smallest IOV_MAX POSIX allows. */
#define IOV_BATCH 16

static int in_range(const struct vnv_file *f, uint32_t off, uint32_t len)
{
    return off <= f->size && len <= f->size - off;
}

static uint32_t chunk(uint32_t len)
{
    return len < CHUNK_MAX ? len : CHUNK_MAX;
}

/* pwrite all of [p, p + len) at off, across short writes and EINTR. */
static int write_all(int fd, uint32_t off, const uint8_t *p, uint32_t len)
{
    while (len) {
        ssize_t n = pwrite(fd, p, chunk(len), (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* 0 would loop forever: treat as a device failure */
            return VNV_ERR_IO;
        p += n;
        off += (uint32_t)n;
        len -= (uint32_t)n;
    }
    return VNV_OK;
}

/*
 * Every callback restores errno: the power-failure signal handler may call it while the
 * interrupted code is about to inspect errno.
 */
static int file_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    struct vnv_file *f = ctx;
    if (!f || !in_range(f, off, len) || (len && !dst))
        return VNV_ERR_INVAL;
    int saved = errno, err = VNV_OK;
    uint8_t *p = dst;
    while (len) {
        ssize_t n = pread(f->fd, p, chunk(len), (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* 0 = end of file: someone shortened it */
            err = VNV_ERR_IO;
            break;
        }
        p += n;
        off += (uint32_t)n;
        len -= (uint32_t)n;
    }
    errno = saved;
    return err;
}

static int file_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct vnv_file *f = ctx;
    if (!f || !in_range(f, off, len) || (len && !src))
        return VNV_ERR_INVAL;
    int saved = errno;
    int err = write_all(f->fd, off, src, len);
    errno = saved;
    return err;
}

#if VNV_FILE_HAVE_PWRITEV
/* pwritev the pieces from iov[i] + skip on, in batches, resuming after partial writes. */
static int writev_all(int fd, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    unsigned i = 0;
    uint32_t skip = 0; /* bytes of iov[i] already written */
    for (;;) {
        while (i < cnt && iov[i].len == skip) {
            i++;
            skip = 0;
        }
        if (i == cnt)
            return VNV_OK;

        struct iovec batch[IOV_BATCH];
        int m = 0;
        uint32_t sum = 0;
        for (unsigned j = i; j < cnt && m < IOV_BATCH && sum < CHUNK_MAX; j++) {
            uint32_t from = j == i ? skip : 0;
            uint32_t len = iov[j].len - from;
            if (len == 0)
                continue;
            if (len > CHUNK_MAX - sum)
                len = CHUNK_MAX - sum;
            /* struct iovec is shared with readv, hence not const; pwritev only reads. */
            batch[m].iov_base = (void *)((const uint8_t *)iov[j].base + from);
            batch[m].iov_len = len;
            m++;
            sum += len;
        }

        ssize_t n = pwritev(fd, batch, m, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return VNV_ERR_IO;
        off += (uint32_t)n;
        /* Step over what was written, possibly ending inside a piece. */
        uint32_t left = (uint32_t)n;
        while (left) {
            uint32_t avail = iov[i].len - skip;
            if (left < avail) {
                skip += left;
                left = 0;
            } else {
                left -= avail;
                i++;
                skip = 0;
            }
        }
    }
}
#else
static int writev_all(int fd, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    for (unsigned i = 0; i < cnt; i++) {
        int err = write_all(fd, off, iov[i].base, iov[i].len);
        if (err)
            return err;
        off += iov[i].len;
    }
    return VNV_OK;
}
#endif

static int file_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    struct vnv_file *f = ctx;
    uint32_t total = 0;
    if (!f || vnv_iov_total(iov, cnt, &total))
        return VNV_ERR_INVAL;
    if (!in_range(f, off, total))
        return VNV_ERR_INVAL;
    int saved = errno;
    /* one piece (most flushes): plain pwrite, cheaper in the kernel than a 1-entry pwritev */
    int err = cnt == 1 ? write_all(f->fd, off, iov[0].base, iov[0].len)
                       : writev_all(f->fd, off, iov, cnt);
    errno = saved;
    return err;
}

/* fsync (or, data_only, fdatasync where POSIX has it) across EINTR: 0 or the errno. */
static int sync_fd(int fd, int data_only)
{
    int r;
    do {
#if defined(_POSIX_SYNCHRONIZED_IO) && _POSIX_SYNCHRONIZED_IO > 0
        r = data_only ? fdatasync(fd) : fsync(fd);
#else
        (void)data_only;
        r = fsync(fd);
#endif
    } while (r != 0 && errno == EINTR);
    return r ? errno : 0;
}

static int file_sync(void *ctx)
{
    struct vnv_file *f = ctx;
    if (!f)
        return VNV_ERR_INVAL;
    int saved = errno, e = sync_fd(f->fd, 1);
    errno = saved;
    return e ? VNV_ERR_IO : VNV_OK;
}

/* One user per file: two vnv_files on it (in one process or two) would let two heaps write
 * the same storage. BUSY if another holds it; a file system without locks is used as is. */
static int lock_file(int fd)
{
#if VNV_FILE_HAVE_FLOCK
    int r;
    do
        r = flock(fd, LOCK_EX | LOCK_NB);
    while (r != 0 && errno == EINTR);
    if (r != 0 && errno == EWOULDBLOCK)
        return VNV_ERR_BUSY;
#else
    (void)fd;
#endif
    return VNV_OK;
}

/* ftruncate across EINTR: cut to len, or extend with zeros. */
static int resize(int fd, uint32_t len)
{
    int r;
    do
        r = ftruncate(fd, (off_t)len);
    while (r != 0 && errno == EINTR);
    return r ? VNV_ERR_IO : VNV_OK;
}

/* Make a file just created (or resized) survive a power cut: its size, and its entry in
 * the directory (fsync of the file alone does not cover the entry). A file system that
 * cannot sync a directory (EINVAL, EROFS) is left at that. */
static int sync_new_file(int fd, const char *path)
{
    char dir[4096];
    size_t n = 0, slash = 0;
    for (; path[n] && n < sizeof dir - 1u; n++) {
        dir[n] = path[n];
        if (path[n] == '/')
            slash = n + 1u;
    }
    if (path[n])
        return VNV_ERR_INVAL; /* (open took it: longer than PATH_MAX is not expected) */
    if (slash > 1u)
        slash--; /* "a/b" -> "a"; "/b" -> "/" */
    if (!slash)
        dir[slash++] = '.'; /* "b" -> "." */
    dir[slash] = '\0';
    int d;
    if (sync_fd(fd, 0))
        return VNV_ERR_IO;
    do
        d = open(dir, O_RDONLY | O_CLOEXEC);
    while (d < 0 && errno == EINTR);
    if (d < 0)
        return VNV_ERR_IO;
    int e = sync_fd(d, 0);
    close(d);
    return !e || e == EINVAL || e == EROFS ? VNV_OK : VNV_ERR_IO;
}

int vnv_file_open(struct vnv_file *f, const char *path, uint32_t size, unsigned flags)
{
    if (!f)
        return VNV_ERR_INVAL;
    f->fd = -1;
    f->size = 0;
    if (!path || size == 0 || (flags & ~(VNV_FILE_CREATE | VNV_FILE_TRUNCATE)))
        return VNV_ERR_INVAL;

    int oflags = O_RDWR | O_CLOEXEC;
    if (flags & VNV_FILE_CREATE)
        oflags |= O_CREAT;
    int fd;
    do
        fd = open(path, oflags, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return VNV_ERR_IO;

    struct stat sb;
    int err = lock_file(fd); /* before TRUNCATE: a refused open changes nothing */
    if (!err && (flags & VNV_FILE_TRUNCATE))
        err = resize(fd, 0);
    if (!err && fstat(fd, &sb) != 0)
        err = VNV_ERR_IO;
    if (!err && sb.st_size < (off_t)size) { /* the new tail reads as zeros */
        err = (flags & (VNV_FILE_CREATE | VNV_FILE_TRUNCATE)) ? resize(fd, size) : VNV_ERR_INVAL;
        if (!err)
            err = sync_new_file(fd, path); /* created, or grown: size and name durable */
    }
    if (err) {
        close(fd);
        return err;
    }
    f->fd = fd;
    f->size = size;
    return VNV_OK;
}

void vnv_file_storage(struct vnv_file *f, struct vnv_storage *out)
{
    if (!f || !out)
        return;
    out->ctx = f;
    out->size = f->size;
    out->read = file_read;
    out->write = file_write;
    out->writev = file_writev;
    out->sync = file_sync;
}

int vnv_file_close(struct vnv_file *f)
{
    if (!f || f->fd < 0)
        return VNV_ERR_INVAL;
    int r = close(f->fd);
    f->fd = -1;
    /* Not retried on EINTR: the descriptor may already be gone (Linux frees it). */
    return r != 0 && errno != EINTR ? VNV_ERR_IO : VNV_OK;
}
