/*
 * timer_persist.c - power failures from a real interrupt, on QEMU's rv32 `virt` board.
 *
 * The machine-timer interrupt of the CLINT is re-armed after every trap with a
 * pseudo-random delay of TP_MIN_TICKS..TP_MAX_TICKS ticks (10 MHz; under -icount shift=0
 * one tick is 100 instructions), so it fires at arbitrary instruction boundaries of the
 * workload below, inside and outside the library, with references outstanding. The
 * handler calls vnv_persist_all(). The persist-finished callback poisons the whole RAM
 * buffer and reports it lost, so every checkpoint is a simulated power failure followed by
 * a resume from the checkpoint at the same addresses. An interrupt that lands inside one
 * of the heap's critical sections is deferred and the interrupted code checkpoints at the
 * end of that section (vnv_stats().deferred counts them).
 *
 * The workload runs until TP_TARGET callbacks have happened (hard cap TP_MAX_ITERS
 * iterations): ~60 objects of 4..64 bytes on emulated FRAM (a static array), every read
 * compared with a shadow copy that lives in ordinary RAM (not in the heap's buffer, so the
 * wipe never touches it), every error code predicted from the shadow's pins, writes through
 * vnv_get_mut, up to three readers and one writer held over many operations (their bytes
 * are checked through the held pointers while held and when dropped, and again through a
 * fresh vnv_get after release), allocations, frees, flushes, unloads and a periodic
 * vnv_check. After every library call the program also checks that no deferred request
 * was left behind: the contract says it runs at the end of the section, so the heap is
 * never pending when control is back in the application ("lost" below).
 *
 * Output: a few statistics lines, `deferred D, restores R`, then exactly one of
 *   OK: survived N power failures, 0 lost          (exit status 0)
 *   FAIL: <the first mismatch>                     (exit status 1)
 * With picolibc's semihosting crt0, QEMU's exit status is main()'s return value.
 *
 * Trap entry: a 16-register asm stub (below) saves every caller-saved register of the
 * ilp32 ABI (ra, t0-t6, a0-a7), calls tp_trap() in C, restores them and returns with mret.
 * Callee-saved registers (s0-s11) are preserved by tp_trap and everything it calls, as for
 * any C call; gp and tp are never written by C code. GCC's interrupt("machine") attribute
 * would do the same, but the stub makes the saved set explicit and reviewable.
 *
 * Build-time knobs (-D...): TP_SEED (workload), TP_IRQ_SEED (interrupt jitter),
 * TP_TARGET, TP_MAX_ITERS, TP_MIN_TICKS, TP_MAX_TICKS, TP_RAM_BUDDY, TP_ADDRORDER.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

#ifndef TP_SEED
#define TP_SEED 1u
#endif
#ifndef TP_IRQ_SEED
#define TP_IRQ_SEED 7u
#endif
#ifndef TP_TARGET
#define TP_TARGET 2000u /* power failures (callbacks) to survive */
#endif
#ifndef TP_MAX_ITERS
#define TP_MAX_ITERS 200000u /* hard cap on workload iterations (~20x what 2000 need) */
#endif
#ifndef TP_MIN_TICKS
#define TP_MIN_TICKS 700u
#endif
#ifndef TP_MAX_TICKS
#define TP_MAX_TICKS 2000u
#endif
#ifndef TP_RAM_BUDDY
#define TP_RAM_BUDDY 0 /* 1: vnv_ram_buddy instead of the default first-fit */
#endif
#ifndef TP_ADDRORDER
#define TP_ADDRORDER 0 /* 1: vnv_policy_addrorder instead of the default clock */
#endif

/* ---- the machine: CLINT and CSRs -------------------------------------------------------- */

#define CLINT_MTIMECMP 0x02004000u /* hart 0 */
#define CLINT_MTIME 0x0200BFF8u
#define MCAUSE_INT 0x80000000u
#define IRQ_M_TIMER 7u
#define MIE_MTIE (1u << 7)
#define MSTATUS_MIE (1u << 3)

