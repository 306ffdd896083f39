/*
 * vnvheap/storage_spi_fram.h - SPI FRAM storage backend (Fujitsu MB85RS64V, MB85RS4MT,
 * or any SPI FRAM/MRAM with the same command set, described by a "custom" chip).
 *
 * The driver talks to the chip through a small user-supplied bus interface
 * (struct vnv_spi_bus), so one driver serves Zephyr, ESP-IDF and bare metal
 * (docs/PORTING.md shows the glue for each).
 *
 * Protocol (the chip's command set):
 *   WREN  0x06                       its own CS cycle, before every WRITE and WRSR
 *   WRITE 0x02 + address + data      one CS cycle; a gather write (writev) streams every
 *                                    piece in this ONE command
 *   READ  0x03 + address -> data     one CS cycle
 *   RDSR  0x05 -> status             one CS cycle
 *   WRSR  0x01 + status              one CS cycle (only used by init, see below)
 *   RDID  0x9F -> id bytes           one CS cycle, checked by init
 * Addresses are sent big-endian, in the chip's number of address bytes. FRAM writes are
 * durable when chip select rises: the storage's `sync` is NULL (storage.h: "durable when
 * write returns").
 *
 * Cost, from first principles. A read of n bytes clocks 1 + A + n bytes in 1 CS cycle; a
 * write (or writev) of n bytes clocks 1 + (1 + A + n) bytes in 2 CS cycles (WREN, WRITE),
 * A = address bytes. The counters in struct vnv_spi_fram record exactly this, so
 *   time = bytes x 8 / f_spi + cs_cycles x (CS setup/hold + gap) [+ calls x driver overhead].
 *
 * Freestanding: needs only <stdint.h> and <stddef.h>; no allocation, no recursion, no I/O.
 * Not thread-safe: one struct vnv_spi_fram serves one storage (storage.h's contract already
 * guarantees that the heap never runs two of its callbacks at once).
 *
 * Stack: every callback keeps its segment list on the stack, VNV_SPI_FRAM_MAX_SEGS
 * entries (12 bytes each on a 32-bit target) plus a 5-byte command header, whatever the
 * number of pieces of a writev; longer lists are sent in batches within the same CS cycle
 * (VNV_SPI_HOLD_CS below). With the default of 8, the deepest path (writev) uses about
 * 210 bytes on rv32imc and 240 on Cortex-M3 at -Os (GCC -fstack-usage), plus the bus
 * callback's own.
 */
#ifndef VNVHEAP_STORAGE_SPI_FRAM_H
#define VNVHEAP_STORAGE_SPI_FRAM_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Segments the driver hands to the bus per transfer call (stack use, see above). At
 * least 2. Override in VNV_CONFIG_HEADER. */
#ifndef VNV_SPI_FRAM_MAX_SEGS
#define VNV_SPI_FRAM_MAX_SEGS 8
#endif
#if VNV_SPI_FRAM_MAX_SEGS < 2
#error "VNV_SPI_FRAM_MAX_SEGS must be at least 2"
#endif

/* Longest RDID answer a chip descriptor can check (Cypress/Infineon FM25V: 9 bytes). */
#define VNV_SPI_FRAM_ID_MAX 9

/* ---- the bus interface ------------------------------------------------------------------ */

/*
 * One segment of a transfer: `len` bytes clocked full duplex.
 *   tx  bytes to send, or NULL: the bus sends filler of its choice (0x00 or 0xFF; the chip
 *       ignores its input while it shifts data out);
 *   rx  where the received bytes go, or NULL: discard them.
 * The driver never passes len 0.
 */
struct vnv_spi_seg {
    const uint8_t *tx;
    uint8_t *rx;
    uint32_t len;
};

/* Flag for transfer(): keep chip select asserted when this call returns; the next call
 * continues the same CS cycle. */
#define VNV_SPI_HOLD_CS 1u

