/*
 * test_interrupt_step.c - the power-failure interrupt at chosen instructions, repeatably.
 *
 * test_signal_persist.c lets a timer decide where the interrupt lands, so a window of one
 * instruction is hit by chance, in a few runs out of a hundred. Here the x86-64 trap flag
 * single-steps the program instead: the kernel delivers SIGTRAP after every instruction
 * (library, libc and test code alike), and the handler decides where vnv_persist_all()
 * runs. Its callback wipes the RAM buffer, so every checkpoint is followed by a restore at
 * the same addresses (resume). Both parts are deterministic: a failure repeats on every
 * run of the same binary.
 *
 *   - Sweeps (test_sweep_calls): for a list of calls (loads, copy-on-write, flushes in
 *     place, eviction, alloc/free and gather, block objects, failure-atomic groups, list
 *     and array updates and views, list attach's redo, destroy, close/open, a
 *     checkpoint), one interrupt at each instruction in turn, in a forked child, compared
 *     with a run that no interrupt touched. Every instruction, inside critical sections
 *     too. The same child then resets without a checkpoint (an unannounced reset after
 *     the call): a device booting from the storage must open exactly the state of the
 *     checkpoint that interrupt wrote, whatever the rest of the call wrote since. For the
 *     calls that promise all-or-nothing (a group, a list operation, one object's copy-on-
 *     write), a second child restarts from that checkpoint at once: it must open the
 *     state from before the call or from after it. A second, idle heap is open beside
 *     the stepped one: every interrupt checkpoints it too (at once, while the stepped
 *     heap's checkpoint may be deferred), and its objects must survive, also a reset.
 *   - Random (test_step_*): the self-checking random workload of tests/support/shadow.c
 *     with an interrupt after every 1..8 instructions outside critical sections.
 *
 * Found: a block object flushed in place while a checkpoint was taken kept its slot marked
 * as written since that checkpoint, so its next flush went in place too, over blocks the
 * checkpoint reads from home; a reset then opened them newer than the checkpoint (the
 * "block-flush" sweep, at about 300 instructions).
 * Found: with the data checksum, a write into a non-resident object rewrote its slot in
 * place on a MAP_FRESH it had read before a checkpoint cleared it ("write-cow" in the
 * test-crc build).
 * Found: the object header that home.c keeps (h->hdr_id) was stored outside a critical
 * section. A restore between two of its stores kept the root's header there
 * (root_valid), and the program then completed it with its own object's size: a handle
 * with another object's size, whose loads read the wrong slot. The "size" sweep finds it
 * at two instructions of every run; the random signals of test_signal_persist found it in
 * about 1 run in 20.
 * Found: a request that vnv_persist_all deferred into vnv_close's checkpoint was dropped,
 * and on_persist never called ("close-open").
 *
 * x86-64 Linux only (the trap flag and ucontext layout); elsewhere it reports a skip.
 * VNV_TEST_SCALE multiplies the random part's operation count; VNV_TEST_SEED varies it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "fixture.h"
#include "shadow.h"
#include "vtest.h"
#if !VNV_MINIMAL
#include "vnvheap/array.h"
#include "vnvheap/list.h"
#endif

#if defined(__x86_64__) && defined(__linux__)
#include <ucontext.h>

#define TRAP_FLAG 0x100L /* EFLAGS.TF: a debug trap after the next instruction */

static volatile sig_atomic_t stepping;
static volatile uint32_t countdown, stride = 1, lcg_state = 2463534242u;
static volatile uint64_t steps, counted, persists, persist_errors;
static struct vnv_heap *stepped_heap;

static volatile sig_atomic_t sweeping;
static void sweep_trap(ucontext_t *uc);

static uint32_t next_gap(void)
{
    uint32_t x = lcg_state * 1664525u + 1013904223u; /* handler-local, no locks */
    lcg_state = x;
    return 1u + (x >> 8) % stride;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    if (!stepping) { /* stop: clear the flag the interrupted code resumes with */
        uc->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
        return;
    }
    steps++;
    if (sweeping) {
        int saved = errno;
        sweep_trap(uc);
        errno = saved;
        return;
    }
    /* Inside a critical section the interrupt is only deferred, and the checkpoint it
     * defers then runs in the program (stepped, slowly): only 1 in 1024 of those counts. */
    if (stepped_heap->busy && (steps & 1023u))
        return;
    counted++;
    if (--countdown)
        return;
    countdown = next_gap();
    int saved = errno;
    if (vnv_persist_all() < 0)
        persist_errors++;
    persists++;
    errno = saved;
}

static void step_start(void)
{
    stepping = 1;
    countdown = next_gap();
    __asm__ volatile("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq" ::: "memory", "cc");
}

/* The next trap (right after this store) clears the flag in the resumed context. */
static void step_stop(void)
{
    stepping = 0;
    __asm__ volatile("nop" ::: "memory");
}

static struct fx_totals acc;

struct step_cfg {
    const char *name;
    uint32_t ram, dirty, stride;
    const struct vnv_ram_allocator *ram_alloc;
    struct sh_params p;
    uint32_t seed;
};