/* The assembler needs the CSR extension enabled locally (see TOOLCHAINS.md). */
#define CSR_READ(csr)                                                                     \
    __extension__({                                                                       \
        uint32_t v_;                                                                      \
        __asm__ __volatile__(".option push\n.option arch, +zicsr\ncsrr %0, " #csr          \
                             "\n.option pop"                                              \
                             : "=r"(v_)                                                   \
                             :                                                            \
                             : "memory");                                                 \
        v_;                                                                               \
    })
#define CSR_WRITE(csr, val)                                                               \
    __asm__ __volatile__(".option push\n.option arch, +zicsr\ncsrw " #csr ", %0\n.option pop" \
                         :                                                                \
                         : "r"((uint32_t)(val))                                           \
                         : "memory")
#define CSR_SET(csr, bits)                                                                \
    __asm__ __volatile__(".option push\n.option arch, +zicsr\ncsrs " #csr ", %0\n.option pop" \
                         :                                                                \
                         : "r"((uint32_t)(bits))                                          \
                         : "memory")
#define CSR_CLEAR(csr, bits)                                                              \
    __asm__ __volatile__(".option push\n.option arch, +zicsr\ncsrc " #csr ", %0\n.option pop" \
                         :                                                                \
                         : "r"((uint32_t)(bits))                                          \
                         : "memory")

static volatile uint32_t *const mtime_lo = (volatile uint32_t *)CLINT_MTIME;
static volatile uint32_t *const mtime_hi = (volatile uint32_t *)(CLINT_MTIME + 4u);
static volatile uint32_t *const mtimecmp_lo = (volatile uint32_t *)CLINT_MTIMECMP;
static volatile uint32_t *const mtimecmp_hi = (volatile uint32_t *)(CLINT_MTIMECMP + 4u);

static uint64_t mtime_read(void)
{
    uint32_t hi, lo;
    do {
        hi = *mtime_hi;
        lo = *mtime_lo;
    } while (hi != *mtime_hi);
    return (uint64_t)hi << 32 | lo;
}

/* 64-bit compare register on a 32-bit bus: park the high word first so that no transient
 * value below `t` is ever visible. */
static void mtimecmp_write(uint64_t t)
{
    *mtimecmp_hi = 0xFFFFFFFFu;
    *mtimecmp_lo = (uint32_t)t;
    *mtimecmp_hi = (uint32_t)(t >> 32);
}

static uint64_t counter64(int which)
{
    uint32_t hi, lo;
    do {
        if (which) {
            hi = CSR_READ(minstreth);
            lo = CSR_READ(minstret);
        } else {
            hi = CSR_READ(mcycleh);
            lo = CSR_READ(mcycle);
        }
    } while (hi != (which ? CSR_READ(minstreth) : CSR_READ(mcycleh)));
    return (uint64_t)hi << 32 | lo;
}

/* ---- trap entry (asm) ---------------------------------------------------------------------- */

void tp_trap_entry(void); /* defined below, installed in mtvec (direct mode) */
void tp_trap(void);       /* the C part, called by tp_trap_entry */

__asm__(".pushsection .text.tp_trap_entry, \"ax\", @progbits\n"
        ".balign 4\n" /* mtvec direct mode: BASE must be 4-byte aligned */
        ".globl tp_trap_entry\n"
        ".type tp_trap_entry, @function\n"
        "tp_trap_entry:\n"
        "  addi sp, sp, -64\n" /* 16 words; keeps the 16-byte stack alignment */
        "  sw ra,  0(sp)\n"
        "  sw t0,  4(sp)\n"
        "  sw t1,  8(sp)\n"
        "  sw t2, 12(sp)\n"
        "  sw t3, 16(sp)\n"
        "  sw t4, 20(sp)\n"
        "  sw t5, 24(sp)\n"
        "  sw t6, 28(sp)\n"
        "  sw a0, 32(sp)\n"
        "  sw a1, 36(sp)\n"
        "  sw a2, 40(sp)\n"
        "  sw a3, 44(sp)\n"
        "  sw a4, 48(sp)\n"
        "  sw a5, 52(sp)\n"
        "  sw a6, 56(sp)\n"
        "  sw a7, 60(sp)\n"
        "  call tp_trap\n"
        "  lw ra,  0(sp)\n"
        "  lw t0,  4(sp)\n"
        "  lw t1,  8(sp)\n"
        "  lw t2, 12(sp)\n"
        "  lw t3, 16(sp)\n"
        "  lw t4, 20(sp)\n"
        "  lw t5, 24(sp)\n"
        "  lw t6, 28(sp)\n"
        "  lw a0, 32(sp)\n"
        "  lw a1, 36(sp)\n"
        "  lw a2, 40(sp)\n"
        "  lw a3, 44(sp)\n"
        "  lw a4, 48(sp)\n"
        "  lw a5, 52(sp)\n"
        "  lw a6, 56(sp)\n"
        "  lw a7, 60(sp)\n"
        "  addi sp, sp, 64\n"
        "  mret\n"
        ".size tp_trap_entry, . - tp_trap_entry\n"
        ".popsection\n");

