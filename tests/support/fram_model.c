/* fram_model.c - protocol-enforcing SPI FRAM model (see fram_model.h). */
#include "fram_model.h"

#include <string.h>

#define OP_WRSR 0x01u
#define OP_WRITE 0x02u
#define OP_READ 0x03u
#define OP_WRDI 0x04u
#define OP_RDSR 0x05u
#define OP_WREN 0x06u
#define OP_RDID 0x9Fu

#define SR_WRITABLE (FRAM_SR_WPEN | FRAM_SR_BP1 | FRAM_SR_BP0)

void fram_model_init(struct fram_model *m, void *mem, uint32_t capacity, unsigned addr_bytes,
                     const uint8_t *id, unsigned id_len)
{
    memset(m, 0, sizeof *m);
    m->mem = mem;
    m->capacity = capacity;
    m->addr_bytes = addr_bytes;
    if (id_len > VNV_SPI_FRAM_ID_MAX)
        id_len = VNV_SPI_FRAM_ID_MAX;
    if (id_len)
        memcpy(m->id, id, id_len);
    m->id_len = id_len;
}

void fram_model_init_chip(struct fram_model *m, void *mem, const struct vnv_spi_fram_chip *chip)
{
    fram_model_init(m, mem, chip->capacity, chip->addr_bytes, chip->id, chip->id_len);
}

void fram_model_bus(struct fram_model *m, struct vnv_spi_bus *out, unsigned max_segs,
                    uint32_t max_seg_len)
{
    m->max_segs = max_segs;
    m->max_seg_len = max_seg_len;
    out->ctx = m;
    out->transfer = fram_model_transfer;
    out->max_segs = max_segs;
    out->max_seg_len = max_seg_len;
}

void fram_model_reset_counters(struct fram_model *m)
{
    m->calls = m->failed_calls = m->cs_cycles = m->bytes = 0;
    m->data_written = m->data_read = 0;
    m->wren_cycles = m->wrdi_cycles = m->write_cycles = m->read_cycles = 0;
    m->rdsr_cycles = m->wrsr_cycles = m->rdid_cycles = m->other_cycles = 0;
    m->ignored_writes = m->protected_bytes = m->violations = 0;
    m->max_nseg_seen = 0;
    m->last_write_len = 0;
}

void fram_model_fail_at(struct fram_model *m, uint64_t k)
{
    m->fail_in = k;
}

void fram_model_cut_power_after(struct fram_model *m, uint64_t data_bytes)
{
    m->cut_armed = 1;
    m->cut_left = data_bytes;
    if (data_bytes == 0)
        m->power_off = 1;
}

void fram_model_power_on(struct fram_model *m)
{
    m->power_off = 0;
    m->cut_armed = 0;
    m->cut_left = 0;
    m->sr &= (uint8_t)~FRAM_SR_WEL; /* WEL is volatile */
    m->cs = 0;
}

/* 1 if block protection covers `addr` (BP1:BP0 = 01 upper 1/4, 10 upper 1/2, 11 all). */
static int is_protected(const struct fram_model *m, uint32_t addr)
{
    switch ((m->sr >> 2) & 3u) {
    case 1:
        return addr >= m->capacity - m->capacity / 4u;
    case 2:
        return addr >= m->capacity / 2u;
    case 3:
        return 1;
    default:
        return 0;
    }
}

static void cycle_begin(struct fram_model *m)
{
    m->cs = 1;
    m->pos = 0;
    m->op = 0;
    m->addr = 0;
    m->wel_at_start = (m->sr & FRAM_SR_WEL) != 0;
}

