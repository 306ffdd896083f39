/* emu.c - emulated FRAM over a RAM array: cost model, power cuts, error injection. */
#include <stdint.h>
#include <string.h>

#include "vnvheap/storage_emu.h"

/*
 * Paper profile. Measured on ESP32-C3 + MB85RS4MT at 16000 ticks/ms (62.5 ns per tick):
 *   write: 350 ticks per call + 311 ticks per byte  -> 21875 ns + 19437.5 ns/byte;
 *   read:  1 KiB in 193788 ticks, 8 KiB in 1519510 ticks. The line through both points
 *          has slope 1325722 / 7168 = 184.950 ticks/byte (11559.38 ns) and intercept
 *          4399.14 ticks (274946 ns).
 * Rounded to whole ns the fit stays within 0.004 % of every measured point.
 */
const struct vnv_emu_cost vnv_emu_profile_paper = {
    .read_tx_ns = 274946,
    .read_byte_ns = 11559,
    .write_tx_ns = 21875,
    .write_byte_ns = 19438,
    .sync_ns = 0, /* FRAM writes are durable when chip select rises */
};

/*
 * SPI FRAM at 40 MHz: 8 bits x 25 ns = 200 ns per byte on the wire, plus 1 us of
 * chip-select setup/hold per chip-select cycle.
 *   read  = one cycle: READ opcode + 3 address bytes (4 x 200 ns) + 1 us   = 1800 ns
 *   write = WREN in its own cycle (200 ns + 1 us = 1200 ns)
 *         + WRITE opcode + 3 address bytes in a second cycle (800 ns + 1 us) = 3000 ns
 * Data bytes then stream at 200 ns each in both directions. Sync is free (no cache).
 */
const struct vnv_emu_cost vnv_emu_profile_spi40 = {
    .read_tx_ns = 1800,
    .read_byte_ns = 200,
    .write_tx_ns = 3000,
    .write_byte_ns = 200,
    .sync_ns = 0,
};

const struct vnv_emu_cost vnv_emu_profile_free = {0, 0, 0, 0, 0};

static int in_range(const struct vnv_emu *e, uint32_t off, uint32_t len)
{
    return off <= e->size && len <= e->size - off;
}

/* Advance a one-shot countdown; 1 when this call is the one that must fail. */
static int countdown_fires(uint32_t *k)
{
    if (*k == 0)
        return 0;
    return --*k == 0;
}

static void charge(struct vnv_emu *e, uint32_t tx_ns, uint32_t byte_ns, uint32_t len)
{
    e->modeled_ns += (uint64_t)tx_ns + (uint64_t)byte_ns * len;
}

static int emu_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    struct vnv_emu *e = ctx;
    if (!e || !in_range(e, off, len) || (len && !dst))
        return VNV_ERR_INVAL;
    if (len == 0)
        return VNV_OK;
    e->read_calls++;
    if (countdown_fires(&e->fail_read_in)) {
        charge(e, e->cost.read_tx_ns, 0, 0);
        return VNV_ERR_IO;
    }
    e->read_bytes += len;
    charge(e, e->cost.read_tx_ns, e->cost.read_byte_ns, len);
    memcpy(dst, e->mem + off, len);
    return VNV_OK;
}

/*
 * One write transaction of `total` bytes gathered from `iov` (already validated).
 * Copies as many leading bytes as the power-cut budget allows.
 */
static int emu_write_tx(struct vnv_emu *e, uint32_t off, const struct vnv_iovec *iov,
                        unsigned cnt, uint32_t total)
{
    e->write_calls++;
    /* Tick the countdown even when the sticky failure fires, so "k-th call" holds. */
    int fail = countdown_fires(&e->fail_write_in);
    if (fail || e->fail_writes) {
        charge(e, e->cost.write_tx_ns, 0, 0);
        return VNV_ERR_IO;
    }
    e->write_bytes += total;
    charge(e, e->cost.write_tx_ns, e->cost.write_byte_ns, total);

    uint32_t room = total;
    if (e->power_off) {
        room = 0;
    } else if (e->cut_armed) {
        if (e->cut_left < total)
            room = (uint32_t)e->cut_left;
        e->cut_left -= room;
        if (e->cut_left == 0)
            e->power_off = 1;
    }
    e->lost_bytes += total - room;

    for (unsigned i = 0; i < cnt && room; i++) {
        uint32_t n = iov[i].len < room ? iov[i].len : room;
        if (n) {
            memcpy(e->mem + off, iov[i].base, n);
            off += n;
            room -= n;
        }
    }
    return VNV_OK;
}

static int emu_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct vnv_emu *e = ctx;
    if (!e || !in_range(e, off, len) || (len && !src))
        return VNV_ERR_INVAL;
    if (len == 0)
        return VNV_OK;
    struct vnv_iovec one = {src, len};
    return emu_write_tx(e, off, &one, 1, len);
}

static int emu_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    struct vnv_emu *e = ctx;
    uint32_t total = 0;
    if (!e || vnv_iov_total(iov, cnt, &total))
        return VNV_ERR_INVAL;
    if (!in_range(e, off, total))
        return VNV_ERR_INVAL;
    if (total == 0)
        return VNV_OK;
    return emu_write_tx(e, off, iov, cnt, total);
}

static int emu_sync(void *ctx)
{
    struct vnv_emu *e = ctx;
    if (!e)
        return VNV_ERR_INVAL;
    e->sync_calls++;
    charge(e, e->cost.sync_ns, 0, 0);
    /* With the power off the sync is dropped like a write: it reports success. */
    return countdown_fires(&e->fail_sync_in) ? VNV_ERR_IO : VNV_OK;
}

int vnv_emu_init(struct vnv_emu *e, void *mem, uint32_t size, const struct vnv_emu_cost *cost)
{
    if (!e || !mem || size == 0)
        return VNV_ERR_INVAL;
    memset(e, 0, sizeof(*e));
    e->mem = mem;
    e->size = size;
    e->cost = cost ? *cost : vnv_emu_profile_free;
    return VNV_OK;
}

void vnv_emu_storage(struct vnv_emu *e, struct vnv_storage *out)
{
    if (!e || !out)
        return;
    out->ctx = e;
    out->size = e->size;
    out->read = emu_read;
    out->write = emu_write;
    out->writev = emu_writev;
    out->sync = emu_sync;
}

void vnv_emu_reset_counters(struct vnv_emu *e)
{
    e->read_calls = e->write_calls = e->sync_calls = 0;
    e->read_bytes = e->write_bytes = e->lost_bytes = 0;
    e->modeled_ns = 0;
}

void vnv_emu_cut_power_after(struct vnv_emu *e, uint64_t bytes)
{
    e->cut_armed = 1;
    e->cut_left = bytes;
    if (bytes == 0)
        e->power_off = 1;
}

int vnv_emu_power_is_off(const struct vnv_emu *e)
{
    return e->power_off;
}

void vnv_emu_power_on(struct vnv_emu *e)
{
    e->power_off = 0;
    e->cut_armed = 0;
    e->cut_left = 0;
}

void vnv_emu_fail_read_at(struct vnv_emu *e, uint32_t k)
{
    e->fail_read_in = k;
}

void vnv_emu_fail_write_at(struct vnv_emu *e, uint32_t k)
{
    e->fail_write_in = k;
}

void vnv_emu_fail_sync_at(struct vnv_emu *e, uint32_t k)
{
    e->fail_sync_in = k;
}

void vnv_emu_fail_all_writes(struct vnv_emu *e, int on)
{
    e->fail_writes = on != 0;
}