/* ---- state shared with the interrupt ------------------------------------------------------- */

static volatile uint32_t irq_count;     /* timer interrupts taken */
static volatile uint32_t irq_direct;    /* ... whose vnv_persist_all ran the checkpoint */
static volatile uint32_t irq_errors;    /* vnv_persist_all returned an error */
static volatile int irq_first_error;
static volatile uint32_t cb_count;      /* persist callbacks = power failures survived */
static volatile uint32_t cb_from_main;  /* ... run by interrupted code (deferred) */
static volatile uint32_t cb_bad_status; /* callbacks with status < 0 */
static volatile int cb_first_status;
static volatile uint32_t irq_defer_pc;  /* mepc of the last interrupt that was deferred */
static volatile uint8_t in_trap;
/* Instruction counts (minstret, low word; durations only). */
static volatile uint64_t persist_insn_sum;  /* direct checkpoints: ckpt + wipe + restore */
static volatile uint32_t persist_insn_max;
static volatile uint32_t defer_t0;          /* first uncovered deferral, 0 = none */
static volatile uint32_t defer_max;         /* deferral -> checkpoint, outside vnv_check */
static volatile uint32_t defer_max_check;   /* ... while vnv_check holds its section */
static volatile uint8_t main_persist;       /* a deferred checkpoint ran in this library call */
static volatile uint8_t in_check;
/* Deferred requests not yet followed by a callback; at the end of each library call they
 * are either answered (a callback came after them) or absorbed (persist_now cleared the
 * pending flag after its callback, e.g. a request that arrived during the restore). */
static volatile uint32_t irq_owed;
static volatile uint32_t irq_answered;
static uint32_t irq_absorbed;
static volatile uint8_t timer_armed;
static uint32_t irq_rng = TP_IRQ_SEED; /* touched by the handler only */

static uint32_t irq_delay(void)
{
    irq_rng = irq_rng * 1664525u + 1013904223u;
    return TP_MIN_TICKS + (irq_rng >> 8) % (TP_MAX_TICKS - TP_MIN_TICKS + 1u);
}

/* Program the next interrupt relative to now, after the handler's own work, so that the
 * application always runs TP_MIN_TICKS..TP_MAX_TICKS ticks between two interrupts. */
static void timer_rearm(void)
{
    if (timer_armed)
        mtimecmp_write(mtime_read() + irq_delay());
    else
        mtimecmp_write(UINT64_MAX);
}

void tp_trap(void)
{
    uint32_t cause = CSR_READ(mcause);
    if (cause == (MCAUSE_INT | IRQ_M_TIMER)) {
        uint32_t before = cb_count, t0 = CSR_READ(minstret);
        irq_count++;
        in_trap = 1;
        int err = vnv_persist_all();
        in_trap = 0;
        if (cb_count != before) {
            uint32_t d = CSR_READ(minstret) - t0;
            irq_direct++;
            persist_insn_sum += d;
            if (d > persist_insn_max)
                persist_insn_max = d;
        } else {
            irq_defer_pc = CSR_READ(mepc);
            irq_owed++;
            /* Latency is measured from the first deferral that a later checkpoint must
             * cover; deferrals while a deferred checkpoint itself runs are covered by it. */
            if (!main_persist && !defer_t0)
                defer_t0 = t0 | 1u;
        }
        if (err < 0 && !irq_errors++)
            irq_first_error = err;
        timer_rearm();
        return;
    }
    /* A synchronous exception (an atomic on the ibex core, a bad access...): fatal. */
    CSR_CLEAR(mie, MIE_MTIE);
    fprintf(stderr, "FAIL: unexpected trap mcause=0x%08lx mepc=0x%08lx mtval=0x%08lx\n",
            (unsigned long)cause, (unsigned long)CSR_READ(mepc),
            (unsigned long)CSR_READ(mtval));
    _Exit(1);
}