static void run(const struct step_cfg *c, uint64_t ops)
{
    struct fixture f;
    struct sh_params p = c->p;
    REQUIRE(sh_format(&f, 1u << 18, c->ram, c->dirty, c->ram_alloc, &p) == VNV_OK);
    struct shadow s;
    sh_init(&s, &f, &p, sh_seed(c->seed), c->name);
    memset(&acc, 0, sizeof acc);
    steps = counted = persists = persist_errors = 0;
    stride = c->stride;
    stepped_heap = &f.heap;
    struct rng sched;
    rng_seed(&sched, s.seed + 7u);
    for (uint64_t i = 0; i < ops; i++) {
        step_start();
        sh_step(&s);
        step_stop();
        if (rng_below(&sched, 100) < 5)
            sh_verify_all(&s); /* every value (unstepped: it reads them all) */
        if (rng_below(&sched, 1000) < 2) { /* now and then: the heap's own audit */
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            sh_check_pins(&s);
        }
        if (s.fails > 20)
            break;
    }
    sh_check_pins(&s);
    sh_verify_all(&s);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    sh_release_all(&s);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_collect(&f, &acc);
    sh_restart(&s); /* checkpoint, reset, open: every value survives */
    sh_verify_all(&s);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);

    CHECK_EQ(s.fails, 0);
    CHECK_EQ(persist_errors, 0);
    CHECK(persists * (c->stride + 1u) >= counted); /* the schedule ran: 2 per stride + 1 */
    CHECK(persists >= ops);                          /* several per operation */
    CHECK_EQ(acc.restores, acc.callbacks);           /* each wipe was restored */
    sh_report(&s);
    fprintf(stderr, "  [%s] %llu operations, %llu instructions stepped (%llu outside "
                    "sections), %llu interrupts (%llu deferred), %llu restores\n",
            c->name, (unsigned long long)s.ops, (unsigned long long)steps,
            (unsigned long long)counted,
            (unsigned long long)persists, (unsigned long long)acc.deferred,
            (unsigned long long)acc.restores);
    sh_destroy(&s);
    fx_free(&f);
}

static uint64_t scaled(uint64_t n) { return (uint64_t)((double)n * sh_scale()); }

static void test_step_default(void)
{
    /* 1 KiB of RAM for objects up to 120 B: loads and evictions every few operations */
    struct step_cfg c = {"step", 1024, 400, 8, NULL, {40, 120, 10, 300, 3, 0}, 21};
    run(&c, scaled(SH_ASAN ? 8 : 100));
}

#if !VNV_MINIMAL /* the buddy RAM allocator */
static void test_step_ram_buddy(void)
{
    struct step_cfg c = {"step-buddy", 2048, 500, 8, &vnv_ram_buddy, {40, 150, 10, 300, 3, 0},
                         22};
    run(&c, scaled(SH_ASAN ? 6 : 60));
}
#endif

/* ---- one interrupt at each instruction of a call, in turn ------------------------------ */

/*
 * A sweep: the call runs once, single-stepped, and at every instruction (in a critical
 * section or not) the handler forks. The child takes the interrupt there (checkpoint,
 * wipe, restore), runs the rest of the call unstepped, and compares what the heap then
 * shows (sizes, twice: the second from the kept header; every byte; the root; lists and
 * arrays; vnv_check) with a reference run that no interrupt touched; then a fresh heap
 * boots from the storage as it is and from the copy taken at the checkpoint, and both must
 * show the same. The parent waits and steps on. One interrupt per child, so nothing after
 * it repairs what it broke: a window of one instruction is found every time, at linear
 * cost. A restart child's callback jumps out instead (power gone), and a fresh heap boots
 * from the storage.
 */
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SC_OBJS 6
#define SC_MAX 512
#define SC_ELEM 16      /* a list item */
#define SC_LIST_MAX 12  /* items observed */
#define SC_ARRAY_LEN 32 /* 8-byte elements, 64-byte blocks */
/* Every instruction outside sections in the default build (about a minute). The suite's
 * other builds run the same sweeps sampled, to keep `make test` short: the minimal and
 * data-checksum builds every 7th instruction, sanitizer builds (about ten times the
 * instructions, and dearer forks) every 61st. Primes: the phase drifts along loops. */
#ifdef VNV_SWEEP_EVERY /* -DVNV_SWEEP_EVERY=1: every instruction in any build */
#define SWEEP_EVERY ((uint32_t)VNV_SWEEP_EVERY)
#elif SH_ASAN
#define SWEEP_EVERY 61u
#elif VNV_MINIMAL || VNV_DATA_CRC
#define SWEEP_EVERY 7u
#else
#define SWEEP_EVERY 1u
#endif
enum { SC_R, SC_A, SC_B, SC_P, SC_C, SC_D };
static struct {
    vnv_obj_t h;
    uint32_t size;
} sc[SC_OBJS];
static vnv_obj_t sc_list, sc_array;

struct observed {
    int rc, check;
    int root; /* which object is the root (+1; 0: none): handle values may differ, e.g. a
                 home a checkpoint freed for reuse */
    int err[SC_OBJS];
    size_t size[SC_OBJS][2];
    uint8_t data[SC_OBJS][SC_MAX];
    int list_rc, list_check, array_rc; /* the containers, when there are */
    uint32_t list_len;
    uint8_t list_items[SC_LIST_MAX][SC_ELEM], array_elems[SC_ARRAY_LEN * 8u];
};

/* The references, shared with the children (MAP_SHARED): after the call uninterrupted
 * (resume), and what a restart from a checkpoint before / after the call opens, with the
 * handles each knows. */
static struct refs {
    struct observed resume, pre, post;
    vnv_obj_t pre_h[SC_OBJS], post_h[SC_OBJS];
    uint64_t closed; /* interrupts that found the heap closed (no checkpoint to take) */
} *refs;
#define ref (&refs->resume)
static volatile sig_atomic_t in_child, sweep_restart, reset_armed;
static sigjmp_buf reset_jb; /* where a child lands when "power fails" after the checkpoint */

#define SWEEP_NV (1u << 14)
#define SWEEP_RAM 1024u
#define SWEEP_DIRTY 600u

static uint8_t ckpt_image[SWEEP_NV]; /* child 1: storage right after its checkpoint */
static volatile sig_atomic_t image_armed, unregistered;

/* The sweep heap's callback: in a restart child the power fails right after the checkpoint
 * (nothing after the callback runs); otherwise the storage is copied (child 1) and the RAM
 * buffer is wiped and restored. */
static struct fixture bystander; /* a second open heap, idle: every interrupt takes it too */

static int sweep_on_persist(void *user, int status, void *buf, size_t len)
{
    struct fixture *f = user;
    (void)status;
    f->persist_calls++;
    if (f == &bystander) { /* its RAM is lost and restored; the power stays */
        memset(buf, 0, len);
        return 1;
    }
    if (reset_armed)
        siglongjmp(reset_jb, 1);
    if (image_armed) {
        memcpy(ckpt_image, f->nv, SWEEP_NV);
        image_armed = 0;
    }
    memset(buf, 0, len);
    return 1;
}
static volatile uint64_t sweep_points, sweep_busy, sweep_failed;
static volatile int sweep_first_bad = -1;

