/*
 * power_demo.c - power failures on the desktop: the demo behind `make demo`.
 *
 *   power_demo [--mode restart|resume] [--seconds N] [--restarts N] [--interval-ms N]
 *              [--min-ms N] [--kill-percent N] [--seed N] [--dir PATH]
 *
 * A parent process plays the power supply; a child process is the device. The device's
 * power-failure interrupt is SIGUSR1, whose handler calls vnv_persist_all(): the heap
 * writes a checkpoint of at most vnv_persist_bound() bytes to its storage file and then
 * calls the persist-finished callback, where firmware would wait for the power to go.
 *
 * --mode restart (default): "survive resets". The device is a sensor logger. Each time
 *   it starts it opens its heap on the storage file, finds its log through the root
 *   handle, verifies every reading the log keeps, and then appends readings until the
 *   power fails: the callback reports the number of readings the checkpoint holds and
 *   calls _exit(0), so nothing after the checkpoint runs. The parent waits a random
 *   --min-ms..--interval-ms (default 5..50 ms) before each power failure, starts the
 *   device again, and checks that every start finds exactly the readings of the previous
 *   checkpoint. The log is a ring of the newest 64 chunks of 16 readings (the logger
 *   appends ~100000 readings a second; an unbounded log would fill the storage within a
 *   second). At the end the parent opens the log itself, verifies it once more and checks
 *   that no storage leaked.
 *   --kill-percent of the failures (default 50) are unannounced: SIGKILL at whatever
 *   instruction the logger is, with no checkpoint (a watchdog reset, a fault, a brown-out
 *   the comparator missed). The logger also checkpoints every 300 readings by itself, as a
 *   device without a power-fail interrupt calls vnv_checkpoint at its commit points; after
 *   an unannounced failure the next start must find exactly the last completed commit.
 *
 * --mode resume: "core heap". One long-running device; the parent sends a power failure
 *   every --interval-ms (default 20 ms). The callback zero-fills the RAM buffer (the RAM
 *   content is lost) and returns 1, so the heap rebuilds it from the checkpoint at the
 *   same addresses and the interrupted code continues. The device runs a random workload
 *   over ~100 objects, some of them held pinned across failures, and compares every value
 *   it reads with a shadow copy kept in ordinary memory.
 *
 * Either mode ends with the line "OK: survived N power failures, 0 lost" and exit
 * status 0, or with a description of the first discrepancy and a non-zero exit status.
 * The storage file lives in --dir (default: a fresh temporary directory, removed at the
 * end). In restart mode an existing log file in --dir is verified and continued.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vnvheap.h"
#include "vnvheap/storage_file.h"

/* ======================================================================================
 * Shared helpers: options, random numbers, time, the report pipe
 * ====================================================================================== */

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define PRINTF_LIKE(fmt, first)
#endif

enum mode { MODE_RESTART, MODE_RESUME };

struct options {
    enum mode mode;
    unsigned seconds;     /* 0 = mode default */
    unsigned restarts;    /* restart mode: stop after this many (0 = run for --seconds) */
    unsigned interval_ms; /* resume: signal period; restart: longest run before failure */
    unsigned min_ms;      /* restart: shortest run before failure */
    int min_ms_set;       /* --min-ms given (0 included) */
    unsigned kill_pct;    /* restart: share of failures that no interrupt announces */
    uint64_t seed;
    const char *dir; /* NULL = fresh temporary directory */
};

/* splitmix64: small, fast and good enough for workloads and delays. */
struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(rng_next(r) % n);
}

static void rng_fill(struct rng *r, uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next(r);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Child -> parent reports: fixed-size records, smaller than PIPE_BUF, so each write(2) is
 * atomic. write(2) is async-signal-safe: the persist callback may send one. */
enum msg_type {
    MSG_PROGRESS = 1, MSG_RESULT, MSG_STATS, MSG_BOOT, MSG_CKPT, MSG_FAIL,
    MSG_COMMIT_START, MSG_COMMIT_DONE /* restart mode: the logger's own checkpoints */
};

struct msg {
    uint32_t type;
    int32_t status;
    uint64_t v[5];
};

static int report_fd = -1;

/* Async-signal-safe (write only); errno preserved; a full pipe drops the record. */
static void report(uint32_t type, int32_t status, uint64_t v0, uint64_t v1, uint64_t v2,
                   uint64_t v3, uint64_t v4)
{
    int saved = errno;
    struct msg m = {type, status, {v0, v1, v2, v3, v4}};
    ssize_t r;
    do
        r = write(report_fd, &m, sizeof m);
    while (r < 0 && errno == EINTR);
    errno = saved;
}

/* Parent side: read one record if a whole one is there. 1 = got one, 0 = none/EOF. */
static int read_msg(int fd, struct msg *m)
{
    ssize_t r;
    do
        r = read(fd, m, sizeof *m);
    while (r < 0 && errno == EINTR);
    return r == (ssize_t)sizeof *m;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void block_usr1(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(how, &set, NULL);
}

static void install(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* the interrupted system calls just go on */
    sigaction(sig, &sa, NULL);
}

/* The power-failure interrupt, for both modes: checkpoint every heap. vnv_persist_all is
 * designed for this context; if the heap is inside a critical section it defers the
 * checkpoint to the end of that section. Only async-signal-safe work happens here. */
static volatile sig_atomic_t persist_all_err; /* first error vnv_persist_all returned */
static volatile sig_atomic_t power_failing;   /* the interrupt has fired */

static void on_power_fail(int sig)
{
    (void)sig;
    int saved = errno;
    power_failing = 1;
    int err = vnv_persist_all(); /* >= 0: written, or deferred to a section's end */
    if (err < 0 && !persist_all_err)
        persist_all_err = err;
    errno = saved;
}

/* Wait for `pid` at most `timeout_ns`; 1 = exited (*status set), 0 = still running. */
static int wait_child(pid_t pid, int *status, uint64_t timeout_ns)
{
    uint64_t until = now_ns() + timeout_ns;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* no such child: nothing to wait for */
        if (now_ns() >= until)
            return 0;
        sleep_ns(200000); /* 0.2 ms */
    }
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "wait status 0x%x", (unsigned)status);
}

/* Progress on stderr: on a terminal one line redrawn with \r, else one line each time. */
static int tty;       /* stderr is a terminal */
static int line_open; /* a progress line without its newline is on the terminal */