/* Clear mstatus.MIE, returning the previous mstatus; irq_unmask restores MIE from it. */
static uint32_t irq_mask(void)
{
    uint32_t old;
    __asm__ __volatile__(".option push\n.option arch, +zicsr\ncsrrc %0, mstatus, %1\n.option pop"
                         : "=r"(old)
                         : "r"(MSTATUS_MIE)
                         : "memory");
    return old;
}

static void irq_unmask(uint32_t old)
{
    if (old & MSTATUS_MIE)
        CSR_SET(mstatus, MSTATUS_MIE);
}

static void timer_start(void)
{
    timer_armed = 1;
    mtimecmp_write(mtime_read() + irq_delay());
    CSR_SET(mie, MIE_MTIE);
    CSR_SET(mstatus, MSTATUS_MIE);
}

static void timer_stop(void)
{
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    CSR_CLEAR(mie, MIE_MTIE);
    timer_armed = 0;
    mtimecmp_write(UINT64_MAX);
}

/* ---- the heap ------------------------------------------------------------------------------ */

#define FRAM_SIZE 16384u
#define RAM_SIZE 1536u
#define MAX_DIRTY 384u
#define POISON 0xDBu

static uint8_t fram[FRAM_SIZE];                  /* the emulated non-volatile memory */
static uint64_t ram_buf[RAM_SIZE / 8u];          /* the heap's RAM buffer (wiped) */
static struct vnv_emu emu;
static struct vnv_storage storage;
static struct vnv_heap heap;

static int on_persist(void *user, int status, void *buf, size_t len)
{
    (void)user;
    if (status < 0) {
        if (!cb_bad_status++)
            cb_first_status = status;
        return 0; /* keep RAM: the program reports the failure */
    }
    /* A deferred checkpoint runs this from application context with interrupts enabled;
     * mask them for the bookkeeping only (the handler updates irq_owed). */
    uint32_t mstatus = irq_mask();
    cb_count++;
    irq_answered += irq_owed;
    irq_owed = 0;
    if (!in_trap) {
        cb_from_main++;
        main_persist = 1;
    }
    if (defer_t0) {
        uint32_t d = CSR_READ(minstret) - defer_t0;
        if (in_check && d > defer_max_check)
            defer_max_check = d;
        else if (!in_check && d > defer_max)
            defer_max = d;
        defer_t0 = 0;
    }
    irq_unmask(mstatus);
    memset(buf, POISON, len); /* the power failure: RAM content is gone */
    return 1;
}

/* ---- shadow model (ordinary RAM, never wiped) ------------------------------------------------ */

#define NSLOTS 64u
#define TARGET_LIVE 60u
#define MIN_LIVE 40u
#define MAX_OBJ 64u
#define NREADERS 3u

struct sobj {
    vnv_obj_t h;
    uint8_t live, size, readers, writer;
    uint8_t val[MAX_OBJ];
};

struct held_reader {
    int slot; /* -1: empty */
    const uint8_t *p;
    uint32_t left;
};

struct held_writer {
    int slot;
    uint8_t *p;
    uint32_t left;
};

static struct sobj sh[NSLOTS];
static uint32_t nlive;
static struct held_reader hr[NREADERS];
static struct held_writer hw;
static uint32_t rng = TP_SEED;
static uint32_t iter;
static uint32_t lost;
static uint32_t check_insn_max;

static struct {
    uint32_t reads, writes, allocs, frees, flushes, unloads, sizes, busy, checks;
    uint32_t holds, held_writes;
} ops;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint32_t rnd_range(uint32_t lo, uint32_t hi) { return lo + rnd() % (hi - lo + 1u); }

static int fail(const char *what, int slot, int got, int want)
{
    timer_stop();
    fprintf(stderr, "FAIL: iteration %lu: %s (slot %d): got %d (%s), expected %d (%s)\n",
            (unsigned long)iter, what, slot, got, vnv_strerror(got), want, vnv_strerror(want));
    return 1;
}

