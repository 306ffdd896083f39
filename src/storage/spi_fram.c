/* spi_fram.c - SPI FRAM storage backend over a user-supplied bus (storage_spi_fram.h). */
#include <stdint.h>

#include "vnvheap/storage_spi_fram.h"

#define OP_WRSR 0x01u
#define OP_WRITE 0x02u
#define OP_READ 0x03u
#define OP_RDSR 0x05u
#define OP_WREN 0x06u
#define OP_RDID 0x9Fu

#define SR_WEL 0x02u
#define SR_BP 0x0Cu /* BP1 | BP0 */

#define HDR_MAX 5u /* opcode + up to 4 address bytes */

const struct vnv_spi_fram_chip vnv_spi_fram_mb85rs64v = {
    .name = "MB85RS64V",
    .capacity = 8192u,
    .addr_bytes = 2,
    .id_len = 4,
    .id = {0x04, 0x7F, 0x03, 0x02},
    .id_mask = {0xFF, 0xFF, 0xFF, 0xFF},
};

/* Byte 2 is 0x49 in the datasheet, 0x48 in the original driver: ignore its bit 0. */
const struct vnv_spi_fram_chip vnv_spi_fram_mb85rs4mt = {
    .name = "MB85RS4MT",
    .capacity = 524288u,
    .addr_bytes = 3,
    .id_len = 4,
    .id = {0x04, 0x7F, 0x48, 0x03},
    .id_mask = {0xFF, 0xFF, 0xFE, 0xFF},
};

static int chip_valid(const struct vnv_spi_fram_chip *c)
{
    if (c->capacity == 0 || c->addr_bytes < 1 || c->addr_bytes > 4 ||
        c->id_len > VNV_SPI_FRAM_ID_MAX)
        return 0;
    /* capacity is 32-bit: 4 address bytes address all of it */
    return c->addr_bytes == 4 || c->capacity <= (UINT32_C(1) << (8u * c->addr_bytes));
}

int vnv_spi_fram_chip_custom(struct vnv_spi_fram_chip *chip, const char *name, uint32_t capacity,
                             unsigned addr_bytes, const uint8_t *id, unsigned id_len)
{
    if (!chip || addr_bytes > 4 || id_len > VNV_SPI_FRAM_ID_MAX || (id_len && !id))
        return VNV_ERR_INVAL;
    struct vnv_spi_fram_chip c = {.name = name,
                                  .capacity = capacity,
                                  .addr_bytes = (uint8_t)addr_bytes,
                                  .id_len = (uint8_t)id_len}; /* the rest zero */
    for (unsigned i = 0; i < id_len; i++) {
        c.id[i] = id[i];
        c.id_mask[i] = 0xFF;
    }
    if (!chip_valid(&c))
        return VNV_ERR_INVAL;
    *chip = c;
    return VNV_OK;
}

/* ---- one CS cycle, sent in batches of at most f->batch segments ------------------------- */

struct cycle {
    struct vnv_spi_fram *f;
    unsigned n;      /* segments queued */
    uint32_t nbytes; /* their bytes */
    struct vnv_spi_seg seg[VNV_SPI_FRAM_MAX_SEGS];
};

static void cyc_init(struct cycle *c, struct vnv_spi_fram *f)
{
    c->f = f;
    c->n = 0;
    c->nbytes = 0;
}

/* Hand the queued segments to the bus; flags = VNV_SPI_HOLD_CS if the cycle goes on. */
static int cyc_flush(struct cycle *c, unsigned flags)
{
    struct vnv_spi_fram *f = c->f;
    int rc = f->bus.transfer(f->bus.ctx, c->seg, c->n, flags);
    f->calls++;
    c->n = 0;
    if (rc != 0) {
        f->errors++;
        return VNV_ERR_IO; /* the bus has released chip select */
    }
    f->bytes += c->nbytes;
    c->nbytes = 0;
    if (!(flags & VNV_SPI_HOLD_CS))
        f->cs_cycles++;
    return VNV_OK;
}