/* Chip select rises: commands that act at the end of the cycle. */
static void cycle_end(struct fram_model *m)
{
    m->cs = 0;
    if (m->pos == 0)
        return; /* no clock edge: nothing happened (a call that failed at once) */
    m->cs_cycles++;
    if (m->power_off) {
        m->other_cycles++;
        return;
    }
    switch (m->op) {
    case OP_WREN:
        m->wren_cycles++;
        if (m->pos == 1)
            m->sr |= FRAM_SR_WEL;
        break;
    case OP_WRDI:
        m->wrdi_cycles++;
        if (m->pos == 1)
            m->sr &= (uint8_t)~FRAM_SR_WEL;
        break;
    case OP_WRITE:
    case OP_WRSR:
        if (m->op == OP_WRITE)
            m->write_cycles++;
        else
            m->wrsr_cycles++;
        if (!m->wel_at_start)
            m->ignored_writes++;
        m->sr &= (uint8_t)~FRAM_SR_WEL;
        break;
    case OP_READ:
        m->read_cycles++;
        break;
    case OP_RDSR:
        m->rdsr_cycles++;
        break;
    case OP_RDID:
        m->rdid_cycles++;
        break;
    default:
        m->other_cycles++;
        break;
    }
}

/* One byte each way; returns MISO. */
static uint8_t clock_byte(struct fram_model *m, uint8_t in)
{
    uint8_t out = 0xFF;
    uint32_t pos = m->pos++;
    if (m->power_off)
        return 0xFF;
    if (pos == 0) {
        m->op = in;
        if (in == OP_WRITE)
            m->last_write_len = 0;
        return out;
    }
    switch (m->op) {
    case OP_READ:
    case OP_WRITE:
        if (pos <= m->addr_bytes) {
            m->addr = (m->addr << 8) | in;
            if (pos == m->addr_bytes)
                m->addr %= m->capacity;
            break;
        }
        if (m->op == OP_READ) {
            out = m->mem[m->addr];
            m->data_read++;
        } else if (m->wel_at_start) {
            if (is_protected(m, m->addr)) {
                m->protected_bytes++;
            } else {
                m->mem[m->addr] = in;
                m->data_written++;
                m->last_write_len++;
                if (m->cut_armed && --m->cut_left == 0)
                    m->power_off = 1;
            }
        }
        m->addr = (m->addr + 1u) % m->capacity;
        break;
    case OP_RDSR:
        out = m->sr;
        break;
    case OP_RDID:
        out = pos - 1u < m->id_len ? m->id[pos - 1u] : 0x00;
        break;
    case OP_WRSR:
        if (pos == 1 && m->wel_at_start && !((m->sr & FRAM_SR_WPEN) && m->wp_low))
            m->sr = (uint8_t)((m->sr & ~SR_WRITABLE) | (in & SR_WRITABLE));
        break;
    default:
        break; /* WREN/WRDI extra bytes, unknown opcodes: ignored */
    }
    return out;
}

int fram_model_transfer(void *ctx, const struct vnv_spi_seg *segs, unsigned nseg,
                        unsigned flags)
{
    struct fram_model *m = ctx;
    m->calls++;
    if (nseg > m->max_nseg_seen)
        m->max_nseg_seen = nseg;
    if (!m->cs)
        cycle_begin(m);
    if (m->fail_in && --m->fail_in == 0) {
        m->failed_calls++;
        cycle_end(m); /* contract: a failing call leaves chip select deasserted */
        return -1;
    }
    int bad = nseg == 0 || (m->max_segs && nseg > m->max_segs);
    for (unsigned i = 0; i < nseg; i++) {
        const struct vnv_spi_seg *s = &segs[i];
        if (s->len == 0 || (m->max_seg_len && s->len > m->max_seg_len))
            bad = 1;
        for (uint32_t k = 0; k < s->len; k++) {
            uint8_t o = clock_byte(m, s->tx ? s->tx[k] : 0xFF);
            if (s->rx)
                s->rx[k] = o;
        }
        m->bytes += s->len;
    }
    if (bad)
        m->violations++;
    if (!(flags & VNV_SPI_HOLD_CS))
        cycle_end(m);
    return 0;
}