static int fail_bytes(const char *what, int slot, const uint8_t *got, const uint8_t *want,
                      uint32_t n)
{
    timer_stop();
    uint32_t i = 0;
    while (i < n && got[i] == want[i])
        i++;
    fprintf(stderr, "FAIL: iteration %lu: %s (slot %d): byte %lu of %lu is 0x%02x, expected "
                    "0x%02x\n",
            (unsigned long)iter, what, slot, (unsigned long)i, (unsigned long)n, got[i],
            want[i]);
    return 1;
}

/* Back in application code after a library call: the heap must not be pending. The flag
 * is private to the heap; reading it is the only way to see a request that was deferred
 * and then never run (the power would have failed without a checkpoint). */
static int after_call(const char *what, int slot)
{
    main_persist = 0;
    irq_absorbed += irq_owed; /* no deferral can happen here: the heap is not busy */
    irq_owed = 0;
    if (heap.pending) {
        lost++;
        timer_stop();
        fprintf(stderr, "FAIL: iteration %lu: after %s (slot %d) a deferred persist request "
                        "is still pending (busy %u; last deferred interrupt at pc 0x%08lx)\n",
                (unsigned long)iter, what, slot, (unsigned)heap.busy,
                (unsigned long)irq_defer_pc);
        return 1;
    }
    return 0;
}

#define CALL(what, slot, expr)                                                            \
    __extension__({                                                                       \
        int r_ = (expr);                                                                  \
        if (after_call((what), (slot)))                                                   \
            return 1;                                                                     \
        r_;                                                                               \
    })

#define EXPECT(what, slot, got, want)                                                     \
    do {                                                                                  \
        int g_ = (got), w_ = (want);                                                      \
        if (g_ != w_)                                                                     \
            return fail((what), (slot), g_, w_);                                          \
    } while (0)

#define EXPECT_BYTES(what, slot, p, s)                                                    \
    do {                                                                                  \
        if (memcmp((p), (s)->val, (s)->size) != 0)                                        \
            return fail_bytes((what), (slot), (p), (s)->val, (s)->size);                  \
    } while (0)

static int pick_live(void)
{
    for (;;) {
        uint32_t s = rnd() % NSLOTS;
        if (sh[s].live)
            return (int)s;
    }
}

static int pick_free_slot(void)
{
    for (;;) {
        uint32_t s = rnd() % NSLOTS;
        if (!sh[s].live)
            return (int)s;
    }
}

static int pinned(const struct sobj *s) { return s->readers || s->writer; }

/* Reading through a fresh pin: BUSY if a writer holds it. */
static int op_read(int i)
{
    struct sobj *s = &sh[i];
    const void *p = NULL;
    int err = CALL("get", i, vnv_get(&heap, s->h, &p));
    ops.reads++;
    if (s->writer) {
        ops.busy++;
        EXPECT("get of a writer-held object", i, err, VNV_ERR_BUSY);
        return 0;
    }
    EXPECT("get", i, err, VNV_OK);
    EXPECT_BYTES("read", i, (const uint8_t *)p, s);
    EXPECT("release after get", i, CALL("release", i, vnv_release(&heap, s->h)), VNV_OK);
    return 0;
}

static void scribble(struct sobj *s, uint8_t *p)
{
    uint32_t n = rnd_range(1, s->size);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t at = rnd() % s->size;
        uint8_t v = (uint8_t)rnd();
        p[at] = v;
        s->val[at] = v;
    }
}

static int op_write(int i)
{
    struct sobj *s = &sh[i];
    void *p = NULL;
    int err = CALL("get_mut", i, vnv_get_mut(&heap, s->h, &p));
    ops.writes++;
    if (pinned(s)) {
        ops.busy++;
        EXPECT("get_mut of a pinned object", i, err, VNV_ERR_BUSY);
        return 0;
    }
    EXPECT("get_mut", i, err, VNV_OK);
    EXPECT_BYTES("get_mut content", i, (uint8_t *)p, s);
    scribble(s, p);
    EXPECT("release after get_mut", i, CALL("release", i, vnv_release(&heap, s->h)), VNV_OK);
    return 0;
}

