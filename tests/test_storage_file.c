/* test_storage_file.c - the POSIX file backend, in a temporary directory under /tmp. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vnvheap/storage_file.h"
#include "vtest.h"

/* REQUIRE evaluates its argument twice: keep calls out of it. */
static int rc;

static char dir[] = "/tmp/vnv_file_test_XXXXXX";
static char path_buf[128];

static const char *path_of(const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
    return path_buf;
}

static void pattern(uint8_t *buf, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8));
}

static void test_chunks_round_trip(void)
{
    struct vnv_file f;
    struct vnv_storage s;
    static uint8_t want[4096], got[4096];
    rc = vnv_file_open(&f, path_of("chunks"), sizeof(want), VNV_FILE_CREATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    CHECK(s.ctx == &f);
    CHECK_EQ(s.size, sizeof(want));
    pattern(want, sizeof(want), 1);
    for (uint32_t off = 0; off < sizeof(want); off += 128)
        CHECK_EQ(vnv_storage_write(&s, off, want + off, 128), VNV_OK);
    CHECK_EQ(vnv_storage_sync(&s), VNV_OK);
    CHECK_EQ(vnv_storage_read(&s, 0, got, sizeof(got)), VNV_OK);
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    /* Read back in odd-sized pieces as well. */
    memset(got, 0, sizeof(got));
    for (uint32_t off = 0; off < sizeof(got); off += 100) {
        uint32_t n = sizeof(got) - off < 100 ? (uint32_t)sizeof(got) - off : 100;
        CHECK_EQ(s.read(s.ctx, off, got + off, n), VNV_OK);
    }
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
}

struct record {
    uint32_t id;
    uint16_t a, b;
    uint8_t name[9];
};

static void test_struct_at_offset(void)
{
    struct vnv_file f;
    struct vnv_storage s;
    uint8_t fill[256], got[256];
    rc = vnv_file_open(&f, path_of("struct"), sizeof(fill), VNV_FILE_CREATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    memset(fill, 0xCC, sizeof(fill));
    CHECK_EQ(s.write(s.ctx, 0, fill, sizeof(fill)), VNV_OK);

    struct record r = {0xDEADBEEF, 7, 65535, "vnvheap"}, back;
    CHECK_EQ(s.write(s.ctx, 10, &r, sizeof(r)), VNV_OK);
    memset(&back, 0, sizeof(back));
    CHECK_EQ(s.read(s.ctx, 10, &back, sizeof(back)), VNV_OK);
    CHECK(memcmp(&back, &r, sizeof(r)) == 0);

    CHECK_EQ(s.read(s.ctx, 0, got, sizeof(got)), VNV_OK);
    CHECK(memcmp(got, fill, 10) == 0);
    CHECK(memcmp(got + 10 + sizeof(r), fill, sizeof(got) - 10 - sizeof(r)) == 0);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
}

static void test_writev(void)
{
    struct vnv_file f;
    struct vnv_storage s;
    uint8_t got[64];
    rc = vnv_file_open(&f, path_of("writev"), 1024, VNV_FILE_CREATE | VNV_FILE_TRUNCATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    const uint8_t a[] = "abc", b[] = "defgh", d[] = "i", e[] = "jklmnopqrstu";
    const struct vnv_iovec iov[] = {{a, 3}, {b, 5}, {NULL, 0}, {d, 1}, {e, 12}};
    CHECK_EQ(s.writev(s.ctx, 7, iov, 5), VNV_OK);
    CHECK_EQ(s.read(s.ctx, 0, got, 40), VNV_OK);
    static const uint8_t zero[8];
    CHECK(memcmp(got, zero, 7) == 0);
    CHECK(memcmp(got + 7, "abcdefghijklmnopqrstu", 21) == 0);
    CHECK(memcmp(got + 28, zero, 8) == 0);

    /* More pieces than one pwritev batch takes, of varied lengths (some empty). */
    static uint8_t src[1024], back[1024];
    struct vnv_iovec many[70];
    uint32_t total = 0;
    pattern(src, sizeof(src), 9);
    for (unsigned i = 0; i < 70; i++) {
        many[i].base = src + total;
        many[i].len = i % 5 == 3 ? 0 : 1 + (i * 7u) % 23u;
        total += many[i].len;
    }
    REQUIRE(total <= 1024 - 100);
    CHECK_EQ(vnv_storage_writev(&s, 100, many, 70), VNV_OK);
    CHECK_EQ(s.read(s.ctx, 100, back, total), VNV_OK);
    CHECK(memcmp(back, src, total) == 0);

    CHECK_EQ(s.writev(s.ctx, 0, NULL, 0), VNV_OK);
    CHECK_EQ(s.writev(s.ctx, 1024 - 20, iov, 5), VNV_ERR_INVAL);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
}

static void test_reopen_and_truncate(void)
{
    struct vnv_file f;
    struct vnv_storage s;
    uint8_t want[512], got[1024];
    const char *p = path_of("reopen");
    pattern(want, sizeof(want), 3);
    rc = vnv_file_open(&f, p, sizeof(want), VNV_FILE_CREATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    CHECK_EQ(s.write(s.ctx, 0, want, sizeof(want)), VNV_OK);
    CHECK_EQ(s.sync(s.ctx), VNV_OK);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);

    /* Without TRUNCATE the content survives (with or without CREATE). */
    rc = vnv_file_open(&f, p, sizeof(want), 0);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    CHECK_EQ(s.read(s.ctx, 0, got, sizeof(want)), VNV_OK);
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);

    /* A smaller size uses a prefix of a longer file. */
    rc = vnv_file_open(&f, p, 100, 0);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    CHECK_EQ(s.size, 100);
    CHECK_EQ(s.read(s.ctx, 0, got, 100), VNV_OK);
    CHECK(memcmp(got, want, 100) == 0);
    CHECK_EQ(s.read(s.ctx, 0, got, 101), VNV_ERR_INVAL);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);

    /* Too short without CREATE: INVAL. With CREATE: zero-extended, content kept. */
    CHECK_EQ(vnv_file_open(&f, p, sizeof(got), 0), VNV_ERR_INVAL);
    CHECK_EQ(f.fd, -1);
    rc = vnv_file_open(&f, p, sizeof(got), VNV_FILE_CREATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    CHECK_EQ(s.read(s.ctx, 0, got, sizeof(got)), VNV_OK);
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    int zeros = 1;
    for (uint32_t i = sizeof(want); i < sizeof(got); i++)
        zeros &= got[i] == 0;
    CHECK(zeros);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);

    /* TRUNCATE: all zero, even without CREATE on an existing file. */
    rc = vnv_file_open(&f, p, sizeof(got), VNV_FILE_TRUNCATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    memset(got, 0xFF, sizeof(got));
    CHECK_EQ(s.read(s.ctx, 0, got, sizeof(got)), VNV_OK);
    zeros = 1;
    for (uint32_t i = 0; i < sizeof(got); i++)
        zeros &= got[i] == 0;
    CHECK(zeros);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    CHECK_EQ(unlink(p), 0);
}

/* One vnv_file per file, in this process or another: a second open is refused (BUSY) and
 * changes nothing, TRUNCATE included; closing (or the end of the holder) frees it. */
static void test_one_user_per_file(void)
{
    struct vnv_file a, b;
    struct vnv_storage s;
    uint8_t want[256], got[256];
    const char *p = path_of("locked");
    pattern(want, sizeof(want), 5);
    REQUIRE(vnv_file_open(&a, p, sizeof(want), VNV_FILE_CREATE | VNV_FILE_TRUNCATE) == VNV_OK);
    vnv_file_storage(&a, &s);
    CHECK_EQ(s.write(s.ctx, 0, want, sizeof(want)), VNV_OK);
    b.fd = 123;
    CHECK_EQ(vnv_file_open(&b, p, sizeof(want), 0), VNV_ERR_BUSY);
    CHECK_EQ(b.fd, -1);
    CHECK_EQ(vnv_file_open(&b, p, sizeof(want), VNV_FILE_CREATE | VNV_FILE_TRUNCATE),
             VNV_ERR_BUSY);
    CHECK_EQ(s.read(s.ctx, 0, got, sizeof(got)), VNV_OK);
    CHECK(memcmp(got, want, sizeof(want)) == 0); /* the refused TRUNCATE changed nothing */
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) { /* another process: refused as well */
        struct vnv_file c;
        _exit(vnv_file_open(&c, p, sizeof(want), 0) == VNV_ERR_BUSY ? 0 : 1);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(vnv_file_close(&a), VNV_OK);
    REQUIRE(vnv_file_open(&b, p, sizeof(want), 0) == VNV_OK); /* free again */
    vnv_file_storage(&b, &s);
    CHECK_EQ(s.read(s.ctx, 0, got, sizeof(got)), VNV_OK);
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    CHECK_EQ(vnv_file_close(&b), VNV_OK);
    CHECK_EQ(unlink(p), 0);
}

/* A write the OS cuts short (here: the file size limit, RLIMIT_FSIZE, at byte 1000) lands
 * in order up to the cut, and the call then reports IO: pwritev stops inside a piece, the
 * rest of the pieces is retried from there, and that retry fails. In a child process, so
 * the limit stays there. */
static void test_a_write_cut_short(void)
{
    struct vnv_file f;
    struct vnv_storage s;
    uint8_t a[50], b[100], c[50], got[200], want[200];
    pattern(a, sizeof(a), 1);
    pattern(b, sizeof(b), 2);
    pattern(c, sizeof(c), 3);
    const char *p = path_of("short");
    REQUIRE(vnv_file_open(&f, p, 4096, VNV_FILE_CREATE | VNV_FILE_TRUNCATE) == VNV_OK);
    vnv_file_storage(&f, &s);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {1000, 1000};
        signal(SIGXFSZ, SIG_IGN); /* past the limit: EFBIG instead of the signal */
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(2);
        struct vnv_iovec iov[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
        int e1 = s.writev(s.ctx, 900, iov, 3); /* 100 bytes land: a, half of b */
        int e2 = s.write(s.ctx, 990, a, sizeof(a)); /* 10 bytes land */
        _exit(e1 == VNV_ERR_IO && e2 == VNV_ERR_IO ? 0 : 1);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    memset(want, 0, sizeof(want));
    memcpy(want, a, 50);       /* 900 .. 949 */
    memcpy(want + 50, b, 40);  /* 950 .. 989 */
    memcpy(want + 90, a, 10);  /* 990 .. 999 */
    CHECK_EQ(s.read(s.ctx, 900, got, sizeof(got)), VNV_OK);
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    CHECK_EQ(unlink(p), 0);
}

static void test_open_errors(void)
{
    struct vnv_file f;
    f.fd = 123;
    CHECK_EQ(vnv_file_open(&f, path_of("missing"), 64, 0), VNV_ERR_IO);
    CHECK_EQ(f.fd, -1);
    CHECK_EQ(vnv_file_open(&f, path_of("missing"), 64, VNV_FILE_TRUNCATE), VNV_ERR_IO);
    CHECK_EQ(access(path_of("missing"), F_OK), -1); /* nothing was created */
    CHECK_EQ(vnv_file_open(NULL, path_of("x"), 64, VNV_FILE_CREATE), VNV_ERR_INVAL);
    CHECK_EQ(vnv_file_open(&f, NULL, 64, VNV_FILE_CREATE), VNV_ERR_INVAL);
    CHECK_EQ(vnv_file_open(&f, path_of("x"), 0, VNV_FILE_CREATE), VNV_ERR_INVAL);
    CHECK_EQ(vnv_file_open(&f, path_of("x"), 64, 0x80u), VNV_ERR_INVAL);
    CHECK_EQ(vnv_file_open(&f, dir, 64, 0), VNV_ERR_IO); /* a directory */
    CHECK_EQ(vnv_file_close(NULL), VNV_ERR_INVAL);
}

#if VNV_TEST_WRAP_FSYNC
/* The library's fsync calls (linked with -Wl,--wrap=fsync: tests/CMakeLists.txt), in
 * order: what each descriptor was. (fdatasync, the data syncs, is not wrapped.) */
struct synced {
    int is_dir;
    dev_t dev;
    ino_t ino;
};
static struct synced sync_log[8];
static unsigned sync_count;
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
    struct stat sb;
    if (sync_count < sizeof sync_log / sizeof sync_log[0] && fstat(fd, &sb) == 0)
        sync_log[sync_count] = (struct synced){S_ISDIR(sb.st_mode), sb.st_dev, sb.st_ino};
    sync_count++;
    return __real_fsync(fd);
}

/* The last open synced the image file `file`, then the directory `in`, and nothing else. */
static void expect_synced(const char *file, const char *in)
{
    struct stat fs, ds;
    REQUIRE(stat(file, &fs) == 0 && stat(in, &ds) == 0);
    CHECK_EQ(sync_count, 2u);
    CHECK(!sync_log[0].is_dir && sync_log[0].dev == fs.st_dev && sync_log[0].ino == fs.st_ino);
    CHECK(sync_log[1].is_dir && sync_log[1].dev == ds.st_dev && sync_log[1].ino == ds.st_ino);
    sync_count = 0;
}
#define SYNC_LOG_RESET() (sync_count = 0)
#define EXPECT_SYNCED(file, in) expect_synced(file, in)
#define EXPECT_NO_SYNC() CHECK_EQ(sync_count, 0u)
#else
#define SYNC_LOG_RESET() ((void)0)
#define EXPECT_SYNCED(file, in) ((void)0)
#define EXPECT_NO_SYNC() ((void)0)
#endif

/* A file CREATE makes (or extends) is synced with its directory entry before open
 * returns: the directory is found from the path, bare names included (the current
 * directory). Where the linker can wrap fsync, the test sees the file synced, then that
 * directory; an open that neither creates nor grows syncs nothing. */
static void test_create_in_any_directory(void)
{
    struct vnv_file f;
    char cwd[512];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(dir) == 0);
    SYNC_LOG_RESET();
    CHECK_EQ(vnv_file_open(&f, "bare.img", 300, VNV_FILE_CREATE), VNV_OK); /* "." */
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    EXPECT_SYNCED("bare.img", ".");
    CHECK_EQ(vnv_file_open(&f, "./dot.img", 300, VNV_FILE_CREATE), VNV_OK);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    EXPECT_SYNCED("dot.img", ".");
    CHECK_EQ(vnv_file_open(&f, "dot.img", 300, 0), VNV_OK); /* full size: nothing to sync */
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    EXPECT_NO_SYNC();
    REQUIRE(chdir(cwd) == 0);
    CHECK_EQ(vnv_file_open(&f, path_of("bare.img"), 600, VNV_FILE_CREATE), VNV_OK); /* grown */
    CHECK_EQ(f.size, 600);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    EXPECT_SYNCED(path_of("bare.img"), dir);
    CHECK_EQ(mkdir(path_of("sub"), 0700), 0); /* a relative path with a directory part */
    REQUIRE(chdir(dir) == 0);
    CHECK_EQ(vnv_file_open(&f, "sub/deep.img", 64, VNV_FILE_CREATE), VNV_OK);
    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    EXPECT_SYNCED("sub/deep.img", "sub");
    CHECK_EQ(unlink("sub/deep.img"), 0);
    CHECK_EQ(rmdir("sub"), 0);
    REQUIRE(chdir(cwd) == 0);
    struct stat sb;
    CHECK_EQ(stat(path_of("bare.img"), &sb), 0);
    CHECK_EQ(sb.st_size, 600);
    CHECK_EQ(stat(path_of("dot.img"), &sb), 0);
    CHECK_EQ(sb.st_size, 300);
    unlink(path_of("bare.img"));
    unlink(path_of("dot.img"));
}

static void test_range_and_bad_fd(void)
{
    struct vnv_file f;
    struct vnv_storage s;
    uint8_t buf[16] = {0};
    const char *p = path_of("range");
    rc = vnv_file_open(&f, p, 64, VNV_FILE_CREATE);
    REQUIRE(rc == VNV_OK);
    vnv_file_storage(&f, &s);
    CHECK_EQ(s.read(s.ctx, 64, buf, 1), VNV_ERR_INVAL);
    CHECK_EQ(s.read(s.ctx, 60, buf, 5), VNV_ERR_INVAL);
    CHECK_EQ(s.read(s.ctx, UINT32_MAX, buf, 2), VNV_ERR_INVAL);
    CHECK_EQ(s.read(s.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(s.write(s.ctx, 49, buf, 16), VNV_ERR_INVAL);
    CHECK_EQ(s.write(s.ctx, UINT32_MAX - 3, buf, 8), VNV_ERR_INVAL);
    CHECK_EQ(s.write(s.ctx, 48, buf, 16), VNV_OK);
    CHECK_EQ(s.read(s.ctx, 64, buf, 0), VNV_OK);

    /* A file shortened behind our back: reading past its end is an I/O error. */
    CHECK_EQ(truncate(p, 32), 0);
    CHECK_EQ(s.read(s.ctx, 16, buf, 16), VNV_OK);
    errno = EDOM;
    CHECK_EQ(s.read(s.ctx, 24, buf, 16), VNV_ERR_IO);
    CHECK_EQ(errno, EDOM); /* preserved for the interrupted code */

    CHECK_EQ(vnv_file_close(&f), VNV_OK);
    CHECK_EQ(f.fd, -1);
    CHECK_EQ(vnv_file_close(&f), VNV_ERR_INVAL);
    /* The storage still points at the closed file. */
    CHECK_EQ(s.read(s.ctx, 0, buf, 4), VNV_ERR_IO);
    CHECK_EQ(s.write(s.ctx, 0, buf, 4), VNV_ERR_IO);
    const struct vnv_iovec iov[] = {{buf, 2}, {buf, 2}};
    CHECK_EQ(s.writev(s.ctx, 0, iov, 2), VNV_ERR_IO);
    CHECK_EQ(s.sync(s.ctx), VNV_ERR_IO);

    /* An fd number that is not open. */
    f.fd = 1000000;
    CHECK_EQ(s.read(s.ctx, 0, buf, 4), VNV_ERR_IO);
    CHECK_EQ(s.write(s.ctx, 0, buf, 4), VNV_ERR_IO);
    f.fd = -1;
    CHECK_EQ(unlink(p), 0);
}

/* The lowest free descriptor number: unchanged at the end means no descriptor leaked. */
static int lowest_free_fd(void)
{
    int fd = dup(2);
    if (fd >= 0)
        close(fd);
    return fd;
}

int main(void)
{
    int fd_before = lowest_free_fd();
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_chunks_round_trip);
    RUN(test_struct_at_offset);
    RUN(test_writev);
    RUN(test_reopen_and_truncate);
    RUN(test_one_user_per_file);
    RUN(test_a_write_cut_short);
    RUN(test_open_errors);
    RUN(test_create_in_any_directory);
    RUN(test_range_and_bad_fd);

    vtest_current = "main";
    CHECK_EQ(lowest_free_fd(), fd_before);

    const char *names[] = {"chunks", "struct", "writev", "reopen", "range", "missing", "x"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unlink(path_of(names[i])); /* most are gone already; ENOENT is fine */
    if (rmdir(dir) != 0)
        perror("rmdir");
    return vtest_summary();
}
