/* test_spi_fram.c - the SPI FRAM backend against a protocol-enforcing chip model:
 * identification, ranges, exact bus cost, gather writes in one WRITE cycle, batching,
 * bus errors, power cuts, 2- vs 3-byte addressing, and a whole heap on top of it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "support/fram_model.h"
#include "support/rng.h"
#include "vnvheap.h"
#include "vnvheap/storage_spi_fram.h"
#include "vtest.h"

#define CAP_64V 8192u
#define CAP_4MT 524288u

static uint8_t mem64[CAP_64V];
static uint8_t mem4m[CAP_4MT];

/* REQUIRE evaluates its argument twice: keep calls out of it. */
static int rc;

static struct fram_model model;
static struct vnv_spi_bus bus;
static struct vnv_spi_fram fram;
static struct vnv_storage st;

/* ---- a tap between driver and model: records MOSI bytes --------------------------------- */

struct tap {
    struct fram_model *m;
    uint8_t mosi[64];
    unsigned n;
};

static struct tap tap;

static int tap_transfer(void *ctx, const struct vnv_spi_seg *segs, unsigned nseg, unsigned flags)
{
    struct tap *t = ctx;
    for (unsigned i = 0; i < nseg; i++)
        for (uint32_t k = 0; k < segs[i].len && t->n < sizeof t->mosi; k++)
            t->mosi[t->n++] = segs[i].tx ? segs[i].tx[k] : 0xFF;
    return fram_model_transfer(t->m, segs, nseg, flags);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static uint8_t *chip_mem(const struct vnv_spi_fram_chip *chip)
{
    return chip->capacity == CAP_64V ? mem64 : mem4m;
}

/* Model of `chip` with fresh content `fill`, driver initialised over a bus with the given
 * limits (through the tap), counters zeroed. Returns the init result. */
static int setup(const struct vnv_spi_fram_chip *chip, uint8_t fill, unsigned max_segs,
                 uint32_t max_seg_len)
{
    uint8_t *mem = chip_mem(chip);
    memset(mem, fill, chip->capacity);
    fram_model_init_chip(&model, mem, chip);
    fram_model_bus(&model, &bus, max_segs, max_seg_len);
    tap.m = &model;
    tap.n = 0;
    bus.ctx = &tap;
    bus.transfer = tap_transfer;
    int err = vnv_spi_fram_init(&fram, &bus, chip);
    memset(&st, 0, sizeof st);
    vnv_spi_fram_storage(&fram, &st);
    return err;
}

static void zero_counters(void)
{
    vnv_spi_fram_reset_counters(&fram);
    fram_model_reset_counters(&model);
    tap.n = 0;
}

/* Send raw bytes through the bus as one CS cycle, bypassing the driver. */
static void raw(const uint8_t *tx, uint32_t len, uint8_t *rx)
{
    struct vnv_spi_seg s = {tx, rx, len};
    CHECK_EQ(fram_model_transfer(&model, &s, 1, 0), 0);
}

/* ---- chips and init --------------------------------------------------------------------- */

static void test_chip_descriptors(void)
{
    struct vnv_spi_fram_chip c;
    const uint8_t id[VNV_SPI_FRAM_ID_MAX + 1] = {1, 2, 3};
    CHECK_EQ(vnv_spi_fram_chip_custom(NULL, "x", 1024, 2, id, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 0, 2, id, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 1024, 0, id, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 1024, 5, id, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 65537, 2, id, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 257, 1, id, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 1024, 2, NULL, 3), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 1024, 2, id, VNV_SPI_FRAM_ID_MAX + 1),
             VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", 65536, 2, id, 3), VNV_OK);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "x", UINT32_MAX, 4, id, 0), VNV_OK);
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "FM25V02", 32768, 2, id, 3), VNV_OK);
    CHECK_EQ(c.capacity, 32768);
    CHECK_EQ(c.addr_bytes, 2);
    CHECK_EQ(c.id_len, 3);
    CHECK(c.id[2] == 3 && c.id_mask[0] == 0xFF && c.id_mask[2] == 0xFF && c.id_mask[3] == 0);

    CHECK_EQ(vnv_spi_fram_mb85rs64v.capacity, 8192);
    CHECK_EQ(vnv_spi_fram_mb85rs64v.addr_bytes, 2);
    CHECK_EQ(vnv_spi_fram_mb85rs4mt.capacity, 524288);
    CHECK_EQ(vnv_spi_fram_mb85rs4mt.addr_bytes, 3);
}

static void check_init_cost(unsigned id_len)
{
    /* RDID: 1 + id_len bytes, RDSR: 2 bytes; one CS cycle each. */
    CHECK_EQ(fram.bytes, 1 + id_len + 2);
    CHECK_EQ(fram.cs_cycles, 2);
    CHECK_EQ(fram.calls, 2);
    CHECK_EQ(fram.errors, 0);
    CHECK_EQ(model.bytes, fram.bytes);
    CHECK_EQ(model.cs_cycles, 2);
    CHECK_EQ(model.rdid_cycles, 1);
    CHECK_EQ(model.rdsr_cycles, 1);
    CHECK_EQ(model.violations, 0);
}