/* fork, retried while processes are short for a moment (EAGAIN on a loaded machine). A
 * child lives a few milliseconds; one that hangs (a library loop that never ends, a
 * sanitizer report stuck on its symbolizer) is killed by SIGALRM after five minutes (a
 * margin no load reaches) and counted as a failure, so the test fails, not hangs. */
static pid_t fork_retry(void)
{
    for (int i = 0; i < 100; i++) {
        pid_t pid = fork();
        if (pid == 0)
            (void)alarm(300);
        if (pid >= 0 || errno != EAGAIN)
            return pid;
        struct timespec ts = {0, 10000000}; /* nanosleep: async-signal-safe */
        (void)nanosleep(&ts, NULL);
    }
    return -1;
}

static void observe(struct fixture *f, int rc, struct observed *o, int check)
{
    memset(o, 0, sizeof *o);
    o->rc = rc;
    vnv_obj_t root = VNV_NULL;
    (void)vnv_root(&f->heap, &root);
    for (int k = 0; k < SC_OBJS; k++) {
        if (!vnv_is_null(root) && vnv_same(root, sc[k].h))
            o->root = k + 1;
        if (vnv_is_null(sc[k].h))
            continue;
        o->err[k] = vnv_size(&f->heap, sc[k].h, &o->size[k][0]);
        if (!o->err[k])
            o->err[k] = vnv_size(&f->heap, sc[k].h, &o->size[k][1]);
        if (!o->err[k])
            o->err[k] = vnv_read(&f->heap, sc[k].h, 0, o->data[k], sc[k].size);
    }
#if !VNV_MINIMAL
    struct vnv_heap *h = &f->heap;
    if (!vnv_is_null(sc_list)) {
        vnv_obj_t n = VNV_NULL;
        int err = vnv_list_length(h, sc_list, &o->list_len);
        if (!err)
            err = vnv_list_first(h, sc_list, &n);
        for (uint32_t i = 0; !err && !vnv_is_null(n) && i < SC_LIST_MAX; i++) {
            err = vnv_list_get(h, sc_list, n, o->list_items[i]);
            if (!err)
                err = vnv_list_next(h, sc_list, n, &n);
        }
        o->list_rc = err;
        o->list_check = vnv_list_check(h, sc_list);
    }
    if (!vnv_is_null(sc_array))
        o->array_rc = vnv_array_get_range(h, sc_array, 0, SC_ARRAY_LEN, o->array_elems);
#endif
    o->check = check ? vnv_check(&f->heap) : 0;
}

static void sweep_trap(ucontext_t *uc)
{
    /* In a critical section the interrupt is deferred to the section's end, and with the
     * heap closed (vnv_open's long validation) there is nothing to take: the same outcome
     * at every instruction, so only the first of each run and every 16th (16 x
     * SWEEP_EVERY-th). */
    static uint32_t busy_run, free_run;
    int closed = !vnv_is_open(stepped_heap);
    if (closed || stepped_heap->busy) {
        if (busy_run++ % (16u * SWEEP_EVERY))
            return;
        sweep_busy += !closed;
    } else {
        busy_run = 0;
        if (free_run++ % SWEEP_EVERY)
            return;
    }
    sweep_points++;
    /* child 1: the interrupt lands here and the program resumes; when the call has
     * returned, the device also restarts with no checkpoint since this one (an unannounced
     * reset). Child 2 (sweep_restart): the device restarts from the checkpoint this
     * interrupt writes, right away. */
    for (int kind = 1; kind <= (sweep_restart ? 2 : 1); kind++) {
        pid_t pid = fork_retry();
        if (pid == 0) {
            in_child = kind;
            reset_armed = kind == 2;
            image_armed = kind == 1;
            stepping = 0;
            uc->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
            int pr = vnv_persist_all();
            if (pr < 0)
                _exit(3);
            unregistered = pr == VNV_OK && image_armed; /* no heap open: no callback */
            return; /* (deferred: it runs, and child 2 restarts, when the section ends) */
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            sweep_failed++;
            if (sweep_first_bad < 0)
                sweep_first_bad = (int)sweep_points;
        }
    }
}

/*
 * The bystander: an idle heap opened second, with a dirty resident object, a clean one and
 * one on storage only. An interrupt checkpoints it at once (it is never busy) while the
 * stepped heap's checkpoint may be deferred, so the two run in either order. After the
 * call it must show the same bytes, pass vnv_check, and a reset must reopen them.
 */
#define BY_OBJS 3
static vnv_obj_t by_obj[BY_OBJS];

static int bystander_value(uint32_t k) { return (int)(0x5A + 17u * k); }

static void bystander_open(void)
{
    struct vnv_heap *b = &bystander.heap;
    uint8_t v[32];
    fx_init(&bystander, 8192, 1024, 256);
    bystander.cfg.on_persist = sweep_on_persist;
    REQUIRE(vnv_format(b, &bystander.cfg) == VNV_OK);
    for (uint32_t k = 0; k < BY_OBJS; k++) {
        memset(v, bystander_value(k) + (k == 0), sizeof v); /* object 0: changed below */
        REQUIRE(vnv_alloc(b, sizeof v, v, &by_obj[k]) == VNV_OK);
    }
    REQUIRE(vnv_checkpoint(b) == VNV_OK);
    REQUIRE(vnv_unload(b, by_obj[2]) == VNV_OK); /* on storage only */
    REQUIRE(vnv_flush(b, by_obj[1]) == VNV_OK); /* resident, clean */
    memset(v, bystander_value(0), sizeof v);
    REQUIRE(vnv_write(b, by_obj[0], 0, v, sizeof v) == VNV_OK); /* resident, dirty: only
                                                                     a checkpoint keeps it */
}

/* The bystander's objects hold their bytes (its heap, or a fresh boot of its storage);
 * 0 or a description of what is wrong. */
