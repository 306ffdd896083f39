/*
 * fram_model.h - a software SPI FRAM chip on the far side of struct vnv_spi_bus.
 *
 * It decodes the byte stream of each chip-select cycle like an MB85RS part and ENFORCES the
 * protocol, so a driver that skips a step is caught by the data, not by a trace:
 *   - WEL (status bit 1) is set by a WREN cycle of exactly one byte and cleared by WRDI
 *     and at the end of every WRITE and WRSR cycle. A WRITE or WRSR issued while WEL is
 *     clear changes nothing (counted in ignored_writes); so does a WREN sent in the same
 *     CS cycle as the WRITE (the datasheets want CS to rise after WREN's 8th bit).
 *   - WRITE / READ take addr_bytes big-endian address bytes, then stream; the address wraps
 *     at capacity (upper address bits are ignored, as on the real parts).
 *   - RDSR streams the status; WRSR writes WPEN/BP1/BP0 (bits 7, 3, 2) unless WPEN is set
 *     and the /WP pin is low (wp_low); BP1:BP0 protect the upper quarter / half / all of
 *     the array against WRITE (bytes dropped, counted in protected_bytes).
 *   - RDID returns the chip's id bytes, then 0x00. Unknown opcodes are ignored.
 *   - MISO reads 0xFF when the chip does not drive it. tx NULL segments clock 0xFF.
 * It also checks the bus contract it advertises (segments per call, segment length) and
 * counts violations, and counts bytes, CS cycles and cycles per opcode.
 *
 * Faults: fail the k-th transfer call (returns -1, clocks nothing, releases CS, as the
 * contract demands); power cut after N data bytes have landed (from then on the chip is
 * dead: writes drop, MISO reads 0xFF, until fram_model_power_on; WEL is lost).
 *
 * Test support code: hosted C, no allocation.
 */
#ifndef VNV_TEST_FRAM_MODEL_H
#define VNV_TEST_FRAM_MODEL_H

#include <stdint.h>

#include "vnvheap/storage_spi_fram.h"

#define FRAM_SR_WPEN 0x80u
#define FRAM_SR_BP1 0x08u
#define FRAM_SR_BP0 0x04u
#define FRAM_SR_WEL 0x02u

struct fram_model {
    uint8_t *mem;
    uint32_t capacity;
    unsigned addr_bytes;
    uint8_t id[VNV_SPI_FRAM_ID_MAX];
    unsigned id_len;
    uint8_t sr;
    int wp_low; /* the /WP pin is held low */

    /* The bus contract fram_model_bus advertised (0 = no limit). */
    unsigned max_segs;
    uint32_t max_seg_len;

    /* The CS cycle in progress. */
    int cs;
    uint8_t op;
    uint8_t wel_at_start;
    uint32_t pos;  /* bytes clocked in this cycle */
    uint32_t addr;

    /* Counters (fram_model_reset_counters). */
    uint64_t calls, failed_calls, bytes;
    uint64_t cs_cycles; /* CS cycles that clocked at least one byte */
    uint64_t data_written, data_read;
    uint64_t wren_cycles, wrdi_cycles, write_cycles, read_cycles;
    uint64_t rdsr_cycles, wrsr_cycles, rdid_cycles, other_cycles;
    uint64_t ignored_writes;  /* WRITE/WRSR cycles without WEL */
    uint64_t protected_bytes; /* WRITE data bytes dropped by block protection */
    uint64_t violations;      /* calls breaking the advertised bus contract */
    uint32_t max_nseg_seen;
    uint32_t last_write_len;  /* data bytes of the last WRITE cycle */

    /* Faults. */
    uint64_t fail_in;  /* countdown: the fail_in-th call from now fails; 0 = off */
    int cut_armed;
    uint64_t cut_left; /* data bytes that may still land */
    int power_off;
};

/* A chip over mem[0, capacity) (content kept: it is the non-volatile array). */
void fram_model_init(struct fram_model *m, void *mem, uint32_t capacity, unsigned addr_bytes,
                     const uint8_t *id, unsigned id_len);
/* The same with capacity, address bytes and id (its first id_len bytes) from a descriptor. */
void fram_model_init_chip(struct fram_model *m, void *mem, const struct vnv_spi_fram_chip *chip);
/* A bus whose ctx is m, advertising these limits (0 = none), which the model enforces. */
void fram_model_bus(struct fram_model *m, struct vnv_spi_bus *out, unsigned max_segs,
                    uint32_t max_seg_len);
/* The transfer callback itself (ctx = struct fram_model *). */
int fram_model_transfer(void *ctx, const struct vnv_spi_seg *segs, unsigned nseg,
                        unsigned flags);
void fram_model_reset_counters(struct fram_model *m);
void fram_model_fail_at(struct fram_model *m, uint64_t k);
void fram_model_cut_power_after(struct fram_model *m, uint64_t data_bytes);
void fram_model_power_on(struct fram_model *m);

#endif