static void test_init_each_chip(void)
{
    rc = setup(&vnv_spi_fram_mb85rs64v, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    check_init_cost(4);
    CHECK(memcmp(fram.rdid, "\x04\x7F\x03\x02", 4) == 0);
    CHECK_EQ(st.size, CAP_64V);
    CHECK(st.read && st.write && st.writev && st.sync == NULL);
    CHECK(st.ctx == &fram);
    CHECK_EQ(fram.status, 0);

    rc = setup(&vnv_spi_fram_mb85rs4mt, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    check_init_cost(4);
    CHECK(memcmp(fram.rdid, "\x04\x7F\x48\x03", 4) == 0);
    CHECK_EQ(st.size, CAP_4MT);

    /* The datasheet's MB85RS4MT ID is accepted as well. */
    const uint8_t ds[4] = {0x04, 0x7F, 0x49, 0x03};
    memset(mem4m, 0, sizeof mem4m);
    fram_model_init(&model, mem4m, CAP_4MT, 3, ds, 4);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs4mt), VNV_OK);
    CHECK_EQ(fram.rdid[2], 0x49);

    /* A custom chip: 32 KiB, 2 address bytes, 9-byte Cypress-style ID. */
    const uint8_t cy[9] = {0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0xC2, 0x22, 0x08};
    struct vnv_spi_fram_chip c;
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "FM25V02A", 32768, 2, cy, 9), VNV_OK);
    fram_model_init(&model, mem4m, 32768, 2, cy, 9);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &c), VNV_OK);
    check_init_cost(9);

    /* id_len 0: no RDID cycle at all. */
    CHECK_EQ(vnv_spi_fram_chip_custom(&c, "noid", 32768, 2, NULL, 0), VNV_OK);
    fram_model_init(&model, mem4m, 32768, 2, NULL, 0);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &c), VNV_OK);
    CHECK_EQ(fram.bytes, 2);
    CHECK_EQ(fram.cs_cycles, 1);
    CHECK_EQ(model.rdid_cycles, 0);
}

static void test_init_rejects(void)
{
    /* Bad arguments. */
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    fram_model_bus(&model, &bus, 0, 0);
    struct vnv_spi_bus nobus = bus;
    nobus.transfer = NULL;
    struct vnv_spi_fram_chip bad = vnv_spi_fram_mb85rs64v;
    bad.addr_bytes = 1; /* 8 KiB cannot be addressed with one byte */
    CHECK_EQ(vnv_spi_fram_init(NULL, &bus, &vnv_spi_fram_mb85rs64v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_init(&fram, NULL, &vnv_spi_fram_mb85rs64v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_init(&fram, &nobus, &vnv_spi_fram_mb85rs64v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &bad), VNV_ERR_INVAL);
    CHECK_EQ(model.calls, 0);

    /* Wrong chip: an MB85RS64V where an MB85RS4MT is expected, and vice versa. */
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs4mt), VNV_ERR_IO);
    CHECK_EQ(model.rdid_cycles, 1);
    CHECK_EQ(model.rdsr_cycles, 0); /* stops at the ID */
    fram_model_init_chip(&model, mem4m, &vnv_spi_fram_mb85rs4mt);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs64v), VNV_ERR_IO);

    /* Only bit 0 of byte 2 is ignored for the MB85RS4MT. */
    const uint8_t other[4] = {0x04, 0x7F, 0x4A, 0x03};
    fram_model_init(&model, mem4m, CAP_4MT, 3, other, 4);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs4mt), VNV_ERR_IO);

    /* Missing chip, MISO low: the model without ID answers 00 00 00 00. */
    fram_model_init(&model, mem64, CAP_64V, 2, NULL, 0);
    fram_model_bus(&model, &bus, 0, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs64v), VNV_ERR_IO);
    /* Missing chip, MISO high: an unpowered model answers FF FF FF FF. */
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    fram_model_bus(&model, &bus, 0, 0);
    fram_model_cut_power_after(&model, 0);
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs64v), VNV_ERR_IO);
    CHECK_EQ(fram.rdid[0], 0xFF);

    /* The bus fails: first call (RDID), second call (RDSR). */
    for (uint64_t k = 1; k <= 2; k++) {
        fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
        fram_model_bus(&model, &bus, 0, 0);
        fram_model_fail_at(&model, k);
        CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs64v), VNV_ERR_IO);
        CHECK_EQ(fram.errors, 1);
        CHECK_EQ(model.cs, 0);
    }
}

static void test_init_clears_block_protection(void)
{
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    fram_model_bus(&model, &bus, 0, 0);
    model.sr = FRAM_SR_BP1 | FRAM_SR_BP0 | FRAM_SR_WPEN;
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs64v), VNV_OK);
    CHECK_EQ(model.sr, FRAM_SR_WPEN); /* BP cleared, WPEN kept, WEL cleared after WRSR */
    CHECK_EQ(fram.status, FRAM_SR_WPEN);
    /* RDID 5 + RDSR 2 + WREN 1 + WRSR 2 + RDSR 2 bytes in 5 cycles. */
    CHECK_EQ(fram.bytes, 12);
    CHECK_EQ(fram.cs_cycles, 5);
    CHECK_EQ(model.wrsr_cycles, 1);
    CHECK_EQ(model.ignored_writes, 0);
    vnv_spi_fram_storage(&fram, &st);
    uint8_t v = 0x5A, back = 0;
    CHECK_EQ(vnv_storage_write(&st, CAP_64V - 1, &v, 1), VNV_OK);
    CHECK_EQ(mem64[CAP_64V - 1], 0x5A);
    CHECK_EQ(vnv_storage_read(&st, CAP_64V - 1, &back, 1), VNV_OK);
    CHECK_EQ(back, 0x5A);
    CHECK_EQ(model.protected_bytes, 0);

    /* WPEN set and /WP held low: the status register is read-only, init must fail. */
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    fram_model_bus(&model, &bus, 0, 0);
    model.sr = FRAM_SR_BP1 | FRAM_SR_WPEN;
    model.wp_low = 1;
    CHECK_EQ(vnv_spi_fram_init(&fram, &bus, &vnv_spi_fram_mb85rs64v), VNV_ERR_IO);
    CHECK_EQ(model.sr, FRAM_SR_BP1 | FRAM_SR_WPEN);

    /* The model does enforce protection: upper half protected, a raw write is dropped. */
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    memset(mem64, 0, CAP_64V);
    model.sr = FRAM_SR_BP1;
    const uint8_t wren = 0x06, w[4] = {0x02, 0x1F, 0xFF, 0x77};
    raw(&wren, 1, NULL);
    raw(w, sizeof w, NULL);
    CHECK_EQ(mem64[CAP_64V - 1], 0);
    CHECK_EQ(model.protected_bytes, 1);
}