static int op_alloc(void)
{
    int i = pick_free_slot();
    struct sobj *s = &sh[i];
    uint8_t init[MAX_OBJ];
    uint32_t size = rnd_range(4, MAX_OBJ);
    int zero = rnd() % 8u == 0;
    for (uint32_t k = 0; k < size; k++)
        init[k] = zero ? 0 : (uint8_t)rnd();
    vnv_obj_t o;
    int err = CALL("alloc", i, vnv_alloc(&heap, size, zero ? NULL : init, &o));
    ops.allocs++;
    EXPECT("alloc", i, err, VNV_OK);
    s->h = o;
    s->live = 1;
    s->size = (uint8_t)size;
    s->readers = s->writer = 0;
    memcpy(s->val, init, size);
    nlive++;
    return 0;
}

static int op_free(int i)
{
    struct sobj *s = &sh[i];
    int err = CALL("free", i, vnv_free(&heap, s->h));
    ops.frees++;
    if (pinned(s)) {
        ops.busy++;
        EXPECT("free of a pinned object", i, err, VNV_ERR_BUSY);
        return 0;
    }
    EXPECT("free", i, err, VNV_OK);
    const void *p;
    EXPECT("get of a freed handle", i, CALL("get", i, vnv_get(&heap, s->h, &p)),
           VNV_ERR_INVAL);
    s->live = 0;
    nlive--;
    return 0;
}

static int op_flush(int i)
{
    struct sobj *s = &sh[i];
    int err = CALL("flush", i, vnv_flush(&heap, s->h));
    ops.flushes++;
    if (s->writer) {
        ops.busy++;
        EXPECT("flush of a writer-held object", i, err, VNV_ERR_BUSY);
        return 0;
    }
    EXPECT("flush", i, err, VNV_OK);
    EXPECT("dirty after flush", i, CALL("is_dirty", i, vnv_is_dirty(&heap, s->h)), 0);
    return 0;
}

static int op_unload(int i)
{
    struct sobj *s = &sh[i];
    int err = CALL("unload", i, vnv_unload(&heap, s->h));
    ops.unloads++;
    if (pinned(s)) {
        ops.busy++;
        EXPECT("unload of a pinned object", i, err, VNV_ERR_BUSY);
        return 0;
    }
    EXPECT("unload", i, err, VNV_OK);
    EXPECT("resident after unload", i, CALL("is_resident", i, vnv_is_resident(&heap, s->h)),
           0);
    return 0;
}

static int op_size(int i)
{
    size_t n = 0;
    EXPECT("size", i, CALL("size", i, vnv_size(&heap, sh[i].h, &n)), VNV_OK);
    EXPECT("size value", i, (int)n, sh[i].size);
    ops.sizes++;
    return 0;
}

/* After a held pin is dropped: the object must still read back as the shadow says. */
static int reread(int i, const char *what)
{
    const void *p = NULL;
    EXPECT(what, i, CALL("get", i, vnv_get(&heap, sh[i].h, &p)), VNV_OK);
    EXPECT_BYTES(what, i, (const uint8_t *)p, &sh[i]);
    EXPECT(what, i, CALL("release", i, vnv_release(&heap, sh[i].h)), VNV_OK);
    return 0;
}