/*
 * The SPI bus, as the driver sees it: ONE callback.
 *
 * transfer(ctx, segs, nseg, flags) clocks the segments in order with chip select asserted
 * throughout (asserting it first unless the previous call held it), then deasserts chip
 * select - unless `flags` has VNV_SPI_HOLD_CS, in which case it stays asserted and the
 * next call continues the same CS cycle. 1 <= nseg <= max_segs (or VNV_SPI_FRAM_MAX_SEGS
 * if max_segs is 0), every len <= max_seg_len (if not 0). The callback blocks until the
 * bytes are clocked (the driver reads rx right after) and returns 0, or a negative value
 * on failure - then it must leave chip select deasserted, HOLD or not; the driver maps any
 * non-zero return to VNV_ERR_IO and starts the next operation with a fresh CS cycle.
 *
 * Why one callback with a hold flag, rather than begin/transfer/end callbacks: it is the
 * shape both RTOS SPI drivers already have - Zephyr's SPI_HOLD_ON_CS (+ spi_release) and
 * ESP-IDF's SPI_TRANS_CS_KEEP_ACTIVE - so their glue is a few lines with no state, and a
 * bus that accepts the whole list at once (bare metal, GPIO chip select) never sees the
 * flag at all. Nothing is sent per call that the chip would see: batching changes the
 * number of calls, never the bytes or the CS cycles.
 *
 * From the power-fail interrupt the callback must not sleep, wait on a lock that the
 * interrupted code may hold, or rely on a lower-priority interrupt: use polling transfers
 * (docs/PORTING.md).
 */
struct vnv_spi_bus {
    void *ctx;
    int (*transfer)(void *ctx, const struct vnv_spi_seg *segs, unsigned nseg, unsigned flags);
    /* Most segments per call; 0 or more than VNV_SPI_FRAM_MAX_SEGS = VNV_SPI_FRAM_MAX_SEGS.
     * 1 suits buses that take one buffer pair per transaction (ESP-IDF). */
    unsigned max_segs;
    /* Longest segment; 0 = no limit. Longer runs are split into several segments of the
     * same CS cycle (ESP32-C3 SPI without DMA: 64). */
    uint32_t max_seg_len;
};

/* ---- chips ------------------------------------------------------------------------------ */

/*
 * What the driver needs to know about a chip. RDID answer byte k matches when
 * (answer[k] & id_mask[k]) == (id[k] & id_mask[k]), for k < id_len.
 */
struct vnv_spi_fram_chip {
    const char *name;
    uint32_t capacity;  /* bytes; at most 2^(8 x addr_bytes) */
    uint8_t addr_bytes; /* 1..4, sent big-endian */
    uint8_t id_len;     /* RDID bytes checked by init; 0 = no RDID check */
    uint8_t id[VNV_SPI_FRAM_ID_MAX];
    uint8_t id_mask[VNV_SPI_FRAM_ID_MAX];
};

/* Fujitsu MB85RS64V: 8 KiB, 2 address bytes, RDID 04 7F 03 02. */
extern const struct vnv_spi_fram_chip vnv_spi_fram_mb85rs64v;

/*
 * Fujitsu MB85RS4MT: 512 KiB, 3 address bytes, RDID 04 7F 49 03 per the datasheet; parts
 * answering 04 7F 48 03 (the value the original vNV-Heap driver checks) are accepted too,
 * since datasheet revisions and the original disagree: the mask ignores bit 0 of byte 2.
 * CAUTION: 04 7F 48 03 is also the RDID of the 256 KiB MB85RS2MT(A), which would then be
 * driven as a 512 KiB part and alias its upper half onto its lower half. If your board
 * may carry one, use a custom descriptor with the exact ID you measured.
 */
extern const struct vnv_spi_fram_chip vnv_spi_fram_mb85rs4mt;

/*
 * Fill `*chip` for another part: `id_len` expected leading RDID bytes from `id`, compared
 * exactly (id_len 0: no RDID check - for chips without RDID; a missing chip then goes
 * unnoticed unless its MISO floats high). `name` is kept as a pointer (may be NULL).
 * Errors: INVAL (chip NULL, capacity 0, addr_bytes not 1..4, capacity > 2^(8 x addr_bytes),
 *   id_len > VNV_SPI_FRAM_ID_MAX, id NULL with id_len > 0). O(id_len).
 */
int vnv_spi_fram_chip_custom(struct vnv_spi_fram_chip *chip, const char *name, uint32_t capacity,
                             unsigned addr_bytes, const uint8_t *id, unsigned id_len);

/* ---- the driver ------------------------------------------------------------------------- */

/*
 * Driver state. Fields are public for inspection only: read them, never write them
 * (vnv_spi_fram_reset_counters clears the counters).
 */
struct vnv_spi_fram {
    struct vnv_spi_bus bus;        /* copy of the caller's bus */
    struct vnv_spi_fram_chip chip; /* copy of the caller's descriptor */
    unsigned batch;                /* segments per transfer call actually used */
    uint8_t rdid[VNV_SPI_FRAM_ID_MAX]; /* the chip's RDID answer at init (id_len bytes) */
    uint8_t status;                    /* status register at the end of init */