/* ---- data path -------------------------------------------------------------------------- */

static void check_write_cost(uint32_t n, unsigned a, uint64_t b0, uint64_t c0)
{
    CHECK_EQ(fram.bytes - b0, 1 + (1 + a + n));
    CHECK_EQ(fram.cs_cycles - c0, 2);
}

static void edges_for(const struct vnv_spi_fram_chip *chip)
{
    rc = setup(chip, 0xEE, 0, 0);
    REQUIRE(rc == VNV_OK);
    zero_counters();
    const uint32_t cap = chip->capacity;
    const unsigned a = chip->addr_bytes;
    uint8_t *mem = chip_mem(chip);
    uint8_t buf[16], back[16];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(0xA0 + i);

    /* First and last byte. */
    CHECK_EQ(vnv_storage_write(&st, 0, buf, 1), VNV_OK);
    check_write_cost(1, a, 0, 0);
    CHECK_EQ(vnv_storage_write(&st, cap - 1, buf + 1, 1), VNV_OK);
    check_write_cost(1, a, 1 + 1 + a + 1, 2);
    CHECK_EQ(mem[0], 0xA0);
    CHECK_EQ(mem[cap - 1], 0xA1);
    CHECK_EQ(mem[1], 0xEE);
    CHECK_EQ(mem[cap - 2], 0xEE);
    uint64_t b = fram.bytes, c = fram.cs_cycles;
    CHECK_EQ(vnv_storage_read(&st, cap - 1, back, 1), VNV_OK);
    CHECK_EQ(back[0], 0xA1);
    CHECK_EQ(fram.bytes - b, 1 + a + 1);
    CHECK_EQ(fram.cs_cycles - c, 1);
    CHECK_EQ(vnv_storage_read(&st, 0, back, 1), VNV_OK);
    CHECK_EQ(back[0], 0xA0);

    /* The last 16 bytes, exactly up to the end. */
    b = fram.bytes;
    c = fram.cs_cycles;
    CHECK_EQ(st.write(st.ctx, cap - 16, buf, 16), VNV_OK);
    check_write_cost(16, a, b, c);
    memset(back, 0, sizeof back);
    CHECK_EQ(st.read(st.ctx, cap - 16, back, 16), VNV_OK);
    CHECK(memcmp(back, buf, 16) == 0);
    CHECK(memcmp(mem + cap - 16, buf, 16) == 0);

    /* Across the end, past the end, NULL buffers: INVAL, no bus traffic. Empty: OK. */
    uint64_t calls = model.calls;
    CHECK_EQ(st.write(st.ctx, cap - 15, buf, 16), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, cap - 15, back, 16), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, cap, buf, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, cap + 1, back, 0), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, 0, back, UINT32_MAX), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, UINT32_MAX, buf, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.read(st.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.read(NULL, 0, back, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.write(st.ctx, cap, buf, 0), VNV_OK);
    CHECK_EQ(st.read(st.ctx, cap, back, 0), VNV_OK);
    CHECK_EQ(st.write(st.ctx, 0, NULL, 0), VNV_OK);
    struct vnv_iovec iv[2] = {{buf, 8}, {buf, 9}};
    CHECK_EQ(st.writev(st.ctx, cap - 16, iv, 2), VNV_ERR_INVAL);
    CHECK_EQ(st.writev(st.ctx, 0, NULL, 1), VNV_ERR_INVAL);
    CHECK_EQ(st.writev(st.ctx, 0, iv, 0), VNV_OK);
    struct vnv_iovec huge[2] = {{buf, UINT32_MAX}, {buf, 2}};
    CHECK_EQ(st.writev(st.ctx, 0, huge, 2), VNV_ERR_INVAL);
    struct vnv_iovec nul[1] = {{NULL, 1}};
    CHECK_EQ(st.writev(st.ctx, 0, nul, 1), VNV_ERR_INVAL);
    CHECK_EQ(model.calls, calls);
    CHECK(memcmp(mem + cap - 16, buf, 16) == 0);
    CHECK_EQ(model.violations, 0);
    CHECK_EQ(model.ignored_writes, 0);
    CHECK_EQ(fram.bytes, model.bytes);
    CHECK_EQ(fram.cs_cycles, model.cs_cycles);
}

static void test_edges_64v(void)
{
    edges_for(&vnv_spi_fram_mb85rs64v);
}

static void test_edges_4mt(void)
{
    edges_for(&vnv_spi_fram_mb85rs4mt);
}