static const char *bystander_wrong(int boot)
{
    static struct fixture g;
    struct vnv_heap *b = &bystander.heap;
    if (boot) {
        fx_init(&g, 8192, 1024, 256);
        memcpy(g.nv, bystander.nv, 8192);
        if (vnv_open(&g.heap, &g.cfg) != VNV_OK) {
            fx_free(&g);
            return "a reset does not open";
        }
        b = &g.heap;
    }
    for (uint32_t k = 0; k < BY_OBJS; k++) {
        uint8_t v[32];
        if (vnv_read(b, by_obj[k], 0, v, sizeof v) != VNV_OK)
            return "an object does not read";
        for (uint32_t i = 0; i < sizeof v; i++)
            if (v[i] != bystander_value(k))
                return "an object changed";
    }
    const char *wrong = vnv_check(b) != VNV_OK ? "vnv_check fails" : NULL;
    if (boot) {
        vnv_abandon(&g.heap);
        fx_free(&g);
    }
    return wrong;
}

/* A device booting from a copy of `f`'s storage (a fresh heap, RAM and storage driver: the
 * old heap is left mid-checkpoint, as power left it), lists attached. */
static int boot_copy(const uint8_t *image, struct fixture *g)
{
    fx_init(g, SWEEP_NV, SWEEP_RAM, SWEEP_DIRTY);
    memcpy(g->nv, image, SWEEP_NV);
    int err = vnv_open(&g->heap, &g->cfg);
#if !VNV_MINIMAL
    if (!err && !vnv_is_null(sc_list))
        err = vnv_list_attach(&g->heap, sc_list);
#endif
    return err;
}

/* What a device booting from the storage `image` opens, seen with `handles`. */
static void observe_restart(const uint8_t *image, const vnv_obj_t *handles,
                            struct observed *o)
{
    static struct fixture g;
    vnv_obj_t mine[SC_OBJS];
    for (int k = 0; k < SC_OBJS; k++) {
        mine[k] = sc[k].h;
        sc[k].h = handles[k];
    }
    int err = boot_copy(image, &g);
    if (err)
        memset(o, 0, sizeof *o);
    else
        observe(&g, 0, o, 0); /* (vnv_open validated the image) */
    o->rc = err; /* the call's own result is not part of a restart's state */
    for (int k = 0; k < SC_OBJS; k++)
        sc[k].h = mine[k];
}

static const vnv_obj_t *handles_now(void)
{
    static vnv_obj_t now[SC_OBJS];
    for (int k = 0; k < SC_OBJS; k++)
        now[k] = sc[k].h;
    return now;
}

static void save_handles(vnv_obj_t *to)
{
    for (int k = 0; k < SC_OBJS; k++)
        to[k] = sc[k].h;
}

typedef int (*sweep_fn)(struct fixture *f);

/* Run `fn` with an interrupt at each of its instructions in turn (children), and once
 * without (here, the heap goes on from that). */
/* sweep() flags: also restart from each interrupt's checkpoint at once (all-or-nothing
 * calls); the call has no critical section when its objects are resident */
#define SW_RESTART 1
#define SW_NO_SECTION 2

static void sweep(struct fixture *f, const char *name, sweep_fn fn, int flags)
{
    int restart = flags & SW_RESTART;
    fflush(NULL); /* the children must not write the parent's buffered output again */
    save_handles(refs->pre_h);
    int status = 0;
    pid_t pid;
    if (restart) { /* the reference before: a restart from a checkpoint now */
        if ((pid = fork_retry()) == 0) {
            if (vnv_checkpoint(&f->heap) != VNV_OK)
                _exit(1);
            observe_restart(f->nv, refs->pre_h, &refs->pre);
            _exit(0);
        }
        REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
    }
    if ((pid = fork_retry()) == 0) { /* the references after: the call, no interrupt */
        int rc = fn(f);
        observe(f, rc, ref, 1);
        save_handles(refs->post_h);
        if (restart && vnv_checkpoint(&f->heap) != VNV_OK)
            _exit(1);
        if (restart)
            observe_restart(f->nv, refs->post_h, &refs->post);
        _exit(0);
    }
    REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    uint64_t failed0 = sweep_failed;
    sweep_points = sweep_busy = refs->closed = 0;
    sweep_first_bad = -1;
    sweep_restart = restart;
    if (sigsetjmp(reset_jb, 1)) { /* child 2, after the callback: the power is gone */
        static struct observed o;
        observe_restart(f->nv, refs->pre_h, &o);
        if (memcmp(&o, &refs->pre, sizeof o) == 0)
            _exit(0); /* as if the call had not started */
        observe_restart(f->nv, refs->post_h, &o);
        if (memcmp(&o, &refs->post, sizeof o) == 0)
            _exit(0); /* as if it had completed */
        fprintf(stderr, "  [%s] restart from instruction %llu: neither before nor after "
                        "(open %d, check %d)\n",
                name, (unsigned long long)sweep_points, o.rc, o.check);
        _exit(1);
    }
    sweeping = 1;
    step_start();
    int rc = fn(f);
    step_stop();
    sweeping = 0;
    if (in_child) { /* child 1, after the interrupt: the rest ran unstepped */
        static struct observed o, at, end;
        observe(f, rc, &o, 1);
        if (image_armed) { /* no checkpoint was taken */
            if (!unregistered) {
                fprintf(stderr, "  [%s] interrupt at instruction %llu: deferred, never "
                                "answered\n",
                        name, (unsigned long long)sweep_points);
                _exit(1);
            }
            refs->closed++; /* the heap was closed: storage holds it all */
            goto resumed;
        }
        /* the reset after the call: the checkpoint's state, exactly (the storage image
         * the callback copied, booted, against the storage now, booted) */
        observe_restart(ckpt_image, handles_now(), &at);
        observe_restart(f->nv, handles_now(), &end);
        if (memcmp(&at, &end, sizeof at) != 0) {
            fprintf(stderr, "  [%s] checkpoint at instruction %llu, reset after the call: "
                            "not the checkpoint's state (open %d/%d, check %d/%d)\n",
                    name, (unsigned long long)sweep_points, end.rc, at.rc, end.check,
                    at.check);
            for (int k = 0; k < SC_OBJS; k++)
                if (memcmp(end.data[k], at.data[k], SC_MAX) != 0 || end.err[k] != at.err[k])
                    fprintf(stderr, "    object %d differs\n", k);
            _exit(1);
        }
    resumed:
        for (int boot = 0; boot <= 1; boot++) {
            const char *wrong = bystander_wrong(boot);
            if (wrong) {
                fprintf(stderr, "  [%s] interrupt at instruction %llu: the other heap%s: %s\n",
                        name, (unsigned long long)sweep_points, boot ? " after a reset" : "",
                        wrong);
                _exit(1);
            }
        }
        if (memcmp(&o, ref, sizeof o) != 0) {
            fprintf(stderr, "  [%s] interrupted at instruction %llu: rc %d (want %d), "
                            "check %d, root %d (want %d)\n",
                    name, (unsigned long long)sweep_points, o.rc, ref->rc, o.check, o.root,
                    ref->root);
            for (int k = 0; k < SC_OBJS; k++)
                if (o.err[k] != ref->err[k] || o.size[k][0] != ref->size[k][0] ||
                    o.size[k][1] != ref->size[k][1] ||
                    memcmp(o.data[k], ref->data[k], SC_MAX) != 0)
                    fprintf(stderr, "    object %d: err %d/%d size %zu,%zu (want %zu,%zu)\n",
                            k, o.err[k], ref->err[k], o.size[k][0], o.size[k][1],
                            ref->size[k][0], ref->size[k][1]);
            fprintf(stderr, "    list: rc %d/%d check %d/%d length %u/%u items %s; array: "
                            "rc %d/%d elements %s\n",
                    o.list_rc, ref->list_rc, o.list_check, ref->list_check, o.list_len,
                    ref->list_len,
                    memcmp(o.list_items, ref->list_items, sizeof o.list_items) ? "differ" : "same",
                    o.array_rc, ref->array_rc,
                    memcmp(o.array_elems, ref->array_elems, sizeof o.array_elems) ? "differ"
                                                                                   : "same");
            _exit(1);
        }
        _exit(0);
    }
    struct observed *mine = mmap(NULL, sizeof *mine, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mine != MAP_FAILED);
    observe(f, rc, mine, 1);
    CHECK(memcmp(mine, ref, sizeof *mine) == 0); /* the stepped run is the reference */
    munmap(mine, sizeof *mine);
    CHECK(sweep_points >= 5); /* (sampled builds: a short call has a few) */
    CHECK(sweep_busy > 0 || (flags & SW_NO_SECTION)); /* storage transfers are sections */
    CHECK_EQ(sweep_failed - failed0, 0);
    fprintf(stderr, "  [%s] %llu interrupt points (%llu in a critical section, %llu with the "
                    "heap closed)%s, %llu wrong (first at %d)\n",
            name, (unsigned long long)sweep_points, (unsigned long long)sweep_busy,
            (unsigned long long)refs->closed,
            restart ? ", each resumed, reset after, restarted" : ", each resumed, reset after",
            (unsigned long long)(sweep_failed - failed0), sweep_first_bad);
}