/* Queue `len` bytes (tx and/or rx may be NULL), split at max_seg_len. Flushes a full batch
 * with the hold flag first, so the cycle's last batch is always sent by cyc_flush(c, 0).
 * Loop bound: ceil(len / max_seg_len) iterations. */
static int cyc_add(struct cycle *c, const uint8_t *tx, uint8_t *rx, uint32_t len)
{
    uint32_t max = c->f->bus.max_seg_len;
    while (len) {
        if (c->n == c->f->batch) {
            int err = cyc_flush(c, VNV_SPI_HOLD_CS);
            if (err)
                return err;
        }
        uint32_t n = (max && len > max) ? max : len;
        c->seg[c->n].tx = tx;
        c->seg[c->n].rx = rx;
        c->seg[c->n].len = n;
        c->n++;
        c->nbytes += n;
        if (tx)
            tx += n;
        if (rx)
            rx += n;
        len -= n;
    }
    return VNV_OK;
}

/* One CS cycle: send tx[0, txlen), then receive rxlen bytes into rx. */
static int command(struct vnv_spi_fram *f, const uint8_t *tx, uint32_t txlen, uint8_t *rx,
                   uint32_t rxlen)
{
    struct cycle c;
    cyc_init(&c, f);
    int err = cyc_add(&c, tx, NULL, txlen);
    if (!err)
        err = cyc_add(&c, NULL, rx, rxlen);
    if (!err)
        err = cyc_flush(&c, 0);
    return err;
}

static int write_enable(struct vnv_spi_fram *f)
{
    static const uint8_t wren = OP_WREN;
    return command(f, &wren, 1, NULL, 0);
}

/* Opcode + big-endian address into hdr; returns the header length. */
static uint32_t put_header(const struct vnv_spi_fram *f, uint8_t *hdr, uint8_t op, uint32_t off)
{
    unsigned a = f->chip.addr_bytes;
    hdr[0] = op;
    for (unsigned i = 0; i < a; i++)
        hdr[1 + i] = (uint8_t)(off >> (8u * (a - 1u - i)));
    return 1u + a;
}

/* ---- storage callbacks ------------------------------------------------------------------ */

static int in_range(const struct vnv_spi_fram *f, uint32_t off, uint32_t len)
{
    return off <= f->chip.capacity && len <= f->chip.capacity - off;
}

static int fram_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    struct vnv_spi_fram *f = ctx;
    if (!f || !in_range(f, off, len) || (len && !dst))
        return VNV_ERR_INVAL;
    if (len == 0)
        return VNV_OK;
    uint8_t hdr[HDR_MAX];
    int err = command(f, hdr, put_header(f, hdr, OP_READ, off), dst, len);
    if (!err) {
        f->read_cmds++;
        f->data_read += len;
    }
    return err;
}

/* WREN, then ONE WRITE cycle streaming every piece (validated by the caller). */
static int write_pieces(struct vnv_spi_fram *f, uint32_t off, const struct vnv_iovec *iov,
                        unsigned cnt, uint32_t total)
{
    int err = write_enable(f);
    if (err)
        return err;
    uint8_t hdr[HDR_MAX];
    struct cycle c;
    cyc_init(&c, f);
    err = cyc_add(&c, hdr, NULL, put_header(f, hdr, OP_WRITE, off));
    for (unsigned i = 0; i < cnt && !err; i++)
        err = cyc_add(&c, iov[i].base, NULL, iov[i].len);
    if (!err)
        err = cyc_flush(&c, 0);
    if (!err) {
        f->write_cmds++;
        f->data_written += total;
    }
    return err;
}

static int fram_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct vnv_spi_fram *f = ctx;
    if (!f || !in_range(f, off, len) || (len && !src))
        return VNV_ERR_INVAL;
    if (len == 0)
        return VNV_OK;
    struct vnv_iovec one = {src, len};
    return write_pieces(f, off, &one, 1, len);
}