/* The whole 8 KiB chip, random chunks, shadow-checked, through a tight bus. */
static void test_random_round_trips(void)
{
    rc = setup(&vnv_spi_fram_mb85rs64v, 0, 3, 7);
    REQUIRE(rc == VNV_OK);
    static uint8_t shadow[CAP_64V];
    memset(shadow, 0, sizeof shadow);
    struct rng r;
    rng_seed(&r, 77);
    uint8_t buf[300], back[300];
#ifdef VNV_TEST_CROSS
    const int ops = 150;
#else
    const int ops = 1000;
#endif
    for (int i = 0; i < ops; i++) {
        uint32_t len = 1 + rng_below(&r, sizeof buf);
        uint32_t off = rng_below(&r, CAP_64V - len + 1);
        rng_fill(&r, buf, len);
        CHECK_EQ(vnv_storage_write(&st, off, buf, len), VNV_OK);
        memcpy(shadow + off, buf, len);
        uint32_t roff = rng_below(&r, CAP_64V - len + 1);
        CHECK_EQ(vnv_storage_read(&st, roff, back, len), VNV_OK);
        CHECK(memcmp(back, shadow + roff, len) == 0);
    }
    CHECK(memcmp(mem64, shadow, CAP_64V) == 0);
    CHECK_EQ(model.violations, 0);
    CHECK_EQ(model.ignored_writes, 0);
    CHECK(model.max_nseg_seen <= 3);
    CHECK_EQ(fram.bytes, model.bytes);
    CHECK_EQ(fram.cs_cycles, model.cs_cycles);
    CHECK_EQ(fram.calls, model.calls);
}

/* ---- gather writes ---------------------------------------------------------------------- */

/* Expected transfer calls of a write whose payload pieces have these lengths. */
static uint64_t expected_calls(const struct vnv_iovec *iov, unsigned cnt, unsigned a,
                               unsigned batch, uint32_t max_len)
{
    uint64_t segs = 0;
    uint32_t hdr = 1u + a;
    segs += max_len ? (hdr + max_len - 1u) / max_len : 1u;
    for (unsigned i = 0; i < cnt; i++)
        if (iov[i].len)
            segs += max_len ? (iov[i].len + max_len - 1u) / max_len : 1u;
    return 1u + (segs + batch - 1u) / batch; /* + the WREN call */
}

static void writev_with_bus(const struct vnv_spi_fram_chip *chip, unsigned max_segs,
                            uint32_t max_len)
{
    rc = setup(chip, 0, max_segs, max_len);
    REQUIRE(rc == VNV_OK);
    zero_counters();
    uint8_t p[5][40];
    for (unsigned i = 0; i < 5; i++)
        memset(p[i], (int)(0x10 * (i + 1)), sizeof p[i]);
    struct vnv_iovec iov[6] = {{p[0], 3}, {p[1], 40}, {p[2], 0}, {p[3], 1}, {p[4], 17}, {p[2], 9}};
    const uint32_t total = 3 + 40 + 0 + 1 + 17 + 9;
    const uint32_t off = chip->capacity - 100;
    const unsigned a = chip->addr_bytes;
    CHECK_EQ(st.writev(st.ctx, off, iov, 6), VNV_OK);

    /* Exactly one WREN cycle and one WRITE cycle, whatever the bus limits. */
    CHECK_EQ(model.cs_cycles, 2);
    CHECK_EQ(model.wren_cycles, 1);
    CHECK_EQ(model.write_cycles, 1);
    CHECK_EQ(model.last_write_len, total);
    CHECK_EQ(model.bytes, 1 + (1 + a + total));
    CHECK_EQ(fram.bytes, model.bytes);
    CHECK_EQ(fram.cs_cycles, 2);
    CHECK_EQ(fram.write_cmds, 1);
    CHECK_EQ(fram.data_written, total);
    unsigned batch = max_segs ? max_segs : VNV_SPI_FRAM_MAX_SEGS;
    CHECK_EQ(fram.calls, expected_calls(iov, 6, a, batch, max_len));
    CHECK_EQ(model.calls, fram.calls);
    CHECK_EQ(model.violations, 0);
    CHECK_EQ(model.ignored_writes, 0);

    uint8_t *mem = chip_mem(chip) + off;
    uint32_t pos = 0;
    for (unsigned i = 0; i < 6; i++) {
        CHECK(memcmp(mem + pos, iov[i].base, iov[i].len) == 0);
        pos += iov[i].len;
    }
    CHECK_EQ(mem[pos], 0); /* nothing beyond */
    CHECK_EQ(mem[-1], 0);
}

static void test_writev_is_one_write_cycle(void)
{
    writev_with_bus(&vnv_spi_fram_mb85rs64v, 0, 0);  /* one batch */
    writev_with_bus(&vnv_spi_fram_mb85rs4mt, 0, 0);
    writev_with_bus(&vnv_spi_fram_mb85rs4mt, 2, 0);  /* several held batches */
    writev_with_bus(&vnv_spi_fram_mb85rs4mt, 1, 16); /* ESP-IDF style: one seg per call */
    writev_with_bus(&vnv_spi_fram_mb85rs64v, 3, 2);  /* header split too */
    writev_with_bus(&vnv_spi_fram_mb85rs64v, 1, 1);  /* byte by byte */
}