/* Values to write, made before any stepping (a loop of the test's own would otherwise be
 * swept, instruction by instruction, with the call). */
#define SC_PATTERNS 32
static uint8_t sc_patterns[SC_PATTERNS][SC_MAX];

static void make_patterns(void)
{
    for (uint32_t k = 0; k < SC_PATTERNS; k++)
        for (uint32_t i = 0; i < SC_MAX; i++)
            sc_patterns[k][i] = (uint8_t)(k * 131u + i * 7u + (i >> 3) + 1u);
}

static const uint8_t *pattern(uint32_t seed)
{
    return sc_patterns[seed % SC_PATTERNS];
}

static int unload_all(struct fixture *f)
{
    int err = VNV_OK;
    for (int k = 0; k < SC_OBJS && !err; k++)
        if (!vnv_is_null(sc[k].h))
            err = vnv_unload(&f->heap, sc[k].h);
    return err;
}

/* the header of a non-resident object, read and then kept (the root is not resident) */
static int op_size(struct fixture *f)
{
    size_t n = 0;
    int err = vnv_size(&f->heap, sc[SC_B].h, &n);
    return err ? err : (int)n;
}

/* A freed object whose home is the heap's spare (nvmap.c), its header intact on storage:
 * every call must refuse its handle, wherever the interrupt's checkpoint releases the
 * spare. (Found by a review: with the spare read after the home's start bit, an interrupt
 * between the two reads let vnv_get, vnv_size, vnv_read and vnv_write take the handle.) */
static vnv_obj_t stale_spare;

static int op_stale_spare(struct fixture *f)
{
    const void *p = NULL;
    size_t n = 0;
    uint8_t b[8];
    int get = vnv_get(&f->heap, stale_spare, &p), size = vnv_size(&f->heap, stale_spare, &n);
    int rd = vnv_read(&f->heap, stale_spare, 0, b, sizeof b);
    int wr = vnv_write(&f->heap, stale_spare, 0, b, sizeof b);
    int fr = vnv_free(&f->heap, stale_spare);
    return get == VNV_ERR_INVAL && size == VNV_ERR_INVAL && rd == VNV_ERR_INVAL &&
                   wr == VNV_ERR_INVAL && fr == VNV_ERR_INVAL
               ? 0
               : 1 + (get != VNV_ERR_INVAL) + 2 * (size != VNV_ERR_INVAL) +
                     4 * (rd != VNV_ERR_INVAL) + 8 * (wr != VNV_ERR_INVAL) +
                     16 * (fr != VNV_ERR_INVAL);
}

static int op_load(struct fixture *f)
{
    const void *p = NULL;
    int err = vnv_get(&f->heap, sc[SC_A].h, &p);
    return err ? err : vnv_release(&f->heap, sc[SC_A].h);
}

static int op_write_cow(struct fixture *f) /* into a non-resident object's other slot */
{
    return vnv_write(&f->heap, sc[SC_B].h, 30, pattern(5), 16);
}