/* Held references: take, check while held, check and drop when their time is up. */
static int step_held(void)
{
    for (uint32_t k = 0; k < NREADERS; k++) {
        struct held_reader *r = &hr[k];
        if (r->slot < 0) {
            if (rnd() % 64u)
                continue;
            int i = pick_live();
            if (sh[i].writer)
                continue;
            const void *p = NULL;
            EXPECT("held get", i, CALL("get", i, vnv_get(&heap, sh[i].h, &p)), VNV_OK);
            EXPECT_BYTES("held get content", i, (const uint8_t *)p, &sh[i]);
            sh[i].readers++;
            r->slot = i;
            r->p = p;
            r->left = rnd_range(20, 400);
            ops.holds++;
            continue;
        }
        struct sobj *s = &sh[r->slot];
        EXPECT_BYTES("held reader bytes", r->slot, r->p, s);
        if (--r->left)
            continue;
        int i = r->slot;
        EXPECT("held reader release", i, CALL("release", i, vnv_release(&heap, s->h)), VNV_OK);
        s->readers--;
        r->slot = -1;
        if (reread(i, "re-read after held reader"))
            return 1;
    }
    if (hw.slot < 0) {
        if (rnd() % 64u)
            return 0;
        int i = pick_live();
        if (pinned(&sh[i]))
            return 0;
        void *p = NULL;
        EXPECT("held get_mut", i, CALL("get_mut", i, vnv_get_mut(&heap, sh[i].h, &p)), VNV_OK);
        EXPECT_BYTES("held get_mut content", i, (uint8_t *)p, &sh[i]);
        sh[i].writer = 1;
        hw.slot = i;
        hw.p = p;
        hw.left = rnd_range(20, 400);
        ops.holds++;
        return 0;
    }
    struct sobj *s = &sh[hw.slot];
    EXPECT_BYTES("held writer bytes", hw.slot, hw.p, s);
    if (rnd() % 4u == 0) {
        scribble(s, hw.p);
        ops.held_writes++;
    }
    if (--hw.left)
        return 0;
    int i = hw.slot;
    EXPECT_BYTES("held writer bytes at release", i, hw.p, s);
    EXPECT("held writer release", i, CALL("release", i, vnv_release(&heap, s->h)), VNV_OK);
    s->writer = 0;
    hw.slot = -1;
    return reread(i, "re-read after held writer");
}

static int step(void)
{
    if (step_held())
        return 1;
    uint32_t r = rnd() % 100u;
    if (r < 30)
        return op_read(pick_live());
    if (r < 55)
        return op_write(pick_live());
    if (r < 65)
        return nlive < TARGET_LIVE ? op_alloc() : op_free(pick_live());
    if (r < 72)
        return nlive > MIN_LIVE ? op_free(pick_live()) : op_alloc();
    if (r < 82)
        return op_flush(pick_live());
    if (r < 92)
        return op_unload(pick_live());
    return op_size(pick_live());
}