    /* Counters: every transfer call that returned 0 adds its bytes; a CS cycle counts when
     * its last call returned 0. A failed call counts in `calls` and `errors` only. */
    uint64_t bytes;        /* bytes clocked: opcodes, addresses, data, status, id */
    uint64_t cs_cycles;    /* completed chip-select cycles */
    uint64_t calls;        /* transfer() invocations (batches) */
    uint64_t errors;       /* transfer() calls that failed */
    uint64_t read_cmds;    /* completed READ commands (one per read callback) */
    uint64_t write_cmds;   /* completed WRITE commands (one per write or writev callback) */
    uint64_t data_read;    /* payload bytes of those READs */
    uint64_t data_written; /* payload bytes of those WRITEs */
};

/*
 * Set up `f` for `chip` on `bus` (both copied; bus->ctx must outlive f) and identify it:
 *   1. RDID: reads chip->id_len bytes and compares them (skipped when id_len is 0);
 *   2. RDSR: if block protection is on (BP1|BP0, status bits 3:2), clears it with
 *      WREN + WRSR (keeping WPEN) and reads the status again - the heap owns the whole
 *      chip, and a protected block would drop the heap's writes silently. The status
 *      register is non-volatile on FRAM, so this happens once per chip.
 * Counters start from zero and include this traffic: a chip with a 4-byte RDID and no
 * protection costs 5 + 2 bytes in 2 CS cycles.
 * Errors: INVAL (f, bus, bus->transfer or chip NULL; chip invalid as for
 *   vnv_spi_fram_chip_custom); IO (a transfer failed; the RDID answer differs from the
 *   descriptor - a missing chip reads all FF or all 00 and fails here; protection
 *   cannot be cleared, i.e. WPEN is set and the /WP pin is held low).
 *   After an error `f` must not be used for storage.
 * Time: O(1); at most 5 CS cycles.
 */
int vnv_spi_fram_init(struct vnv_spi_fram *f, const struct vnv_spi_bus *bus,
                      const struct vnv_spi_fram_chip *chip);

/*
 * Fill `*out` with the storage callbacks of `f`: ctx = f, size = chip capacity, read, write,
 * writev (one WREN + one WRITE cycle for all pieces), sync = NULL (FRAM: durable at CS
 * rise). The callbacks return VNV_ERR_INVAL for a range outside [0, capacity) or a NULL
 * buffer with a non-zero length (no bus traffic), VNV_ERR_IO when a transfer fails (after
 * a failed write the range is partly written), else VNV_OK; len 0 (or a writev of 0 bytes)
 * succeeds with no traffic.
 * Cost: read  1 + A + n bytes, 1 CS cycle, ceil(segments / batch) calls;
 *       write 1 + (1 + A + n) bytes, 2 CS cycles, 1 + ceil(segments / batch) calls,
 *   where segments = 1 + sum over pieces of ceil(piece / max_seg_len) (header split too if
 *   max_seg_len < 1 + A). Time O(cnt + n / max_seg_len) besides the bus.
 * Does nothing if f or out is NULL.
 */
void vnv_spi_fram_storage(struct vnv_spi_fram *f, struct vnv_storage *out);

/* Read the status register (RDSR: 2 bytes, 1 CS cycle) into *sr. Bits on MB85RS parts:
 * 7 WPEN, 3 BP1, 2 BP0, 1 WEL. Errors: INVAL (NULL), IO. O(1).
 * Once a heap uses `f`, call this only with the power-fail interrupt masked: the heap
 * serialises its own storage calls against vnv_persist_all(), not yours. */
int vnv_spi_fram_read_status(struct vnv_spi_fram *f, uint8_t *sr);

/* Zero every counter. O(1). */
void vnv_spi_fram_reset_counters(struct vnv_spi_fram *f);

/*
 * Modeled bus time of the traffic counted so far, in ns (rounded down):
 *   bytes x 8 x 1e9 / spi_hz + cs_cycles x cs_ns + calls x call_ns
 * cs_ns: chip-select setup + hold + deselect time per cycle (datasheet + your driver);
 * call_ns: software overhead per transfer call (0 for the pure bus model).
 * Returns 0 if spi_hz is 0. O(1).
 */
uint64_t vnv_spi_fram_time_ns(const struct vnv_spi_fram *f, uint32_t spi_hz, uint32_t cs_ns,
                              uint32_t call_ns);

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_STORAGE_SPI_FRAM_H */