static int op_mut_flush(struct fixture *f)
{
    void *p = NULL;
    int err = vnv_get_mut_exact(&f->heap, sc[SC_A].h, 24, &p);
    if (err)
        return err;
    memcpy(p, pattern(6), 24);
    err = vnv_release(&f->heap, sc[SC_A].h);
    return err ? err : vnv_flush(&f->heap, sc[SC_A].h);
}

static int op_evict(struct fixture *f) { return vnv_unload(&f->heap, sc[SC_A].h); }

static int op_alloc_free(struct fixture *f)
{
    int err = vnv_free(&f->heap, sc[SC_C].h);
    if (!err)
        err = vnv_alloc(&f->heap, 40, pattern(7), &sc[SC_C].h);
    return err;
}

static int op_checkpoint(struct fixture *f) { return vnv_checkpoint(&f->heap); }

#if !VNV_MINIMAL
/* Three blocks, each flushed on its own: the first flush makes the current slot fresh, so
 * the next ones write in place. A checkpoint inside one of those writes must not let the
 * next one overwrite a block that checkpoint reads from home. */
static int op_block_flush(struct fixture *f)
{
    int err = VNV_OK;
    for (uint32_t off = 200; off <= 400 && !err; off += 100) {
        void *p = NULL;
        err = vnv_get_mut_range(&f->heap, sc[SC_P].h, off, 10, &p);
        if (err)
            return err;
        memcpy((uint8_t *)p + off, pattern(8 + off), 10);
        err = vnv_release(&f->heap, sc[SC_P].h);
        if (!err)
            err = vnv_flush(&f->heap, sc[SC_P].h);
    }
    return err;
}

static int op_group(struct fixture *f)
{
    struct vnv_heap *h = &f->heap;
    void *p = NULL;
    int err = vnv_atomic_begin(h);
    if (!err)
        err = vnv_write(h, sc[SC_A].h, 0, pattern(9), 8);
    if (!err)
        err = vnv_get_mut(h, sc[SC_B].h, &p);
    if (!err) {
        memcpy((uint8_t *)p + 150, pattern(10), 4);
        err = vnv_release(h, sc[SC_B].h);
    }
    if (!err)
        err = vnv_free(h, sc[SC_D].h);
    if (!err)
        err = vnv_alloc(h, 24, pattern(11), &sc[SC_D].h);
    int end = vnv_atomic_end(h);
    return err ? err : end;
}
#endif

static int op_read_peek(struct fixture *f) /* header and the first bytes in one read */
{
    uint8_t b[8];
    return vnv_read(&f->heap, sc[SC_B].h, 4, b, sizeof b);
}

static int op_get_sized(struct fixture *f) /* a typed load: header and data in one read */
{
    const void *p = NULL;
    int err = vnv_get_exact(&f->heap, sc[SC_B].h, 200, &p);
    return err ? err : vnv_release(&f->heap, sc[SC_B].h);
}

static int op_new_flush(struct fixture *f) /* a never-homed object's first flush */
{
    return vnv_flush(&f->heap, sc[SC_C].h);
}

#if !VNV_MINIMAL
static int op_group_abort(struct fixture *f)
{
    struct vnv_heap *h = &f->heap;
    vnv_obj_t tmp;
    int err = vnv_atomic_begin(h);
    if (!err)
        err = vnv_write(h, sc[SC_B].h, 10, pattern(12), 20);
    if (!err)
        err = vnv_alloc(h, 32, pattern(13), &tmp);
    if (!err)
        err = vnv_free(h, sc[SC_C].h);
    int end = vnv_atomic_abort(h);
    return err ? err : end;
}

static int op_group_through(struct fixture *f) /* short writes, straight to a fresh slot */
{
    struct vnv_heap *h = &f->heap;
    int err = vnv_atomic_begin(h);
    if (!err)
        err = vnv_write(h, sc[SC_A].h, 4, pattern(14), 12);
    if (!err)
        err = vnv_write(h, sc[SC_A].h, 16, pattern(15), 8);
    int end = vnv_atomic_end(h);
    return err ? err : end;
}

static int op_list_push(struct fixture *f)
{
    return vnv_list_push_back(&f->heap, sc_list, pattern(16));
}

static int op_list_pop(struct fixture *f)
{
    uint8_t v[SC_ELEM];
    return vnv_list_pop_front(&f->heap, sc_list, v);
}

static int op_list_remove(struct fixture *f) /* the second node: two links change */
{
    vnv_obj_t n = VNV_NULL;
    uint8_t v[SC_ELEM];
    int err = vnv_list_first(&f->heap, sc_list, &n);
    if (!err)
        err = vnv_list_next(&f->heap, sc_list, n, &n);
    return err ? err : vnv_list_remove(&f->heap, sc_list, n, v);
}

static int op_array_set(struct fixture *f) /* across a block boundary */
{
    return vnv_array_set_range(&f->heap, sc_array, 6, 4, pattern(17));
}

static int op_list_push_front(struct fixture *f)
{
    return vnv_list_push_front(&f->heap, sc_list, pattern(18));
}

static int op_list_pop_back(struct fixture *f)
{
    uint8_t v[SC_ELEM];
    return vnv_list_pop_back(&f->heap, sc_list, v);
}

static int op_list_peek_mut(struct fixture *f) /* a value changed in place, then flushed */
{
    vnv_obj_t n = VNV_NULL;
    void *v = NULL;
    int err = vnv_list_peek_front_mut(&f->heap, sc_list, &n, &v);
    if (err)
        return err;
    memcpy(v, pattern(19), SC_ELEM);
    err = vnv_list_release(&f->heap, n);
    return err ? err : vnv_flush(&f->heap, n);
}

static int op_array_views(struct fixture *f) /* a read view, then a writer view, flushed */
{
    struct vnv_heap *h = &f->heap;
    const void *ro = NULL;
    void *rw = NULL;
    uint32_t len = 0;
    int err = vnv_array_view(h, sc_array, &ro, &len);
    if (!err)
        err = vnv_array_release(h, sc_array);
    if (!err)
        err = vnv_array_write(h, sc_array, 15, 3, &rw);
    if (err)
        return err;
    memcpy(rw, pattern(21), 24);
    err = vnv_array_release(h, sc_array);
    return err ? err : vnv_flush(h, sc_array);
}