static int run(void)
{
    struct vnv_config cfg;
    memset(&cfg, 0, sizeof cfg);
    vnv_emu_init(&emu, fram, sizeof fram, NULL);
    vnv_emu_storage(&emu, &storage);
    cfg.storage = &storage;
    cfg.buffer = ram_buf;
    cfg.buffer_size = sizeof ram_buf;
    cfg.max_dirty_bytes = MAX_DIRTY;
    cfg.on_persist = on_persist;
#if TP_RAM_BUDDY
    cfg.ram_allocator = &vnv_ram_buddy;
#endif
#if TP_ADDRORDER
    cfg.policy = &vnv_policy_addrorder;
#endif
    EXPECT("format", -1, vnv_format(&heap, &cfg), VNV_OK);
    for (uint32_t k = 0; k < NREADERS; k++)
        hr[k].slot = -1;
    hw.slot = -1;
    while (nlive < TARGET_LIVE)
        if (op_alloc())
            return 1;

    uint64_t i0 = counter64(1), c0 = counter64(0);
    timer_start();
    for (iter = 0; iter < TP_MAX_ITERS && cb_count < TP_TARGET; iter++) {
        if (step())
            return 1;
        if (iter % 512u == 511u) {
            uint32_t t0 = CSR_READ(minstret);
            in_check = 1;
            int err = vnv_check(&heap);
            in_check = 0;
            uint32_t d = CSR_READ(minstret) - t0;
            if (d > check_insn_max)
                check_insn_max = d;
            if (after_call("check", -1))
                return 1;
            EXPECT("vnv_check", -1, err, VNV_OK);
            ops.checks++;
        }
        if (irq_errors)
            return fail("vnv_persist_all from the interrupt", -1, irq_first_error, VNV_OK);
        if (cb_bad_status)
            return fail("checkpoint status in the callback", -1, cb_first_status, VNV_OK);
    }
    timer_stop();
    uint64_t instret = counter64(1) - i0, cycles = counter64(0) - c0;

    /* Drop the held references (checking them once more), then check everything. */
    for (uint32_t k = 0; k < NREADERS; k++)
        if (hr[k].slot >= 0) {
            EXPECT_BYTES("held reader bytes at end", hr[k].slot, hr[k].p, &sh[hr[k].slot]);
            EXPECT("release at end", hr[k].slot, vnv_release(&heap, sh[hr[k].slot].h), VNV_OK);
            sh[hr[k].slot].readers--;
        }
    if (hw.slot >= 0) {
        EXPECT_BYTES("held writer bytes at end", hw.slot, hw.p, &sh[hw.slot]);
        EXPECT("release at end", hw.slot, vnv_release(&heap, sh[hw.slot].h), VNV_OK);
        sh[hw.slot].writer = 0;
    }
    for (uint32_t k = 0; k < NSLOTS; k++)
        if (sh[k].live && reread((int)k, "final read"))
            return 1;
    EXPECT("final vnv_check", -1, vnv_check(&heap), VNV_OK);

    struct vnv_stats st;
    EXPECT("stats", -1, vnv_stats(&heap, &st), VNV_OK);
    printf("iterations %lu: reads %lu, writes %lu (+%lu through the held writer), allocs %lu, "
           "frees %lu, flushes %lu, unloads %lu, sizes %lu, busy %lu, holds %lu, checks %lu\n",
           (unsigned long)iter, (unsigned long)ops.reads, (unsigned long)ops.writes,
           (unsigned long)ops.held_writes, (unsigned long)ops.allocs,
           (unsigned long)ops.frees, (unsigned long)ops.flushes, (unsigned long)ops.unloads,
           (unsigned long)ops.sizes, (unsigned long)ops.busy, (unsigned long)ops.holds,
           (unsigned long)ops.checks);
    printf("heap: loads %lu, flushes %lu, evictions %lu, checkpoints %lu, peak checkpoint "
           "%lu of %lu bytes\n",
           (unsigned long)st.loads, (unsigned long)st.flushes, (unsigned long)st.evictions,
           (unsigned long)st.persists, (unsigned long)st.peak_checkpoint_bytes,
           (unsigned long)st.bound);
    printf("interrupts %lu: checkpointed in the handler %lu, deferred %lu; deferred "
           "checkpoints run by interrupted code %lu\n",
           (unsigned long)irq_count, (unsigned long)irq_direct, (unsigned long)st.deferred,
           (unsigned long)cb_from_main);
    printf("deferred requests: %lu answered by a later checkpoint, %lu absorbed by a "
           "deferred checkpoint already past its callback\n",
           (unsigned long)irq_answered, (unsigned long)irq_absorbed);
    printf("instructions %llu, cycles %llu (minstret/mcycle over the loop)\n",
           (unsigned long long)instret, (unsigned long long)cycles);
    printf("instructions per checkpoint in the handler (write + wipe + restore): mean %lu, "
           "max %lu\n",
           (unsigned long)(irq_direct ? persist_insn_sum / irq_direct : 0),
           (unsigned long)persist_insn_max);
    printf("deferral latency (interrupt -> its checkpoint), instructions: max %lu; "
           "max %lu while vnv_check ran (one check: max %lu)\n",
           (unsigned long)defer_max, (unsigned long)defer_max_check,
           (unsigned long)check_insn_max);
    printf("deferred %lu, restores %lu\n", (unsigned long)st.deferred,
           (unsigned long)st.restores);

    if (cb_count < TP_TARGET)
        return fail("power failures before the iteration cap", -1, (int)cb_count,
                    (int)TP_TARGET);
    if (st.deferred == 0)
        return fail("deferred interrupts (the deferral path never ran)", -1, 0, 1);
    if (st.restores != cb_count)
        return fail("restores == power failures", -1, (int)st.restores, (int)cb_count);
    if (irq_direct + st.deferred != irq_count)
        return fail("direct + deferred == interrupts", -1, (int)(irq_direct + st.deferred),
                    (int)irq_count);
    printf("OK: survived %lu power failures, %lu lost\n", (unsigned long)cb_count,
           (unsigned long)lost);
    return 0;
}

int main(void)
{
    CSR_WRITE(mtvec, (uint32_t)(uintptr_t)tp_trap_entry); /* direct mode; catches exceptions too */
    int r = run();
    timer_stop();
    fflush(stdout);
    return r;
}