static int fram_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    struct vnv_spi_fram *f = ctx;
    uint32_t total = 0;
    if (!f || vnv_iov_total(iov, cnt, &total))
        return VNV_ERR_INVAL;
    if (!in_range(f, off, total))
        return VNV_ERR_INVAL;
    if (total == 0)
        return VNV_OK;
    return write_pieces(f, off, iov, cnt, total);
}

/* ---- public functions ------------------------------------------------------------------- */

int vnv_spi_fram_read_status(struct vnv_spi_fram *f, uint8_t *sr)
{
    static const uint8_t rdsr = OP_RDSR;
    if (!f || !sr)
        return VNV_ERR_INVAL;
    return command(f, &rdsr, 1, sr, 1);
}

int vnv_spi_fram_init(struct vnv_spi_fram *f, const struct vnv_spi_bus *bus,
                      const struct vnv_spi_fram_chip *chip)
{
    if (!f || !bus || !bus->transfer || !chip || !chip_valid(chip))
        return VNV_ERR_INVAL;
    *f = (struct vnv_spi_fram){.bus = *bus, .chip = *chip}; /* counters zero */
    f->batch = (bus->max_segs == 0 || bus->max_segs > VNV_SPI_FRAM_MAX_SEGS)
                   ? VNV_SPI_FRAM_MAX_SEGS
                   : bus->max_segs;

    int err;
    if (chip->id_len) {
        static const uint8_t rdid = OP_RDID;
        err = command(f, &rdid, 1, f->rdid, chip->id_len);
        if (err)
            return err;
        for (unsigned i = 0; i < chip->id_len; i++)
            if ((f->rdid[i] & chip->id_mask[i]) != (chip->id[i] & chip->id_mask[i]))
                return VNV_ERR_IO;
    }

    uint8_t sr = 0; /* (kept as the status only if read) */
    err = vnv_spi_fram_read_status(f, &sr);
    if (!err && (sr & SR_BP)) {
        uint8_t wrsr[2] = {OP_WRSR, (uint8_t)(sr & ~(SR_BP | SR_WEL))};
        err = write_enable(f);
        if (!err)
            err = command(f, wrsr, sizeof wrsr, NULL, 0);
        if (!err)
            err = vnv_spi_fram_read_status(f, &sr);
        if (!err && (sr & SR_BP))
            err = VNV_ERR_IO; /* status register write-protected (WPEN + /WP low) */
    }
    if (!err)
        f->status = sr;
    return err;
}

void vnv_spi_fram_storage(struct vnv_spi_fram *f, struct vnv_storage *out)
{
    if (!f || !out)
        return;
    out->ctx = f;
    out->size = f->chip.capacity;
    out->read = fram_read;
    out->write = fram_write;
    out->writev = fram_writev;
    out->sync = NULL; /* FRAM: a write is durable when chip select rises */
}

void vnv_spi_fram_reset_counters(struct vnv_spi_fram *f)
{
    f->bytes = f->cs_cycles = f->calls = f->errors = 0;
    f->read_cmds = f->write_cmds = f->data_read = f->data_written = 0;
}

uint64_t vnv_spi_fram_time_ns(const struct vnv_spi_fram *f, uint32_t spi_hz, uint32_t cs_ns,
                              uint32_t call_ns)
{
    if (spi_hz == 0)
        return 0;
    uint64_t bits = f->bytes * 8u;
    /* split so that no product overflows 64 bits: (bits % hz) * 1e9 < 2^32 * 1e9 */
    uint64_t t = bits / spi_hz * UINT64_C(1000000000) +
                 bits % spi_hz * UINT64_C(1000000000) / spi_hz;
    return t + f->cs_cycles * cs_ns + f->calls * call_ns;
}