static int op_array_write_all(struct fixture *f)
{
    void *rw = NULL;
    int err = vnv_array_write_all(&f->heap, sc_array, &rw);
    if (err)
        return err;
    memcpy((uint8_t *)rw + 100, pattern(22), 60);
    return vnv_array_release(&f->heap, sc_array);
}

static int op_set_root(struct fixture *f) { return vnv_set_root(&f->heap, sc[SC_B].h); }

static int op_mark_dirty(struct fixture *f) /* a range, more blocks marked, one flush */
{
    void *p = NULL;
    int err = vnv_get_mut_range(&f->heap, sc[SC_P].h, 60, 8, &p);
    if (err)
        return err;
    err = vnv_mark_dirty(&f->heap, sc[SC_P].h, 250, 20);
    if (!err) {
        memcpy((uint8_t *)p + 60, pattern(23), 8);
        memcpy((uint8_t *)p + 250, pattern(24), 20);
    }
    int rel = vnv_release(&f->heap, sc[SC_P].h);
    err = err ? err : rel;
    return err ? err : vnv_flush(&f->heap, sc[SC_P].h);
}

static int op_realloc_blocks(struct fixture *f) /* a plain object replaced by a block one */
{
    int err = vnv_free(&f->heap, sc[SC_D].h);
    return err ? err : vnv_alloc_blocks(&f->heap, 24, 16, pattern(25), &sc[SC_D].h);
}

static int op_gather_flush(struct fixture *f) /* three pieces, written home at once */
{
    const uint8_t *a = pattern(26);
    struct vnv_iovec init[3] = {{a, 8}, {NULL, 0}, {a + 100, 32}};
    int err = vnv_free(&f->heap, sc[SC_C].h);
    if (!err)
        err = vnv_alloc_gather(&f->heap, init, 3, &sc[SC_C].h);
    return err ? err : vnv_flush(&f->heap, sc[SC_C].h);
}

/* A list operation the last restart interrupted: attach finishes it. */
static int op_attach(struct fixture *f) { return vnv_list_attach(&f->heap, sc_list); }

static int op_list_destroy(struct fixture *f)
{
    int err = vnv_set_root(&f->heap, VNV_NULL);
    return err ? err : vnv_list_destroy(&f->heap, sc_list);
}

static int op_array_destroy(struct fixture *f) { return vnv_array_destroy(&f->heap, sc_array); }
#endif

/* The end of a session and the next one: flush all, a clean checkpoint, open again (an
 * interrupt before the heap is open again finds nothing to checkpoint). */
static int op_close_open(struct fixture *f)
{
    int err = vnv_close(&f->heap);
    if (!err)
        err = vnv_open(&f->heap, &f->cfg);
#if !VNV_MINIMAL
    if (!err && !vnv_is_null(sc_list))
        err = vnv_list_attach(&f->heap, sc_list);
#endif
    return err;
}

#if !VNV_MINIMAL
/* A restart in the middle of a list remove, after its commit point: the heap reopens from
 * a checkpoint taken at the first list step whose image needs attach's redo (the booted
 * list header comes out dirty from attach). Found by trying the steps in turn. */
static volatile uint32_t steps_left;

static void take_at_step(void *arg)
{
    (void)arg;
    if (steps_left && --steps_left == 0) {
        image_armed = 1; /* the callback copies storage to ckpt_image */
        (void)vnv_persist_all();
    }
}

static void boot_mid_remove(struct fixture *f)
{
    struct vnv_heap *h = &f->heap;
    uint32_t at = 0;
    for (uint32_t n = 1; n < 64 && !at; n++) {
        fflush(NULL);
        pid_t pid = fork_retry();
        if (pid == 0) {
            static struct fixture g;
            steps_left = n;
            vnv_list_set_step_hook(take_at_step, NULL);
            if (op_list_remove(f) != VNV_OK || steps_left)
                _exit(2); /* fewer steps than n */
            fx_init(&g, SWEEP_NV, SWEEP_RAM, SWEEP_DIRTY);
            memcpy(g.nv, ckpt_image, SWEEP_NV);
            _exit(vnv_open(&g.heap, &g.cfg) == VNV_OK &&
                          vnv_list_attach(&g.heap, sc_list) == VNV_OK &&
                          vnv_is_dirty(&g.heap, sc_list)
                      ? 0
                      : 1);
        }
        int status = 0;
        REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        if (WEXITSTATUS(status) == 2)
            break;
        if (WEXITSTATUS(status) == 0)
            at = n;
    }
    REQUIRE(at > 0); /* a remove has steps after its commit */
    steps_left = at;
    vnv_list_set_step_hook(take_at_step, NULL);
    CHECK_EQ(op_list_remove(f), VNV_OK);
    vnv_list_set_step_hook(NULL, NULL);
    vnv_abandon(h); /* the power fails */
    memcpy(f->nv, ckpt_image, SWEEP_NV);
    CHECK_EQ(vnv_open(h, &f->cfg), VNV_OK);
}
#endif

static int alloc_sc(struct fixture *f, int k, uint32_t size, uint32_t seed)
{
    sc[k].size = size;
    return vnv_alloc(&f->heap, size, pattern(seed), &sc[k].h);
}

