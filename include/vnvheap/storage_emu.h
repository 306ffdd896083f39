/*
 * vnvheap/storage_emu.h - emulated FRAM over a caller-provided RAM array.
 *
 * The array is the non-volatile content: vnv_emu_init never clears it, so a test can
 * "reboot" by re-initialising the heap over the same array. On top of plain storage the
 * emulator offers what tests and benchmarks need:
 *   - counters and a modeled device time (struct vnv_emu_cost);
 *   - power cuts at an exact byte: the write in flight is torn, later writes are dropped;
 *   - injected VNV_ERR_IO on the k-th read, write or sync.
 *
 * Freestanding: needs only <string.h> and <stdint.h>; no allocation, no I/O.
 * Not thread-safe; one emulator serves one storage.
 *
 * Every call of a callback counts as one device transaction. Calls that are rejected
 * before reaching the device (out of range, NULL buffer) and empty calls (len 0, or a
 * writev totalling 0 bytes) change nothing: no counter, no modeled time, no tick of the
 * failure countdowns. An injected failure takes precedence over a power cut.
 *
 * The functions below other than vnv_emu_init take an initialised emulator (not NULL).
 */
#ifndef VNVHEAP_STORAGE_EMU_H
#define VNVHEAP_STORAGE_EMU_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Cost model: a transaction of `len` bytes costs tx_ns + len * byte_ns; a sync sync_ns. */
struct vnv_emu_cost {
    uint32_t read_tx_ns;
    uint32_t read_byte_ns;
    uint32_t write_tx_ns;
    uint32_t write_byte_ns;
    uint32_t sync_ns;
};

/* Fitted to the vNV-Heap paper's ESP32-C3 + MB85RS4MT measurements (FRAM accessed in
 * 4-byte slices, 1 tick = 62.5 ns). Dominated by per-byte driver overhead, not the bus. */
extern const struct vnv_emu_cost vnv_emu_profile_paper;
/* First principles for an SPI FRAM on a 40 MHz bus (see emu.c for the derivation). */
extern const struct vnv_emu_cost vnv_emu_profile_spi40;
/* Everything costs 0 (the default when no cost model is given). */
extern const struct vnv_emu_cost vnv_emu_profile_free;

/*
 * Emulator state. The fields are public for inspection only: users read them, never
 * write them (use the functions below).
 */
struct vnv_emu {
    uint8_t *mem;  /* the emulated non-volatile content */
    uint32_t size; /* bytes in mem */
    struct vnv_emu_cost cost;

    /* Counters (vnv_emu_reset_counters clears them). A failing call (injected error)
     * counts as a call and is charged its tx cost, but none of its bytes. Writes dropped
     * or torn by a power cut are counted in full: the firmware believes they happened. */
    uint64_t read_calls;
    uint64_t write_calls; /* write and writev: one each */
    uint64_t sync_calls;
    uint64_t read_bytes;
    uint64_t write_bytes;
    uint64_t lost_bytes; /* bytes reported written that never landed (power cut) */
    uint64_t modeled_ns; /* sum of the modeled cost of every counted call */

    /* Power-cut state. */
    int power_off;      /* 1: writes and syncs are silently dropped */
    int cut_armed;      /* 1: cut_left counts down */
    uint64_t cut_left;  /* bytes that may still land before the power goes off */

    /* Error-injection state: countdowns (0 = disarmed) and the sticky write failure. */
    uint32_t fail_read_in;
    uint32_t fail_write_in;
    uint32_t fail_sync_in;
    int fail_writes;
};

/*
 * Set up `e` over the array [mem, mem + size) with a copy of `*cost` (NULL = all zero).
 * The content of `mem` is left as is. Counters are zero, power is on, nothing is armed.
 * Returns VNV_OK, or VNV_ERR_INVAL if e or mem is NULL or size is 0. O(1).
 */
int vnv_emu_init(struct vnv_emu *e, void *mem, uint32_t size, const struct vnv_emu_cost *cost);

/*
 * Fill `*out` with the callbacks (read, write, writev, sync) of `e`; ctx = e, size = e->size.
 * writev is one transaction: one write_tx_ns plus the bytes of all pieces.
 * The callbacks return VNV_ERR_INVAL for a range outside [0, size) or a NULL buffer with
 * a non-zero length, VNV_ERR_IO when an injected failure fires, else VNV_OK.
 * Does nothing if e or out is NULL. O(1); each callback is O(len) (writev O(cnt + len)).
 */
void vnv_emu_storage(struct vnv_emu *e, struct vnv_storage *out);

/* Zero every counter, lost_bytes and modeled_ns. Leaves power and injection state. O(1). */
void vnv_emu_reset_counters(struct vnv_emu *e);

/*
 * Arm a power cut: the next `bytes` written bytes land, then the power is off. The write
 * (or writev) that crosses the limit is torn: only its first bytes up to the limit land,
 * in piece order for writev. While the power is off every write and sync returns VNV_OK
 * and changes nothing (the firmware cannot tell yet); reads keep working.
 * The power goes off as soon as the limit is reached, so bytes == 0 turns it off now and
 * the very next written byte is lost. Replaces an earlier arming; does not power on a
 * device that is already off. O(1).
 */
void vnv_emu_cut_power_after(struct vnv_emu *e, uint64_t bytes);

/* 1 if the power is off (a cut has happened), else 0. O(1). */
int vnv_emu_power_is_off(const struct vnv_emu *e);

/* Power on and disarm the cut. Memory keeps what landed; counters are unchanged. O(1). */
void vnv_emu_power_on(struct vnv_emu *e);

/*
 * One-shot failures: the k-th read (write or writev; sync) call from now returns
 * VNV_ERR_IO without touching memory; k = 1 is the next call, k = 0 disarms. A new call
 * replaces the earlier countdown of the same kind. O(1).
 */
void vnv_emu_fail_read_at(struct vnv_emu *e, uint32_t k);
void vnv_emu_fail_write_at(struct vnv_emu *e, uint32_t k);
void vnv_emu_fail_sync_at(struct vnv_emu *e, uint32_t k);

/* Sticky failure: while `on` is non-zero every write and writev returns VNV_ERR_IO and
 * writes nothing. O(1). */
void vnv_emu_fail_all_writes(struct vnv_emu *e, int on);

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_STORAGE_EMU_H */