PRINTF_LIKE(1, 2) static void progress(const char *fmt, ...)
{
    static char last[160];
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!strcmp(line, last))
        return; /* nothing new */
    memcpy(last, line, sizeof last);
    fprintf(stderr, "%s%s%s", tty ? "\r" : "", line, tty ? "" : "\n");
    line_open = tty;
    fflush(stderr);
}

static void progress_end(void)
{
    if (line_open)
        fputc('\n', stderr);
    line_open = 0;
}

/* The driver's verdict on a failure: one "FAILED: ..." line. Returns 1 (exit status). */
PRINTF_LIKE(1, 2) static int failed(const char *fmt, ...)
{
    progress_end();
    va_list ap;
    va_start(ap, fmt);
    fputs("FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* A child's first line of diagnostics: leave the parent's progress line first. */
static void child_newline(void)
{
    if (tty)
        fputc('\n', stderr);
}

static unsigned progress_pct(uint64_t done, uint64_t total)
{
    return total ? (unsigned)(done * 100u / total > 100u ? 100u : done * 100u / total) : 0;
}

/* ======================================================================================
 * Resume mode: one device, power failures with RAM loss, execution resumes
 * ====================================================================================== */

#define R_OBJS 100
#define R_MIN_SIZE 4
#define R_MAX_SIZE 64
#define R_RAM 2048
#define R_MAX_DIRTY 1500
#define R_STORAGE (32u * 1024u)
#define R_HOLD_READERS 3 /* objects read-pinned during a hold phase */
#define R_HOLD_WRITERS 2 /* objects write-pinned during a hold phase */

static _Alignas(8) uint8_t r_ram[R_RAM];
static struct vnv_heap r_heap;
static volatile uint64_t r_persists;        /* persist-finished callbacks = power failures */
static volatile sig_atomic_t r_persist_status; /* first failed checkpoint status, 0 = none */
static volatile sig_atomic_t r_stop;        /* SIGTERM: finish and report */

/* The persist-finished callback. Runs inside the SIGUSR1 handler (or at the end of a
 * critical section the signal interrupted): async-signal-safe code only. */
static int r_on_persist(void *user, int status, void *buf, size_t len)
{
    (void)user;
    r_persists++;
    if (status < 0 && !r_persist_status)
        r_persist_status = status;
    memset(buf, 0, len); /* the power failed: RAM content is gone (memset is AS-safe) */
    return 1;            /* tell the heap: rebuild the buffer from the checkpoint */
}

static void r_on_term(int sig)
{
    (void)sig;
    r_stop = 1;
}

/* One object of the workload and its shadow copy. */
struct r_obj {
    vnv_obj_t h;
    uint32_t size;
    uint8_t val[R_MAX_SIZE]; /* what the heap must hold */
    int readers;             /* read pins this program holds across operations */
    int writer;              /* 1: write pin held across operations */
    const uint8_t *rp;       /* pointer of the held read pins */
    uint8_t *wp;             /* pointer of the held write pin */
};

struct r_state {
    struct r_obj o[R_OBJS];
    struct rng rng;
    uint64_t ops, reads, writes, frees, holds, checks;
};

PRINTF_LIKE(3, 4) static _Noreturn void r_fail(struct r_state *s, int idx, const char *fmt, ...)
{
    block_usr1(SIG_BLOCK); /* no more power failures while we explain */
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    child_newline();
    fprintf(stderr, "worker: FAILED after %" PRIu64 " operations and %" PRIu64
                    " power failures: %s\n",
            s->ops, (uint64_t)r_persists, text);
    if (idx >= 0) {
        const struct r_obj *o = &s->o[idx];
        fprintf(stderr, "worker: object %d, handle 0x%" PRIx64 ", %" PRIu32
                        " bytes, pins held: %d read, %d write\n",
                idx, o->h.id, o->size, o->readers, o->writer);
    }
    struct vnv_stats st;
    int err = vnv_stats(&r_heap, &st);
    if (err)
        fprintf(stderr, "worker: the heap is no longer usable (vnv_stats: %s)\n",
                vnv_strerror(err));
    else
        fprintf(stderr, "worker: heap: %" PRIu32 " resident, %" PRIu32 " checkpoints, %" PRIu32
                        " restores, %" PRIu32 " deferred, checkpoint bytes %" PRIu32 "\n",
                st.resident_objects, st.persists, st.restores, st.deferred, st.checkpoint_bytes);
    if (r_persist_status || persist_all_err)
        fprintf(stderr, "worker: checkpoint status %s, vnv_persist_all %s\n",
                vnv_strerror(r_persist_status), vnv_strerror(persist_all_err));
    report(MSG_FAIL, -1, s->ops, r_persists, 0, 0, 0);
    exit(1);
}

/* Compare what the heap hands out with the shadow copy. */
static void r_compare(struct r_state *s, int i, const uint8_t *p, const char *what)
{
    const struct r_obj *o = &s->o[i];
    if (memcmp(p, o->val, o->size) == 0)
        return;
    uint32_t at = 0;
    while (at < o->size && p[at] == o->val[at])
        at++;
    char exp[3 * R_MAX_SIZE + 1], got[3 * R_MAX_SIZE + 1];
    for (uint32_t k = 0; k < o->size; k++) {
        snprintf(exp + 3 * k, 4, "%02x ", o->val[k]);
        snprintf(got + 3 * k, 4, "%02x ", p[k]);
    }
    child_newline();
    fprintf(stderr, "worker: MISMATCH (%s) at byte %" PRIu32 "\n  expected %s\n  got      %s\n",
            what, at, exp, got);
    r_fail(s, i, "value read back differs from the shadow copy");
}

static void r_check_err(struct r_state *s, int i, int err, const char *what)
{
    if (err != VNV_OK)
        r_fail(s, i, "%s returned %s", what, vnv_strerror(err));
}

/* Read: get + compare + release (or compare through a pin we already hold). */
static void r_read(struct r_state *s, int i)
{
    struct r_obj *o = &s->o[i];
    s->reads++;
    if (o->writer) {
        r_compare(s, i, o->wp, "read through held write pin");
        return;
    }
    const void *p;
    r_check_err(s, i, vnv_get(&r_heap, o->h, &p), "vnv_get");
    if (o->readers && p != o->rp)
        r_fail(s, i, "a second reader got another address");
    r_compare(s, i, p, "vnv_get");
    r_check_err(s, i, vnv_release(&r_heap, o->h), "vnv_release");
}

/* Write: get_mut + compare, then (if `modify`) new random bytes. */
static void r_write(struct r_state *s, int i, int modify)
{
    struct r_obj *o = &s->o[i];
    s->writes++;
    if (o->writer) {
        r_compare(s, i, o->wp, "held write pin");
        if (modify) {
            rng_fill(&s->rng, o->val, o->size);
            memcpy(o->wp, o->val, o->size);
        }
        return;
    }
    void *p;
    int err = vnv_get_mut(&r_heap, o->h, &p);
    if (o->readers) { /* we hold read pins: the contract says BUSY */
        if (err != VNV_ERR_BUSY)
            r_fail(s, i, "vnv_get_mut on a read-pinned object returned %s, not BUSY",
                   vnv_strerror(err));
        r_compare(s, i, o->rp, "held read pin");
        return;
    }
    r_check_err(s, i, err, "vnv_get_mut");
    r_compare(s, i, p, "vnv_get_mut");
    if (modify) {
        rng_fill(&s->rng, o->val, o->size);
        memcpy(p, o->val, o->size);
    }
    r_check_err(s, i, vnv_release(&r_heap, o->h), "vnv_release");
}

/* Free an object and allocate a new one of another size in its place. */
static void r_realloc(struct r_state *s, int i)
{
    struct r_obj *o = &s->o[i];
    if (o->readers || o->writer)
        return;
    r_check_err(s, i, vnv_free(&r_heap, o->h), "vnv_free");
    const void *p;
    int err = vnv_get(&r_heap, o->h, &p);
    if (err != VNV_ERR_INVAL)
        r_fail(s, i, "vnv_get of a freed handle returned %s, not INVAL", vnv_strerror(err));
    o->size = R_MIN_SIZE + rng_below(&s->rng, R_MAX_SIZE - R_MIN_SIZE + 1);
    rng_fill(&s->rng, o->val, o->size);
    r_check_err(s, i, vnv_alloc(&r_heap, o->size, o->val, &o->h), "vnv_alloc");
    s->frees++;
}

/* Compare everything we hold pinned. */
static void r_check_held(struct r_state *s)
{
    for (int i = 0; i < R_OBJS; i++) {
        if (s->o[i].writer)
            r_compare(s, i, s->o[i].wp, "held write pin");
        else if (s->o[i].readers)
            r_compare(s, i, s->o[i].rp, "held read pin");
    }
}

/* Start a hold phase: pin a few objects for reading and a few for writing, and keep the
 * pins across the following operations (and therefore across power failures). */
static void r_hold(struct r_state *s)
{
    for (int k = 0; k < R_HOLD_READERS + R_HOLD_WRITERS; k++) {
        int i = (int)rng_below(&s->rng, R_OBJS);
        struct r_obj *o = &s->o[i];
        if (o->readers || o->writer)
            continue; /* already held: hold fewer this time */
        if (k < R_HOLD_READERS) {
            int pins = 1 + (int)rng_below(&s->rng, 2);
            for (int n = 0; n < pins; n++) {
                const void *p;
                r_check_err(s, i, vnv_get(&r_heap, o->h, &p), "vnv_get (hold)");
                if (n && p != o->rp)
                    r_fail(s, i, "a second reader got another address");
                o->rp = p;
                o->readers++;
            }
            r_compare(s, i, o->rp, "vnv_get (hold)");
        } else {
            void *p;
            r_check_err(s, i, vnv_get_mut(&r_heap, o->h, &p), "vnv_get_mut (hold)");
            o->wp = p;
            o->writer = 1;
            r_compare(s, i, o->wp, "vnv_get_mut (hold)");
        }
    }
    s->holds++;
}

/* End a hold phase: check each held object one last time and release its pins. */
static void r_unhold(struct r_state *s)
{
    for (int i = 0; i < R_OBJS; i++) {
        struct r_obj *o = &s->o[i];
        if (o->writer) {
            r_compare(s, i, o->wp, "held write pin, at release");
            r_check_err(s, i, vnv_release(&r_heap, o->h), "vnv_release (hold)");
            o->writer = 0;
            o->wp = NULL;
        }
        for (; o->readers; o->readers--) {
            r_compare(s, i, o->rp, "held read pin, at release");
            r_check_err(s, i, vnv_release(&r_heap, o->h), "vnv_release (hold)");
        }
        o->rp = NULL;
    }
}

/* Budget invariant and full consistency check (vnv_check reads storage: not too often). */
static void r_invariants(struct r_state *s, int full)
{
    struct vnv_stats st;
    r_check_err(s, -1, vnv_stats(&r_heap, &st), "vnv_stats");
    if (st.checkpoint_bytes > R_MAX_DIRTY || st.peak_checkpoint_bytes > R_MAX_DIRTY)
        r_fail(s, -1, "checkpoint bytes %" PRIu32 " (peak %" PRIu32 ") above max_dirty %d",
               st.checkpoint_bytes, st.peak_checkpoint_bytes, R_MAX_DIRTY);
    if (full) {
        r_check_err(s, -1, vnv_check(&r_heap), "vnv_check");
        s->checks++;
    }
    if (r_persist_status)
        r_fail(s, -1, "a checkpoint failed: %s", vnv_strerror(r_persist_status));
    if (persist_all_err)
        r_fail(s, -1, "vnv_persist_all failed: %s", vnv_strerror(persist_all_err));
}

static int resume_worker(const struct options *opt, const char *path)
{
    static struct r_state s; /* static: large, and zero-initialised */
    s.rng.s = opt->seed;
    install(SIGUSR1, on_power_fail);
    install(SIGTERM, r_on_term);

    /* Storage file and heap. SIGUSR1 is still blocked (inherited from the parent). */
    static struct vnv_file file;
    static struct vnv_storage storage;
    r_check_err(&s, -1, vnv_file_open(&file, path, R_STORAGE, VNV_FILE_CREATE | VNV_FILE_TRUNCATE),
                "vnv_file_open");
    vnv_file_storage(&file, &storage);
    struct vnv_config cfg = {
        .storage = &storage,
        .buffer = r_ram,
        .buffer_size = sizeof r_ram,
        .max_dirty_bytes = R_MAX_DIRTY,
        .on_persist = r_on_persist,
    };
    r_check_err(&s, -1, vnv_format(&r_heap, &cfg), "vnv_format");
    for (int i = 0; i < R_OBJS; i++) {
        struct r_obj *o = &s.o[i];
        o->size = R_MIN_SIZE + rng_below(&s.rng, R_MAX_SIZE - R_MIN_SIZE + 1);
        rng_fill(&s.rng, o->val, o->size);
        r_check_err(&s, i, vnv_alloc(&r_heap, o->size, o->val, &o->h), "vnv_alloc");
    }
    block_usr1(SIG_UNBLOCK); /* power failures from now on */

    /* Hold phases and free phases alternate, counted in power failures. */
    int holding = 0;
    uint64_t phase_end = 1, last_report = 0;
    while (!r_stop) {
        int i = (int)rng_below(&s.rng, R_OBJS);
        uint32_t op = rng_below(&s.rng, 100);
        if (op < 80)
            r_read(&s, i);
        else if (op < 90)
            r_write(&s, i, 1);
        else
            r_write(&s, i, 0);
        if (rng_below(&s.rng, 1000) == 0)
            r_realloc(&s, (int)rng_below(&s.rng, R_OBJS));
        s.ops++;
        if ((s.ops & 255u) == 0) {
            uint64_t p = r_persists;
            if (holding)
                r_check_held(&s);
            if (p >= phase_end) { /* switch phase: hold for 2..5 failures, then 1..3 free */
                if (holding)
                    r_unhold(&s);
                else
                    r_hold(&s);
                holding = !holding;
                phase_end = p + (holding ? 2 + rng_below(&s.rng, 4) : 1 + rng_below(&s.rng, 3));
            }
            r_invariants(&s, (s.ops & 0x3FFFu) == 0);
            if (p != last_report) {
                report(MSG_PROGRESS, 0, p, s.ops, 0, 0, 0);
                last_report = p;
            }
        }
    }

    /* Stop: no more failures; release every pin, read everything once more, close. */
    block_usr1(SIG_BLOCK);
    r_unhold(&s);
    for (int i = 0; i < R_OBJS; i++)
        r_read(&s, i);
    r_invariants(&s, 1);
    struct vnv_stats st;
    r_check_err(&s, -1, vnv_stats(&r_heap, &st), "vnv_stats");
    r_check_err(&s, -1, vnv_close(&r_heap), "vnv_close");
    vnv_file_close(&file);
    /* Every callback is one persist round: it either wrote a checkpoint, or wrote nothing
     * because a request arrived during the previous round's callback or restore (storage
     * already held that state); and each restored the wiped buffer. The one other
     * checkpoint before this snapshot is vnv_format's (close writes after it). */
    if (st.callbacks != r_persists || st.restores != r_persists ||
        st.persist_errors != 0 ||
        st.persists != st.callbacks - st.rounds_unwritten + 1u)
        r_fail(&s, -1,
               "%" PRIu64 " callbacks seen, heap counted %" PRIu32 " callbacks, %" PRIu32
               " checkpoints written (%" PRIu32 " rounds wrote nothing, %" PRIu32
               " failed) and %" PRIu32 " restores",
               (uint64_t)r_persists, st.callbacks, st.persists, st.rounds_unwritten,
               st.persist_errors, st.restores);
    report(MSG_RESULT, 0, r_persists, s.ops, s.holds, s.frees, 0);
    report(MSG_STATS, 0, st.deferred, s.checks, st.loads, st.evictions, 0);
    return 0;
}

static int run_resume(const struct options *opt, const char *path)
{
    unsigned seconds = opt->seconds ? opt->seconds : 10;
    unsigned interval = opt->interval_ms ? opt->interval_ms : 20;
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    block_usr1(SIG_BLOCK); /* the child starts with the power-fail interrupt masked */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        report_fd = fds[1];
        set_nonblock(report_fd); /* progress records are dropped rather than block */
        _exit(resume_worker(opt, path));
    }
    close(fds[1]);
    set_nonblock(fds[0]);

    fprintf(stderr, "resume mode: %u s, a power failure every %u ms, RAM %d B, "
                    "max_dirty %d B, %d objects\n",
            seconds, interval, R_RAM, R_MAX_DIRTY, R_OBJS);
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000u;
    uint64_t next_sig = t0 + (uint64_t)interval * 1000000u, next_progress = t0 + 1000000000u;
    uint64_t persists = 0, sent = 0;
    struct msg m;
    int status = 0, exited = 0;
    while (now_ns() < end) {
        uint64_t t = now_ns();
        if (next_sig > t)
            sleep_ns(next_sig - t);
        next_sig += (uint64_t)interval * 1000000u;
        if (kill(pid, SIGUSR1) == 0)
            sent++;
        while (read_msg(fds[0], &m))
            if (m.type == MSG_PROGRESS)
                persists = m.v[0];
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        if (now_ns() >= next_progress) {
            progress("[%3u%%] %" PRIu64 " power failures, 0 lost",
                     progress_pct(now_ns() - t0, end - t0), persists);
            next_progress += 1000000000u;
        }
    }
    if (!exited) {
        kill(pid, SIGTERM);
        if (!wait_child(pid, &status, 20000000000u)) {
            kill(pid, SIGKILL);
            wait_child(pid, &status, 5000000000u);
            return failed("the worker did not stop within 20 s of SIGTERM");
        }
    }
    uint64_t result[4] = {0, 0, 0, 0}, extra[4] = {0, 0, 0, 0};
    int got_result = 0;
    set_nonblock(fds[0]);
    while (read_msg(fds[0], &m)) {
        if (m.type == MSG_RESULT) {
            memcpy(result, m.v, sizeof result);
            got_result = 1;
        } else if (m.type == MSG_STATS) {
            memcpy(extra, m.v, sizeof extra);
        }
    }
    close(fds[0]);
    double secs = (double)(now_ns() - t0) / 1e9;
    if (exited || !got_result || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[64];
        describe_exit(status, how, sizeof how);
        return failed("the worker %s (%s) after about %" PRIu64 " power failures",
                      exited ? "stopped early" : "did not finish cleanly", how, persists);
    }
    if (result[0] == 0)
        return failed("no checkpoint was taken: the power-failure signal never arrived");
    progress("[100%%] %" PRIu64 " power failures, 0 lost", result[0]);
    progress_end();
    fprintf(stderr, "%.1f s: %" PRIu64 " signals sent, %" PRIu64 " checkpoints (%" PRIu64
                    " deferred), %" PRIu64 " operations, %" PRIu64 " hold phases, %" PRIu64
                    " re-allocations, %" PRIu64 " vnv_check runs\n",
            secs, sent, result[0], extra[0], result[1], result[2], result[3], extra[1]);
    printf("OK: survived %" PRIu64 " power failures, 0 lost\n", result[0]);
    return 0;
}

/* ======================================================================================
 * Restart mode: a sensor logger that loses everything but its storage at each failure
 * ====================================================================================== */

#define L_PER_CHUNK 16
#define L_MAX_CHUNKS 64 /* the log keeps the newest 64 x 16 readings (a ring) */
#define L_RAM 2048
#define L_MAX_DIRTY 1024
#define L_STORAGE (64u * 1024u)
#define L_MAGIC 0x474F4C56u /* "VLOG" */
#define L_COMMIT_EVERY 300 /* readings between the logger's own checkpoints (~3 ms) */

/* The root object. */
struct log_header {
    uint32_t magic;
    uint32_t seed;   /* of the reading function f */
    uint32_t count;  /* readings 0 .. count-1 were appended */
    uint32_t first;  /* the oldest kept reading (a multiple of L_PER_CHUNK) */
    uint32_t chunks; /* chunks in the list */
    vnv_obj_t cur;   /* newest chunk (VNV_NULL while count == 0) */
};

/* Readings base .. base+15, linked to the chunk of the previous 16. */
struct log_chunk {
    uint32_t base;
    vnv_obj_t prev;
    uint32_t val[L_PER_CHUNK];
};

/* The value of reading i: deterministic, never 0. */
static uint32_t reading(uint32_t seed, uint32_t i)
{
    struct rng r = {(uint64_t)seed << 32 | i};
    return (uint32_t)rng_next(&r) | 1u;
}

static _Alignas(8) uint8_t l_ram[L_RAM];
static struct vnv_heap l_heap;
static struct vnv_file l_file;
static struct vnv_storage l_storage;
/* The header, write-pinned for the whole run: its RAM copy is exactly what a checkpoint
 * writes, so the persist callback can read the committed count from it. */
static volatile struct log_header *l_hdr;
static vnv_obj_t l_hobj; /* its handle */
/* While a group is open: the count before it (what a restart from a checkpoint taken inside
 * the group will find). */
static volatile uint32_t l_group_count;

static void l_config(struct vnv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->storage = &l_storage;
    cfg->buffer = l_ram;
    cfg->buffer_size = sizeof l_ram;
    cfg->max_dirty_bytes = L_MAX_DIRTY;
}

/* The persist-finished callback: the checkpoint is durable, now the power goes. Runs in
 * the SIGUSR1 handler (or where a deferred checkpoint completes): write(2) and _exit(2)
 * only. Nothing after the checkpoint runs, exactly as on a device losing power. */
static int l_on_persist(void *user, int status, void *buf, size_t len)
{
    (void)user;
    (void)buf;
    (void)len;
    if (!power_failing)
        return 0; /* the logger's own checkpoint (a commit point): RAM is intact, go on */
    /* inside a group the restart rolls it back: report the count from before it */
    uint64_t count = vnv_atomic_depth(&l_heap) ? l_group_count
                     : l_hdr ? l_hdr->count : UINT64_MAX;
    report(MSG_CKPT, status, count, 0, 0, 0, 0);
    _exit(status == VNV_OK ? 0 : 3);
}

/* Walk the log from the newest chunk and check every reading. Returns 0 or an error text
 * in `why`. */
static int log_verify(struct vnv_heap *h, const struct log_header *hd, char *why, size_t wlen)
{
    if (hd->magic != L_MAGIC || hd->first % L_PER_CHUNK || hd->first > hd->count ||
        hd->chunks > L_MAX_CHUNKS + 1u) {
        snprintf(why, wlen, "bad log header (count %" PRIu32 ", first %" PRIu32
                            ", chunks %" PRIu32 ")", hd->count, hd->first, hd->chunks);
        return 1;
    }
    uint32_t expect_chunks = (hd->count - hd->first + L_PER_CHUNK - 1u) / L_PER_CHUNK;
    if (hd->chunks != expect_chunks || vnv_is_null(hd->cur) != (hd->chunks == 0)) {
        snprintf(why, wlen, "header says %" PRIu32 " chunks, readings %" PRIu32 "..%" PRIu32
                            " need %" PRIu32, hd->chunks, hd->first, hd->count, expect_chunks);
        return 1;
    }
    vnv_obj_t c = hd->cur;
    for (uint32_t n = 0; n < hd->chunks; n++) {
        uint32_t base = hd->first + (hd->chunks - 1u - n) * L_PER_CHUNK;
        const void *p;
        int err = vnv_get(h, c, &p);
        if (err) {
            snprintf(why, wlen, "chunk of readings %" PRIu32 "..: vnv_get: %s", base,
                     vnv_strerror(err));
            return 1;
        }
        const struct log_chunk *ch = p;
        int bad = ch->base != base;
        for (uint32_t j = 0; j < L_PER_CHUNK && !bad; j++) {
            uint32_t i = base + j, want = reading(hd->seed, i);
            /* readings past the count may hold the value of an append the power cut */
            if (i < hd->count ? ch->val[j] != want : ch->val[j] != 0 && ch->val[j] != want) {
                snprintf(why, wlen, "reading %" PRIu32 " is 0x%08" PRIx32 ", expected 0x%08" PRIx32,
                         i, ch->val[j], want);
                bad = 2;
            }
        }
        if (bad == 1)
            snprintf(why, wlen, "chunk %" PRIu32 " from the newest holds readings %" PRIu32
                                ".., expected %" PRIu32 "..", n, ch->base, base);
        vnv_obj_t prev = ch->prev;
        vnv_release(h, c);
        if (bad)
            return 1;
        if (n + 1u == hd->chunks && !vnv_is_null(prev)) {
            snprintf(why, wlen, "the oldest chunk still links to another");
            return 1;
        }
        c = prev;
    }
    return 0;
}

/* Report a failure of the logger and stop (normal context only). */
static _Noreturn void l_die(const char *what, int err)
{
    block_usr1(SIG_BLOCK);
    child_newline();
    fprintf(stderr, "logger: %s: %s\n", what, err ? vnv_strerror(err) : "failed");
    report(MSG_FAIL, err, 0, 0, 0, 0, 0);
    _exit(2);
}

/* Drop the oldest chunk once the ring is full: unlink it from the second oldest, free it. */
static void l_drop_oldest(volatile struct log_header *hd)
{
    vnv_obj_t c = hd->cur, older = VNV_NULL;
    for (uint32_t n = 0; n + 2u < hd->chunks; n++) { /* to the second oldest */
        const void *p;
        int err = vnv_get(&l_heap, c, &p);
        if (err)
            l_die("walking the log", err);
        vnv_obj_t prev = ((const struct log_chunk *)p)->prev;
        vnv_release(&l_heap, c);
        c = prev;
    }
    void *p;
    int err = vnv_get_mut(&l_heap, c, &p);
    if (err)
        l_die("unlinking the oldest chunk", err);
    older = ((struct log_chunk *)p)->prev;
    ((struct log_chunk *)p)->prev = VNV_NULL;
    vnv_release(&l_heap, c);
    err = vnv_free(&l_heap, older);
    if (err)
        l_die("freeing the oldest chunk", err);
    hd->first += L_PER_CHUNK;
    hd->chunks--;
}

/* Append reading hd->count. */
static void l_append(volatile struct log_header *hd)
{
    uint32_t i = hd->count, v = reading(hd->seed, i);
    if (i % L_PER_CHUNK == 0) {
        /* A new chunk changes several objects together (new chunk, header, maybe the ring's
         * tail): a failure-atomic group, so a restart finds all of it or none (a checkpoint
         * requested inside is served at once; a restart rolls the group back). The
         * header's writer pin is taken inside the group, so that its changes are the
         * group's. */
        l_group_count = i; /* a checkpoint from here on restarts with the count before */
        atomic_signal_fence(memory_order_seq_cst);
        vnv_release(&l_heap, l_hobj);
        int err = vnv_atomic_begin(&l_heap);
        void *hp;
        if (!err)
            err = vnv_get_mut(&l_heap, l_hobj, &hp);
        if (err)
            l_die("starting a group", err);
        l_hdr = hd = hp;
        struct log_chunk nc;
        memset(&nc, 0, sizeof nc);
        nc.base = i;
        nc.prev = hd->cur;
        nc.val[0] = v;
        vnv_obj_t n;
        err = vnv_alloc(&l_heap, sizeof nc, &nc, &n);
        if (err)
            l_die("allocating a chunk", err);
        hd->cur = n;
        hd->chunks++;
        hd->count = i + 1u;
        if (hd->chunks > L_MAX_CHUNKS)
            l_drop_oldest(hd);
        err = vnv_atomic_end(&l_heap);
        if (err)
            l_die("ending a group", err);
        return;
    }
    /* The common case needs no masking: the reading lands in the chunk first, the count
     * follows; a failure in between checkpoints the old count and the next start simply
     * writes the same reading again. */
    void *p;
    int err = vnv_get_mut(&l_heap, hd->cur, &p);
    if (err)
        l_die("writing a reading", err);
    ((struct log_chunk *)p)->val[i % L_PER_CHUNK] = v;
    vnv_release(&l_heap, hd->cur);
    atomic_signal_fence(memory_order_seq_cst);
    hd->count = i + 1u;
}

/* Open the heap on `path` (format it if the file is new) and find or create the header.
 * Used by the logger at every start and by the driver for its final check. */
static int l_boot(const char *path, uint32_t seed, vnv_persist_cb cb, vnv_obj_t *hobj,
                  int *created)
{
    struct stat sb;
    int fresh = stat(path, &sb) != 0;
    int err = vnv_file_open(&l_file, path, L_STORAGE, VNV_FILE_CREATE);
    if (err)
        return err;
    vnv_file_storage(&l_file, &l_storage);
    struct vnv_config cfg;
    l_config(&cfg);
    cfg.on_persist = cb;
    memset(l_ram, 0x5A, sizeof l_ram); /* RAM holds garbage after a reset */
    /* The boot pattern: format only a device that holds no heap (a new file, or a power
     * cut during the very first format); anything else is the heap to keep. */
    err = fresh ? VNV_ERR_NOHEAP : vnv_open(&l_heap, &cfg);
    if (err == VNV_ERR_NOHEAP)
        err = vnv_format(&l_heap, &cfg);
    if (err)
        return err;
    err = vnv_check(&l_heap);
    if (err)
        return err;
    err = vnv_root(&l_heap, hobj);
    *created = 0;
    if (!err && vnv_is_null(*hobj)) {
        struct log_header hd0 = {L_MAGIC, seed, 0, 0, 0, VNV_NULL};
        err = vnv_alloc(&l_heap, sizeof hd0, &hd0, hobj);
        if (!err)
            err = vnv_set_root(&l_heap, *hobj);
        *created = 1;
    }
    return err;
}

/* The device program of restart mode. Never returns: it ends in the persist callback. */
static void logger(const char *path, uint32_t seed)
{
    install(SIGUSR1, on_power_fail); /* still blocked: inherited mask */
    vnv_obj_t hobj;
    int created;
    int err = l_boot(path, seed, l_on_persist, &hobj, &created);
    if (err)
        l_die("opening the heap", err);
    const void *cp;
    err = vnv_get(&l_heap, hobj, &cp);
    if (err)
        l_die("reading the log header", err);
    struct log_header hd = *(const struct log_header *)cp;
    vnv_release(&l_heap, hobj);
    char why[160];
    if (log_verify(&l_heap, &hd, why, sizeof why)) {
        child_newline();
        fprintf(stderr, "logger: log verification failed: %s\n", why);
        report(MSG_FAIL, VNV_ERR_CORRUPT, hd.count, 0, 0, 0, 0);
        _exit(2);
    }
    report(MSG_BOOT, created, hd.count, hd.first, hd.chunks, hd.count - hd.first, 0);

    void *p;
    err = vnv_get_mut(&l_heap, hobj, &p); /* pinned until the power fails */
    if (err)
        l_die("pinning the log header", err);
    l_hdr = p;
    l_hobj = hobj;
    block_usr1(SIG_UNBLOCK); /* boot is done: the power may fail from now on */
    for (uint32_t n = 1;; n++) {
        l_append(l_hdr);
        if (n % L_COMMIT_EVERY == 0) {
            /* A commit point, as a device with no power-fail interrupt would have (a
             * watchdog reset can come at any instruction): after a reset the log holds
             * exactly the readings of the last completed one. The driver is told before
             * and after, so it knows which counts a restart may find. */
            uint32_t c = l_hdr->count;
            report(MSG_COMMIT_START, 0, c, 0, 0, 0, 0);
            err = vnv_checkpoint(&l_heap);
            if (err)
                l_die("checkpoint at a commit point", err);
            report(MSG_COMMIT_DONE, 0, c, 0, 0, 0, 0);
        }
    }
}

/* How many more chunks fit on the storage of the open heap: allocate until it is full,
 * then free them again. -1 on an unexpected error. */
static long l_fill_count(void)
{
    static vnv_obj_t extra[L_STORAGE / 64u];
    long n = 0;
    int err = VNV_OK;
    while (n < (long)(sizeof extra / sizeof extra[0]) &&
           (err = vnv_alloc(&l_heap, sizeof(struct log_chunk), NULL, &extra[n])) == VNV_OK)
        n++;
    if (err != VNV_ERR_NOSPC)
        return -1;
    for (long k = 0; k < n; k++)
        if (vnv_free(&l_heap, extra[k]) != VNV_OK)
            return -1;
    return n;
}

/* Leak check: the log's storage holds the header and `chunks` chunks and nothing else
 * (a chunk allocated but never linked would still take room). Compares how many chunks
 * still fit with a fresh heap holding only a header: 0 = no leak. */
static int l_leak_check(const char *ref_path, long fill, uint32_t chunks, char *why, size_t len)
{
    vnv_obj_t hobj;
    int created;
    unlink(ref_path);
    int err = l_boot(ref_path, 0, NULL, &hobj, &created);
    long fill0 = err ? -1 : l_fill_count();
    vnv_abandon(&l_heap);
    vnv_file_close(&l_file);
    unlink(ref_path);
    if (fill < 0 || fill0 < 0) {
        snprintf(why, len, "leak check: cannot fill the storage (%s)", vnv_strerror(err));
        return 1;
    }
    if (fill != fill0 - (long)chunks) {
        snprintf(why, len, "leak check: room for %ld more chunks, expected %ld: about %ld "
                           "chunk(s) allocated but unreachable", fill, fill0 - (long)chunks,
                 fill0 - (long)chunks - fill);
        return 1;
    }
    return 0;
}

static int run_restart(const struct options *opt, const char *path)
{
    unsigned seconds = opt->seconds ? opt->seconds : 15;
    unsigned max_ms = opt->interval_ms ? opt->interval_ms : 50;
    unsigned min_ms = opt->min_ms_set ? opt->min_ms : (max_ms < 5 ? max_ms : 5);
    if (min_ms > max_ms)
        min_ms = max_ms;
    struct rng rng = {opt->seed ^ 0x5DEECE66Du};
    uint32_t seed = (uint32_t)(opt->seed * 2654435761u);
    struct stat sb;
    int existed = stat(path, &sb) == 0;

    if (opt->restarts)
        fprintf(stderr, "restart mode: %u power failures, each after %u..%u ms of logging\n",
                opt->restarts, min_ms, max_ms);
    else
        fprintf(stderr, "restart mode: %u s, a power failure after %u..%u ms of logging\n",
                seconds, min_ms, max_ms);
    block_usr1(SIG_BLOCK); /* every logger starts with the power-fail interrupt masked */
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000u;
    uint64_t next_progress = t0 + 1000000000u;
    /* readings the next start may find: exactly `expected`, or after a reset no interrupt
     * announced, `expected` or `maybe` (a commit that had started when the process died) */
    uint64_t expected = existed ? UINT64_MAX : 0, maybe = expected;
    uint64_t failures = 0, appended = 0, verified = 0, announced = 0, unannounced = 0;
    for (;;) {
        if (opt->restarts ? failures >= opt->restarts : now_ns() >= end)
            break;
        int fds[2];
        if (pipe(fds) != 0) {
            perror("pipe");
            return 1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            close(fds[0]);
            report_fd = fds[1];
            logger(path, seed);
            _exit(4); /* not reached */
        }
        close(fds[1]);
        sleep_ns(((uint64_t)min_ms + rng_below(&rng, max_ms - min_ms + 1u)) * 1000000u);
        /* the power fails: announced (the interrupt, then a checkpoint), or not at all (a
         * watchdog reset, a fault, a brown-out the comparator missed): SIGKILL at whatever
         * instruction the logger is */
        int silent = rng_below(&rng, 100) < opt->kill_pct;
        kill(pid, silent ? SIGKILL : SIGUSR1);
        int status;
        if (!wait_child(pid, &status, 30000000000u)) {
            kill(pid, SIGKILL);
            wait_child(pid, &status, 5000000000u);
            return failed("start %" PRIu64 ": the logger ignored the power failure for 30 s",
                          failures + 1);
        }
        struct msg m;
        int booted = 0, ckpt = 0, child_failed = 0;
        uint64_t found = 0, committed = 0, kept = 0, done = 0, started = 0;
        int32_t ck_status = 0;
        while (read_msg(fds[0], &m)) {
            if (m.type == MSG_BOOT) {
                booted = 1;
                found = m.v[0];
                kept = m.v[3];
            } else if (m.type == MSG_CKPT) {
                ckpt = 1;
                committed = m.v[0];
                ck_status = m.status;
            } else if (m.type == MSG_COMMIT_START) {
                started = m.v[0];
            } else if (m.type == MSG_COMMIT_DONE) {
                done = m.v[0];
            } else if (m.type == MSG_FAIL) {
                child_failed = 1;
            }
        }
        close(fds[0]);
        char how[64];
        describe_exit(status, how, sizeof how);
        uint64_t n = failures + 1;
        if (silent && !booted && !child_failed && WIFSIGNALED(status)) {
            failures = n; /* the power died while it was still booting: nothing changed */
            unannounced++;
            continue;
        }
        if (child_failed || !booted)
            return failed("start %" PRIu64 ": the logger could not %s (%s)", n,
                          booted ? "run" : "boot and verify its log", how);
        if (expected != UINT64_MAX && found != expected && found != maybe)
            return failed("start %" PRIu64 ": found %" PRIu64 " readings, the last checkpoint "
                          "held %" PRIu64 " (%s)", n, found, expected,
                          found < expected ? "readings lost" : "readings duplicated");
        if (silent && ckpt)
            return failed("start %" PRIu64 ": a checkpoint callback after SIGKILL?", n);
        if (silent && (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL))
            return failed("start %" PRIu64 ": the logger was not killed (%s)", n, how);
        if (!silent && (!ckpt || ck_status != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
            return failed("start %" PRIu64 ": checkpoint %s (status %s, %s)", n,
                          ckpt ? "failed" : "not reported", vnv_strerror(ck_status), how);
        if (!silent && committed < found)
            return failed("start %" PRIu64 ": the checkpoint holds %" PRIu64 " readings, fewer "
                          "than the %" PRIu64 " found at start", n, committed, found);
        failures = n;
        verified += kept;
        if (silent) { /* the last completed commit, or the one in progress */
            unannounced++;
            expected = done > found ? done : found;
            maybe = started > expected ? started : expected;
        } else {
            announced++;
            expected = maybe = committed;
        }
        appended += (maybe > found ? maybe - found : 0);
        if (now_ns() >= next_progress) {
            unsigned pct = opt->restarts ? progress_pct(failures, opt->restarts)
                                         : progress_pct(now_ns() - t0, end - t0);
            progress("[%3u%%] %" PRIu64 " power failures, 0 lost, log at %" PRIu64 " readings",
                     pct, failures, expected);
            next_progress += 1000000000u;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;

    /* Last power-up, done by the driver itself: the log must hold what the last
     * checkpoint said. The heap is then closed cleanly. */
    vnv_obj_t hobj;
    int created;
    int err = l_boot(path, seed, NULL, &hobj, &created);
    const void *cp;
    if (!err)
        err = vnv_get(&l_heap, hobj, &cp);
    if (err)
        return failed("final check: cannot open the log: %s", vnv_strerror(err));
    struct log_header hd = *(const struct log_header *)cp;
    vnv_release(&l_heap, hobj);
    char why[160];
    if (log_verify(&l_heap, &hd, why, sizeof why))
        return failed("final check: %s", why);
    if (expected != UINT64_MAX && hd.count != expected && hd.count != maybe)
        return failed("final check: %" PRIu32 " readings, the last checkpoint held %" PRIu64,
                      hd.count, expected);
    /* Homes freed since the last checkpoint are reusable only after the next one - those
     * a rollback at open freed included (the group's chunks): count room after one. */
    err = vnv_checkpoint(&l_heap);
    if (err)
        return failed("final checkpoint: %s", vnv_strerror(err));
    long fill = l_fill_count();
    err = vnv_close(&l_heap);
    vnv_file_close(&l_file);
    if (err)
        return failed("final close: %s", vnv_strerror(err));
    char ref_path[640];
    snprintf(ref_path, sizeof ref_path, "%s.ref", path);
    if (l_leak_check(ref_path, fill, hd.chunks, why, sizeof why))
        return failed("final check: %s", why);
    progress("[100%%] %" PRIu64 " power failures, 0 lost, log at %" PRIu32 " readings",
             failures, hd.count);
    progress_end();
    fprintf(stderr, "%" PRIu64 " power failures announced by the interrupt (checkpoint, then "
                    "power off), %" PRIu64 " unannounced (SIGKILL at a random instant: "
                    "back to the last commit point)\n", announced, unannounced);
    fprintf(stderr, "%.1f s: %" PRIu64 " starts, %" PRIu64 " readings appended, %" PRIu64
                    " verified at starts; log keeps readings %" PRIu32 "..%" PRIu32
                    " in %" PRIu32 " chunks; no storage leaked (room for %ld more chunks)\n",
            secs, failures, appended, verified, hd.first, hd.count ? hd.count - 1u : 0u,
            hd.chunks, fill);
    printf("OK: survived %" PRIu64 " power failures (%" PRIu64 " announced, %" PRIu64
           " unannounced), 0 lost\n", failures, announced, unannounced);
    return 0;
}

/* ======================================================================================
 * main: options, storage directory
 * ====================================================================================== */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--mode restart|resume] [--seconds N] [--restarts N]\n"
            "          [--interval-ms N] [--min-ms N] [--kill-percent N] [--seed N]\n"
            "          [--dir PATH]\n"
            "  --mode restart   (default) a sensor logger is reset at every power failure\n"
            "  --mode resume    RAM is wiped at every power failure, execution resumes\n"
            "  --seconds N      run time (default 15 restart, 10 resume)\n"
            "  --restarts N     restart mode: stop after N power failures\n"
            "  --interval-ms N  resume: failure period (20); restart: longest run (50)\n"
            "  --min-ms N       restart: shortest run before a failure (5)\n"
            "  --kill-percent N restart: failures with no interrupt (SIGKILL at a random\n"
            "                   instant; the log goes back to its last commit point) (50)\n"
            "  --seed N         workload seed (default 1)\n"
            "  --dir PATH       directory for the storage file (default: temporary)\n",
            prog);
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > max || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt = {MODE_RESTART, 0, 0, 0, 0, 0, 50, 1, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(argv[0]);
            return 0;
        }
        if (!v) {
            usage(argv[0]);
            return 2;
        }
        i++;
        if (!strcmp(a, "--mode") && (!strcmp(v, "restart") || !strcmp(v, "resume"))) {
            opt.mode = !strcmp(v, "resume") ? MODE_RESUME : MODE_RESTART;
        } else if (!strcmp(a, "--dir")) {
            opt.dir = v;
        } else if (!strcmp(a, "--seed") && !parse_uint(v, UINT64_MAX, &n)) {
            opt.seed = n;
        } else if (!strcmp(a, "--seconds") && !parse_uint(v, 86400, &n) && n) {
            opt.seconds = (unsigned)n;
        } else if (!strcmp(a, "--restarts") && !parse_uint(v, 100000000, &n) && n) {
            opt.restarts = (unsigned)n;
        } else if (!strcmp(a, "--interval-ms") && !parse_uint(v, 60000, &n) && n) {
            opt.interval_ms = (unsigned)n;
        } else if (!strcmp(a, "--min-ms") && !parse_uint(v, 60000, &n)) {
            opt.min_ms = (unsigned)n;
            opt.min_ms_set = 1;
        } else if (!strcmp(a, "--kill-percent") && !parse_uint(v, 100, &n)) {
            opt.kill_pct = (unsigned)n;
        } else {
            fprintf(stderr, "%s: bad option or value: %s %s\n", argv[0], a, v);
            usage(argv[0]);
            return 2;
        }
    }

    char tmpl[512], path[600];
    const char *dir = opt.dir;
    if (!dir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/vnvheap-demo-XXXXXX", t && *t ? t : "/tmp");
        dir = mkdtemp(tmpl);
        if (!dir) {
            perror("mkdtemp");
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/%s", dir,
             opt.mode == MODE_RESUME ? "power_demo_resume.bin" : "power_demo_restart.bin");

    tty = isatty(2);
    int rc = opt.mode == MODE_RESUME ? run_resume(&opt, path) : run_restart(&opt, path);

    if (!opt.dir) { /* our temporary directory: remove it */
        unlink(path);
        rmdir(dir);
    } else if (rc == 0) {
        fprintf(stderr, "storage file kept: %s\n", path);
    }
    return rc;
}