static void test_sweep_calls(void)
{
    struct fixture f;
    fx_init(&f, SWEEP_NV, SWEEP_RAM, SWEEP_DIRTY);
    f.cfg.on_persist = sweep_on_persist;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    struct vnv_heap *h = &f.heap;
    refs = mmap(NULL, sizeof *refs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(refs != MAP_FAILED);
    memset(sc, 0, sizeof sc);
    sc_list = sc_array = VNV_NULL;
    make_patterns();
    stepped_heap = h;
    bystander_open(); /* (registered after h: h's round comes first when h is free) */
    CHECK_EQ(alloc_sc(&f, SC_R, 64, 1), VNV_OK);
    CHECK_EQ(alloc_sc(&f, SC_A, 24, 2), VNV_OK);
    CHECK_EQ(alloc_sc(&f, SC_B, 200, 3), VNV_OK);
    CHECK_EQ(alloc_sc(&f, SC_C, 40, 4), VNV_OK);
    CHECK_EQ(alloc_sc(&f, SC_D, 24, 5), VNV_OK);
#if !VNV_MINIMAL
    sc[SC_P].size = 512;
    CHECK_EQ(vnv_alloc_blocks(h, 512, 64, pattern(6), &sc[SC_P].h), VNV_OK);
#endif
    CHECK_EQ(vnv_set_root(h, sc[SC_R].h), VNV_OK);
    CHECK_EQ(vnv_checkpoint(h), VNV_OK);
    CHECK_EQ(unload_all(&f), VNV_OK);
    sweep(&f, "size", op_size, 0);
    sweep(&f, "load", op_load, 0);
    sweep(&f, "write-cow", op_write_cow, SW_RESTART);
    sweep(&f, "mut-flush", op_mut_flush, 0);
    sweep(&f, "evict", op_evict, 0);
    sweep(&f, "alloc-free", op_alloc_free, 0);
    CHECK_EQ(vnv_alloc(h, 8, pattern(41), &stale_spare), VNV_OK); /* one unit: its home */
    CHECK_EQ(vnv_flush(h, stale_spare), VNV_OK); /* (its header goes to storage) */
    CHECK_EQ(vnv_free(h, stale_spare), VNV_OK);
    CHECK_EQ(op_stale_spare(&f), 0);
    sweep(&f, "stale-spare", op_stale_spare, SW_NO_SECTION); /* (refused before any) */
    sweep(&f, "new-flush", op_new_flush, 0);
#if !VNV_MINIMAL
    CHECK_EQ(vnv_flush(h, sc[SC_P].h), VNV_OK);
    sweep(&f, "block-flush", op_block_flush, 0);
    CHECK_EQ(unload_all(&f), VNV_OK);
    sweep(&f, "group", op_group, SW_RESTART);
#endif
    CHECK_EQ(unload_all(&f), VNV_OK);
    sweep(&f, "read-peek", op_read_peek, 0);
    sweep(&f, "get-sized", op_get_sized, 0);
#if !VNV_MINIMAL
    CHECK_EQ(unload_all(&f), VNV_OK);
    sweep(&f, "group-abort", op_group_abort, SW_RESTART);
    CHECK_EQ(vnv_checkpoint(h), VNV_OK);
    CHECK_EQ(vnv_get_mut(h, sc[SC_A].h, &(void *){NULL}), VNV_OK);
    CHECK_EQ(vnv_release(h, sc[SC_A].h), VNV_OK);
    CHECK_EQ(vnv_unload(h, sc[SC_A].h), VNV_OK); /* its current slot is fresh now */
    sweep(&f, "group-through", op_group_through, SW_RESTART);
    CHECK_EQ(vnv_list_create(h, SC_ELEM, &sc_list), VNV_OK);
    for (uint32_t i = 0; i < 5; i++)
        CHECK_EQ(vnv_list_push_back(h, sc_list, pattern(20u + i)), VNV_OK);
    CHECK_EQ(vnv_array_create(h, SC_ARRAY_LEN, 8, 64, pattern(30), &sc_array), VNV_OK);
    CHECK_EQ(vnv_checkpoint(h), VNV_OK);
    CHECK_EQ(unload_all(&f), VNV_OK);
    CHECK_EQ(vnv_unload(h, sc_list), VNV_OK);
    CHECK_EQ(vnv_unload(h, sc_array), VNV_OK);
    sweep(&f, "list-push", op_list_push, SW_RESTART);
    sweep(&f, "list-pop", op_list_pop, SW_RESTART);
    sweep(&f, "list-remove", op_list_remove, SW_RESTART);
    sweep(&f, "array-set", op_array_set, 0);
    sweep(&f, "list-push-front", op_list_push_front, SW_RESTART);
    sweep(&f, "list-pop-back", op_list_pop_back, SW_RESTART);
    sweep(&f, "list-peek-mut", op_list_peek_mut, 0);
    CHECK_EQ(vnv_checkpoint(h), VNV_OK);
    CHECK_EQ(vnv_unload(h, sc_array), VNV_OK);
    sweep(&f, "array-views", op_array_views, 0);
    sweep(&f, "array-write-all", op_array_write_all, 0);
    sweep(&f, "set-root", op_set_root, SW_RESTART);
    CHECK_EQ(vnv_set_root(h, sc[SC_R].h), VNV_OK);
    CHECK_EQ(unload_all(&f), VNV_OK);
    sweep(&f, "mark-dirty", op_mark_dirty, 0);
    sweep(&f, "realloc-blocks", op_realloc_blocks, 0);
    sweep(&f, "gather-flush", op_gather_flush, 0);
    boot_mid_remove(&f);
    sweep(&f, "attach-redo", op_attach, SW_RESTART | SW_NO_SECTION); /* resident */
    sweep(&f, "close-open", op_close_open, 0);
    sweep(&f, "list-destroy", op_list_destroy, 0);
    sc_list = VNV_NULL;
    sweep(&f, "array-destroy", op_array_destroy, 0);
    sc_array = VNV_NULL;
#endif
    sweep(&f, "checkpoint", op_checkpoint, 0);
    sweep(&f, "close-open", op_close_open, 0);
    CHECK_EQ(vnv_check(h), VNV_OK);
    CHECK(bystander_wrong(0) == NULL);
    vnv_abandon(&bystander.heap);
    fx_free(&bystander);
    munmap(refs, sizeof *refs);
    fx_free(&f);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGTRAP, &sa, NULL) != 0) {
        perror("sigaction");
        return 1;
    }
    RUN(test_sweep_calls);
    RUN(test_step_default);
#if !VNV_MINIMAL
    RUN(test_step_ram_buddy);
#endif
    return vtest_summary();
}

#else /* not x86-64 Linux */
int main(void)
{
    fprintf(stderr, "test_interrupt_step: skipped (needs the x86-64 trap flag)\n");
    return vtest_summary();
}
#endif