/* More pieces than VNV_SPI_FRAM_MAX_SEGS: batches, still one WRITE command. */
static void test_writev_many_pieces(void)
{
    rc = setup(&vnv_spi_fram_mb85rs4mt, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    zero_counters();
    enum { N = 3 * VNV_SPI_FRAM_MAX_SEGS + 1 };
    uint8_t data[N];
    struct vnv_iovec iov[N];
    for (unsigned i = 0; i < N; i++) {
        data[i] = (uint8_t)(i + 1);
        iov[i].base = &data[i];
        iov[i].len = 1;
    }
    CHECK_EQ(st.writev(st.ctx, 1000, iov, N), VNV_OK);
    CHECK_EQ(model.write_cycles, 1);
    CHECK_EQ(model.cs_cycles, 2);
    CHECK_EQ(model.bytes, 1 + 1 + 3 + N);
    CHECK_EQ(fram.calls, 1 + (1 + N + VNV_SPI_FRAM_MAX_SEGS - 1) / VNV_SPI_FRAM_MAX_SEGS);
    CHECK_EQ(model.max_nseg_seen, VNV_SPI_FRAM_MAX_SEGS);
    CHECK(memcmp(mem4m + 1000, data, N) == 0);
}

/* ---- protocol enforcement (the model), bypassing the driver ----------------------------- */

static void test_model_enforces_wren(void)
{
    memset(mem64, 0, CAP_64V);
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    fram_model_bus(&model, &bus, 0, 0);
    const uint8_t wren = 0x06, wrdi = 0x04, rdsr = 0x05;
    const uint8_t write[5] = {0x02, 0x00, 0x10, 0xAA, 0xBB};
    uint8_t sr[2];

    /* A broken driver path: WRITE without WREN. */
    raw(write, sizeof write, NULL);
    CHECK_EQ(mem64[0x10], 0);
    CHECK_EQ(mem64[0x11], 0);
    CHECK_EQ(model.ignored_writes, 1);

    /* WREN inside the WRITE's CS cycle does not count either. */
    const uint8_t joined[6] = {0x06, 0x02, 0x00, 0x10, 0xAA, 0xBB};
    raw(joined, sizeof joined, NULL);
    raw(write, sizeof write, NULL);
    CHECK_EQ(mem64[0x10], 0);
    CHECK_EQ(model.ignored_writes, 2);

    /* WREN, then WRDI: disabled again. */
    raw(&wren, 1, NULL);
    raw(&rdsr, 1, NULL);
    struct vnv_spi_seg s[2] = {{&rdsr, NULL, 1}, {NULL, sr, 2}};
    CHECK_EQ(fram_model_transfer(&model, s, 2, 0), 0);
    CHECK_EQ(sr[0], FRAM_SR_WEL);
    CHECK_EQ(sr[1], FRAM_SR_WEL); /* RDSR streams */
    raw(&wrdi, 1, NULL);
    raw(write, sizeof write, NULL);
    CHECK_EQ(mem64[0x10], 0);
    CHECK_EQ(model.ignored_writes, 3);

    /* The right way lands; WEL is gone after it, so a second WRITE is ignored. */
    raw(&wren, 1, NULL);
    raw(write, sizeof write, NULL);
    CHECK_EQ(mem64[0x10], 0xAA);
    CHECK_EQ(mem64[0x11], 0xBB);
    CHECK_EQ(fram_model_transfer(&model, s, 2, 0), 0);
    CHECK_EQ(sr[0], 0);
    const uint8_t write2[4] = {0x02, 0x00, 0x10, 0x11};
    raw(write2, sizeof write2, NULL);
    CHECK_EQ(mem64[0x10], 0xAA);
    CHECK_EQ(model.ignored_writes, 4);

    /* Unknown opcodes are ignored, and leave WEL alone. */
    const uint8_t junk[3] = {0xAB, 0x02, 0x00};
    raw(&wren, 1, NULL);
    raw(junk, sizeof junk, NULL);
    raw(write2, sizeof write2, NULL);
    CHECK_EQ(mem64[0x10], 0x11);
    CHECK_EQ(model.other_cycles, 1);
}

static void test_model_wraps(void)
{
    memset(mem64, 0, CAP_64V);
    fram_model_init_chip(&model, mem64, &vnv_spi_fram_mb85rs64v);
    mem64[0] = 0x11;
    mem64[1] = 0x22;
    mem64[CAP_64V - 1] = 0x99;
    /* READ streaming from the last byte wraps to 0. */
    uint8_t out[6];
    const uint8_t rd[3] = {0x03, 0x1F, 0xFF};
    struct vnv_spi_seg s[2] = {{rd, NULL, 3}, {NULL, out, 3}};
    CHECK_EQ(fram_model_transfer(&model, s, 2, 0), 0);
    CHECK(out[0] == 0x99 && out[1] == 0x11 && out[2] == 0x22);
    /* Upper address bits are ignored: 0x2001 on an 8 KiB part is address 1. */
    const uint8_t rd2[3] = {0x03, 0x20, 0x01};
    s[0].tx = rd2;
    s[1].len = 1;
    CHECK_EQ(fram_model_transfer(&model, s, 2, 0), 0);
    CHECK_EQ(out[0], 0x22);
    /* WRITE streaming past the end wraps too. */
    const uint8_t wren = 0x06, wr[6] = {0x02, 0x1F, 0xFF, 0xA1, 0xA2, 0xA3};
    raw(&wren, 1, NULL);
    raw(wr, sizeof wr, NULL);
    CHECK(mem64[CAP_64V - 1] == 0xA1 && mem64[0] == 0xA2 && mem64[1] == 0xA3);
    /* RDID: the id, then zeros. */
    const uint8_t id = 0x9F;
    s[0].tx = &id;
    s[0].len = 1;
    s[1].len = 6;
    CHECK_EQ(fram_model_transfer(&model, s, 2, 0), 0);
    CHECK(memcmp(out, "\x04\x7F\x03\x02\x00\x00", 6) == 0);
}

/* ---- 2- vs 3-byte addressing on the wire ------------------------------------------------ */

static void test_addressing(void)
{
    uint8_t v = 0x5C, back = 0;
    rc = setup(&vnv_spi_fram_mb85rs64v, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    tap.n = 0;
    CHECK_EQ(st.write(st.ctx, 0x1ABC, &v, 1), VNV_OK);
    CHECK_EQ(tap.n, 5);
    CHECK(memcmp(tap.mosi, "\x06\x02\x1A\xBC\x5C", 5) == 0);
    tap.n = 0;
    CHECK_EQ(st.read(st.ctx, 0x1ABC, &back, 1), VNV_OK);
    CHECK_EQ(tap.n, 4);
    CHECK(memcmp(tap.mosi, "\x03\x1A\xBC", 3) == 0);
    CHECK_EQ(back, 0x5C);
    CHECK_EQ(mem64[0x1ABC], 0x5C);

    rc = setup(&vnv_spi_fram_mb85rs4mt, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    tap.n = 0;
    CHECK_EQ(st.write(st.ctx, 0x07ABCD, &v, 1), VNV_OK);
    CHECK_EQ(tap.n, 6);
    CHECK(memcmp(tap.mosi, "\x06\x02\x07\xAB\xCD\x5C", 6) == 0);
    tap.n = 0;
    CHECK_EQ(st.read(st.ctx, 0x07ABCD, &back, 1), VNV_OK);
    CHECK_EQ(tap.n, 5);
    CHECK(memcmp(tap.mosi, "\x03\x07\xAB\xCD", 4) == 0);
    CHECK_EQ(back, 0x5C);
    CHECK_EQ(mem4m[0x07ABCD], 0x5C);
    /* Top of the 512 KiB part: needs the third byte (0x7FFFF would alias to 0xFFFF in 2). */
    CHECK_EQ(st.write(st.ctx, CAP_4MT - 1, &v, 1), VNV_OK);
    CHECK_EQ(mem4m[CAP_4MT - 1], 0x5C);
    CHECK_EQ(mem4m[0xFFFF], 0);
}

/* ---- failures --------------------------------------------------------------------------- */

static void test_bus_errors(void)
{
    uint8_t buf[24], back[24];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i + 1);

    /* The WREN call fails: nothing written, and the next write works. */
    rc = setup(&vnv_spi_fram_mb85rs4mt, 0, 2, 0);
    REQUIRE(rc == VNV_OK);
    zero_counters();
    fram_model_fail_at(&model, 1);
    CHECK_EQ(st.write(st.ctx, 100, buf, 8), VNV_ERR_IO);
    CHECK_EQ(mem4m[100], 0);
    CHECK_EQ(fram.errors, 1);
    CHECK_EQ(fram.write_cmds, 0);
    CHECK_EQ(model.cs, 0);
    CHECK_EQ(st.write(st.ctx, 100, buf, 8), VNV_OK);
    CHECK(memcmp(mem4m + 100, buf, 8) == 0);

    /* A writev in held batches of 2 segments fails on its 2nd WRITE batch (3rd call): the
     * first batch (header + piece 0) landed, CS was released, WEL is gone. */
    memset(mem4m, 0, 256);
    zero_counters();
    struct vnv_iovec iov[4] = {{buf, 6}, {buf + 6, 6}, {buf + 12, 6}, {buf + 18, 6}};
    fram_model_fail_at(&model, 3);
    CHECK_EQ(st.writev(st.ctx, 50, iov, 4), VNV_ERR_IO);
    CHECK(memcmp(mem4m + 50, buf, 6) == 0);
    CHECK_EQ(mem4m[56], 0);
    CHECK_EQ(model.cs, 0);
    CHECK_EQ(model.sr & FRAM_SR_WEL, 0);
    CHECK_EQ(fram.errors, 1);
    CHECK_EQ(fram.cs_cycles, 1); /* only the WREN cycle completed */
    CHECK_EQ(st.writev(st.ctx, 50, iov, 4), VNV_OK);
    CHECK(memcmp(mem4m + 50, buf, 24) == 0);

    /* A read fails: IO; the following read is clean. */
    zero_counters();
    fram_model_fail_at(&model, 1);
    rc = st.read(st.ctx, 50, back, 24);
    CHECK_EQ(rc, VNV_ERR_IO);
    CHECK_EQ(fram.read_cmds, 0);
    rc = st.read(st.ctx, 50, back, 24);
    CHECK_EQ(rc, VNV_OK);
    CHECK(memcmp(back, buf, 24) == 0);
    CHECK_EQ(model.violations, 0);
}

static void test_power_cut(void)
{
    rc = setup(&vnv_spi_fram_mb85rs64v, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    uint8_t a[8], b[8], c[8], back[24];
    memset(a, 0xA1, 8);
    memset(b, 0xB2, 8);
    memset(c, 0xC3, 8);
    struct vnv_iovec iov[3] = {{a, 8}, {b, 8}, {c, 8}};
    fram_model_cut_power_after(&model, 10);
    /* The firmware cannot tell: the bus still "works". */
    CHECK_EQ(st.writev(st.ctx, 200, iov, 3), VNV_OK);
    CHECK(memcmp(mem64 + 200, a, 8) == 0);
    CHECK(mem64[208] == 0xB2 && mem64[209] == 0xB2 && mem64[210] == 0);
    CHECK_EQ(model.data_written, 10);
    /* Dead chip: reads float high. */
    CHECK_EQ(st.read(st.ctx, 200, back, 4), VNV_OK);
    CHECK(back[0] == 0xFF && back[3] == 0xFF);
    /* Power back: the landed bytes are there, WEL is clear, writes need a new WREN. */
    fram_model_power_on(&model);
    CHECK_EQ(model.sr & FRAM_SR_WEL, 0);
    CHECK_EQ(st.read(st.ctx, 200, back, 24), VNV_OK);
    CHECK(memcmp(back, a, 8) == 0 && back[9] == 0xB2 && back[10] == 0);
    CHECK_EQ(st.writev(st.ctx, 200, iov, 3), VNV_OK);
    CHECK(memcmp(mem64 + 216, c, 8) == 0);
}

static void test_time_model(void)
{
    rc = setup(&vnv_spi_fram_mb85rs4mt, 0, 0, 0);
    REQUIRE(rc == VNV_OK);
    zero_counters();
    uint8_t buf[100] = {0};
    CHECK_EQ(st.write(st.ctx, 0, buf, 100), VNV_OK);
    /* 1 + 4 + 100 = 105 bytes, 2 cycles. At 40 MHz a byte takes 200 ns. */
    CHECK_EQ(fram.bytes, 105);
    CHECK_EQ(vnv_spi_fram_time_ns(&fram, 40000000u, 0, 0), 105 * 200);
    CHECK_EQ(vnv_spi_fram_time_ns(&fram, 40000000u, 1000, 0), 105 * 200 + 2 * 1000);
    CHECK_EQ(vnv_spi_fram_time_ns(&fram, 40000000u, 1000, 500), 105 * 200 + 2000 + 2 * 500);
    CHECK_EQ(vnv_spi_fram_time_ns(&fram, 3000000u, 0, 0), 105ull * 8 * 1000000000 / 3000000);
    CHECK_EQ(vnv_spi_fram_time_ns(&fram, 0, 1000, 0), 0);
    uint8_t sr = 0xFF;
    CHECK_EQ(vnv_spi_fram_read_status(&fram, &sr), VNV_OK);
    CHECK_EQ(sr, 0);
    CHECK_EQ(fram.bytes, 107);
    CHECK_EQ(vnv_spi_fram_read_status(&fram, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_spi_fram_read_status(NULL, &sr), VNV_ERR_INVAL);
}

/* ---- a whole heap on top ---------------------------------------------------------------- */

#define HEAP_RAM 4096u
#define NOBJ 12

static uint8_t heap_ram[HEAP_RAM] __attribute__((aligned(8)));
static struct vnv_heap heap;

struct persist_ctx {
    int wipe;
    unsigned calls;
    int status;
};

static int on_persist(void *user, int status, void *buf, size_t len)
{
    struct persist_ctx *p = user;
    p->calls++;
    p->status = status;
    if (p->wipe) {
        memset(buf, 0, len); /* RAM lost with the power */
        return 1;
    }
    return 0;
}

struct world {
    vnv_obj_t dir; /* root: the handles of the objects */
    vnv_obj_t obj[NOBJ];
    uint32_t size[NOBJ];
    uint8_t val[NOBJ][96];
};

static struct world w;

static void build_world(struct rng *r)
{
    for (int i = 0; i < NOBJ; i++) {
        w.size[i] = 4 + rng_below(r, 92);
        rng_fill(r, w.val[i], w.size[i]);
        CHECK_EQ(vnv_alloc(&heap, w.size[i], w.val[i], &w.obj[i]), VNV_OK);
    }
    CHECK_EQ(vnv_alloc(&heap, sizeof w.obj, w.obj, &w.dir), VNV_OK);
    CHECK_EQ(vnv_set_root(&heap, w.dir), VNV_OK);
}

static void touch(struct rng *r, int ops)
{
    for (int k = 0; k < ops; k++) {
        int i = (int)rng_below(r, NOBJ);
        uint8_t *p;
        if (vnv_get_mut(&heap, w.obj[i], (void **)&p) != VNV_OK) {
            CHECK(0);
            return;
        }
        rng_fill(r, w.val[i], w.size[i]);
        memcpy(p, w.val[i], w.size[i]);
        CHECK_EQ(vnv_release(&heap, w.obj[i]), VNV_OK);
    }
}

static void verify_world(void)
{
    vnv_obj_t root;
    CHECK_EQ(vnv_root(&heap, &root), VNV_OK);
    CHECK(vnv_same(root, w.dir));
    const vnv_obj_t *d;
    rc = vnv_get(&heap, w.dir, (const void **)&d);
    REQUIRE(rc == VNV_OK);
    CHECK(memcmp(d, w.obj, sizeof w.obj) == 0);
    CHECK_EQ(vnv_release(&heap, w.dir), VNV_OK);
    for (int i = 0; i < NOBJ; i++) {
        const uint8_t *p;
        int err = vnv_get(&heap, w.obj[i], (const void **)&p);
        CHECK_EQ(err, VNV_OK);
        if (err)
            continue;
        CHECK(memcmp(p, w.val[i], w.size[i]) == 0);
        CHECK_EQ(vnv_release(&heap, w.obj[i]), VNV_OK);
    }
    CHECK_EQ(vnv_check(&heap), VNV_OK);
}

/* SPI traffic implied by the heap's own transaction counters: every write = WREN cycle +
 * WRITE cycle (2 + A bytes of overhead), every read = one READ cycle (1 + A). */
static void check_traffic_matches(const struct vnv_stats *s0, const struct vnv_stats *s1,
                                  unsigned a, uint64_t bytes, uint64_t cycles)
{
    uint64_t wr = s1->storage_writes - s0->storage_writes;
    uint64_t rd = s1->storage_reads - s0->storage_reads;
    uint64_t wb = s1->storage_write_bytes - s0->storage_write_bytes;
    uint64_t rb = s1->storage_read_bytes - s0->storage_read_bytes;
    CHECK_EQ(bytes, wb + rb + wr * (2u + a) + rd * (1u + a));
    CHECK_EQ(cycles, 2u * wr + rd);
}

static void heap_run(const struct vnv_spi_fram_chip *chip, unsigned max_segs, uint32_t max_len,
                     uint32_t max_dirty, int print)
{
    rc = setup(chip, 0, max_segs, max_len);
    REQUIRE(rc == VNV_OK);
    struct persist_ctx pc = {0, 0, 0};
    struct vnv_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.storage = &st;
    cfg.buffer = heap_ram;
    cfg.buffer_size = sizeof heap_ram;
    cfg.max_dirty_bytes = max_dirty;
    cfg.on_persist = on_persist;
    cfg.user = &pc;
    memset(heap_ram, 0, sizeof heap_ram);
    rc = vnv_format(&heap, &cfg);
    REQUIRE(rc == VNV_OK);
    CHECK_EQ(model.ignored_writes, 0);

    struct rng r;
    rng_seed(&r, 2024u + chip->addr_bytes);
    build_world(&r);
    touch(&r, 40);

    /* One checkpoint, RAM kept: count its SPI traffic. */
    struct vnv_stats s0, s1;
    CHECK_EQ(vnv_stats(&heap, &s0), VNV_OK);
    zero_counters();
    CHECK_EQ(vnv_checkpoint(&heap), VNV_OK);
    CHECK_EQ(pc.calls, 1);
    CHECK_EQ(pc.status, 0);
    CHECK_EQ(vnv_stats(&heap, &s1), VNV_OK);
    check_traffic_matches(&s0, &s1, chip->addr_bytes, fram.bytes, fram.cs_cycles);
    CHECK_EQ(fram.bytes, model.bytes);
    CHECK_EQ(fram.cs_cycles, model.cs_cycles);
    CHECK_EQ(model.write_cycles, s1.storage_writes - s0.storage_writes);
    CHECK_EQ(model.read_cycles, s1.storage_reads - s0.storage_reads);
    uint64_t payload = s1.storage_write_bytes - s0.storage_write_bytes;
    CHECK(payload <= vnv_persist_bound(&cfg));
    if (print) {
        printf("checkpoint on %s (%s bus: %u segs/call, max seg %lu B): %lu payload B "
               "(bound %lu), %lu SPI bytes, %lu CS cycles, %lu transfer calls\n",
               chip->name, max_segs ? "limited" : "default",
               max_segs ? max_segs : VNV_SPI_FRAM_MAX_SEGS, (unsigned long)max_len,
               (unsigned long)payload, (unsigned long)vnv_persist_bound(&cfg),
               (unsigned long)fram.bytes, (unsigned long)fram.cs_cycles,
               (unsigned long)fram.calls);
        printf("  at 40 MHz: %lu ns on the wire; %lu ns with 1 us per CS cycle (assumed)\n",
               (unsigned long)vnv_spi_fram_time_ns(&fram, 40000000u, 0, 0),
               (unsigned long)vnv_spi_fram_time_ns(&fram, 40000000u, 1000, 0));
    }

    /* The power-failure entry point, RAM wiped: everything comes back from FRAM. */
    pc.wipe = 1;
    touch(&r, 20);
    CHECK_EQ(vnv_persist_all(), VNV_OK);
    CHECK_EQ(pc.calls, 2);
    verify_world();

    /* Restart: control block and RAM gone, vnv_open from FRAM alone. */
    touch(&r, 20);
    pc.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&heap), VNV_OK);
    vnv_abandon(&heap);
    memset(heap_ram, 0xA5, sizeof heap_ram);
    memset(&heap, 0x5A, sizeof heap);
    rc = vnv_open(&heap, &cfg);
    REQUIRE(rc == VNV_OK);
    verify_world();

    /* Close writes everything home; open again. */
    touch(&r, 10);
    CHECK_EQ(vnv_close(&heap), VNV_OK);
    rc = vnv_open(&heap, &cfg);
    REQUIRE(rc == VNV_OK);
    verify_world();

    /* A power cut in the middle of a checkpoint: the next open finds the one before. */
    touch(&r, 30);
    uint32_t used;
    struct vnv_stats s2;
    CHECK_EQ(vnv_stats(&heap, &s2), VNV_OK);
    used = s2.checkpoint_bytes;
    fram_model_cut_power_after(&model, used / 2);
    CHECK_EQ(vnv_checkpoint(&heap), VNV_OK); /* the MCU cannot tell */
    vnv_abandon(&heap);
    fram_model_power_on(&model);
    CHECK_EQ(vnv_open(&heap, &cfg), VNV_OK);
    CHECK_EQ(vnv_check(&heap), VNV_OK);
    vnv_abandon(&heap);

    CHECK_EQ(model.ignored_writes, 0);
    CHECK_EQ(model.protected_bytes, 0);
    CHECK_EQ(model.violations, 0);
    if (max_segs)
        CHECK(model.max_nseg_seen <= max_segs);
}

static void test_heap_on_mb85rs4mt(void)
{
    heap_run(&vnv_spi_fram_mb85rs4mt, 0, 0, 1024, 1);
}

static void test_heap_on_mb85rs64v_esp_idf_style_bus(void)
{
    heap_run(&vnv_spi_fram_mb85rs64v, 1, 64, 768, 1);
}

int main(void)
{
    RUN(test_chip_descriptors);
    RUN(test_init_each_chip);
    RUN(test_init_rejects);
    RUN(test_init_clears_block_protection);
    RUN(test_edges_64v);
    RUN(test_edges_4mt);
    RUN(test_random_round_trips);
    RUN(test_writev_is_one_write_cycle);
    RUN(test_writev_many_pieces);
    RUN(test_model_enforces_wren);
    RUN(test_model_wraps);
    RUN(test_addressing);
    RUN(test_bus_errors);
    RUN(test_power_cut);
    RUN(test_time_model);
    RUN(test_heap_on_mb85rs4mt);
    RUN(test_heap_on_mb85rs64v_esp_idf_style_bus);
    return vtest_summary();
}
