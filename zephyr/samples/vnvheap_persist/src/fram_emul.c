/*
 * fram_emul.c - an MB85RS-class SPI FRAM on native_sim: the test suite's protocol-enforcing
 * chip model (tests/support/fram_model.c) answering as a Zephyr SPI emulator, so that the
 * UPSTREAM fujitsu,mb85rsxx EEPROM driver talks to it over the spi-emul controller exactly
 * as it would to the chip. One io() call is one chip-select cycle.
 *
 * Identity: the upstream driver accepts only RDID 04 7F 2x 03 (manufacturer Fujitsu,
 * continuation code, product 0x20..0x3F, 0x03) and always sends 3 address bytes, i.e. the
 * 1 Mbit MB85RS1MT (04 7F 27 03), which is what a fujitsu,mb85rsxx node emulates (size from
 * devicetree). A vnvheap,spi-fram node (fram64v.overlay: the library's OWN driver through
 * zephyr/src/storage_spi_fram_zephyr.c) emulates what its devicetree says - size,
 * address-width, jedec-id - e.g. the MB85RS64V (8 KiB, 2 address bytes, 04 7F 03 02).
 * SPI_HOLD_ON_CS in the config keeps the model's CS cycle open into the next io() call.
 */
#include <zephyr/device.h>
#include <zephyr/drivers/emul.h>
#include <zephyr/drivers/spi.h>
#include <zephyr/drivers/spi_emul.h>

#include "fram_model.h"

struct fram_emul_cfg {
    uint8_t *mem;
    uint32_t size;
    uint8_t addr_bytes;
    uint8_t id_len;
    uint8_t id[VNV_SPI_FRAM_ID_MAX];
};

struct fram_emul_data {
    struct spi_emul emul;
    struct fram_model model;
};

#define MAX_SEGS 8

/* Walk tx and rx buffer sets side by side: each model segment is the longest run in which
 * both sides stay within one buffer (a missing side clocks filler / discards). */
static int fram_emul_io(const struct emul *target, const struct spi_config *config,
                        const struct spi_buf_set *tx, const struct spi_buf_set *rx)
{
    struct fram_emul_data *d = target->data;
    struct vnv_spi_seg segs[MAX_SEGS];
    unsigned n = 0;
    size_t ti = 0, ri = 0, toff = 0, roff = 0;
    size_t tcnt = tx ? tx->count : 0, rcnt = rx ? rx->count : 0;
    for (;;) {
        while (ti < tcnt && toff == tx->buffers[ti].len) {
            ti++;
            toff = 0;
        }
        while (ri < rcnt && roff == rx->buffers[ri].len) {
            ri++;
            roff = 0;
        }
        if (ti == tcnt && ri == rcnt)
            break;
        size_t tl = ti < tcnt ? tx->buffers[ti].len - toff : SIZE_MAX;
        size_t rl = ri < rcnt ? rx->buffers[ri].len - roff : SIZE_MAX;
        size_t len = tl < rl ? tl : rl;
        const uint8_t *tp = ti < tcnt && tx->buffers[ti].buf
                                ? (const uint8_t *)tx->buffers[ti].buf + toff : NULL;
        uint8_t *rp = ri < rcnt && rx->buffers[ri].buf ? (uint8_t *)rx->buffers[ri].buf + roff
                                                       : NULL;
        if (n == MAX_SEGS) { /* continue the same CS cycle in another call */
            if (fram_model_transfer(&d->model, segs, n, VNV_SPI_HOLD_CS) != 0)
                return -EIO;
            n = 0;
        }
        segs[n++] = (struct vnv_spi_seg){.tx = tp, .rx = rp, .len = (uint32_t)len};
        if (ti < tcnt)
            toff += len;
        if (ri < rcnt)
            roff += len;
    }
    unsigned flags = config->operation & SPI_HOLD_ON_CS ? VNV_SPI_HOLD_CS : 0;
    if (n == 0)
        return 0;
    return fram_model_transfer(&d->model, segs, n, flags) == 0 ? 0 : -EIO;
}

static const struct spi_emul_api fram_emul_api = {.io = fram_emul_io};

static int fram_emul_init(const struct emul *target, const struct device *parent)
{
    ARG_UNUSED(parent);
    const struct fram_emul_cfg *cfg = target->cfg;
    struct fram_emul_data *d = target->data;
    fram_model_init(&d->model, cfg->mem, cfg->size, cfg->addr_bytes, cfg->id, cfg->id_len);
    fram_model_bus(&d->model, &(struct vnv_spi_bus){0}, 0, 0); /* no bus limits */
    return 0;
}

static struct fram_emul_data *last_model; /* for fram_emul_report() */

static int fram_emul_init_report(const struct emul *target, const struct device *parent)
{
    last_model = target->data;
    return fram_emul_init(target, parent);
}

#define FRAM_EMUL(p, n, addr_bytes_, id_len_, ...)                                            \
    static uint8_t fram_mem_##p##n[DT_INST_PROP(n, size)];                                  \
    static struct fram_emul_data fram_emul_data_##p##n;                                     \
    static const struct fram_emul_cfg fram_emul_cfg_##p##n = {                              \
        .mem = fram_mem_##p##n, .size = DT_INST_PROP(n, size), .addr_bytes = (addr_bytes_),  \
        .id_len = (id_len_), .id = __VA_ARGS__};                                             \
    EMUL_DT_INST_DEFINE(n, fram_emul_init_report, &fram_emul_data_##p##n,                   \
                        &fram_emul_cfg_##p##n, &fram_emul_api, NULL)

/* The upstream driver's chip: an MB85RS1MT. */
#define DT_DRV_COMPAT fujitsu_mb85rsxx
#define FRAM_EMUL_MB85RSXX(n) FRAM_EMUL(f, n, 3, 4, {0x04, 0x7F, 0x27, 0x03});
DT_INST_FOREACH_STATUS_OKAY(FRAM_EMUL_MB85RSXX)
#undef DT_DRV_COMPAT

/* The library's own driver's chip: whatever the node describes. */
#define DT_DRV_COMPAT vnvheap_spi_fram
#define FRAM_EMUL_VNV(n)                                                                      \
    FRAM_EMUL(v, n, DT_INST_PROP(n, address_width) / 8, DT_INST_PROP_LEN_OR(n, jedec_id, 0), \
              DT_INST_PROP_OR(n, jedec_id, {0}));
DT_INST_FOREACH_STATUS_OKAY(FRAM_EMUL_VNV)
#undef DT_DRV_COMPAT

/* What the chip saw, for the sample's final report: protocol violations of the bus
 * contract and writes the chip ignored (no WEL) must both be 0. */
void fram_emul_report(uint64_t *cs_cycles, uint64_t *violations, uint64_t *ignored_writes)
{
    const struct fram_model *m = last_model ? &last_model->model : NULL;
    *cs_cycles = m ? m->cs_cycles : 0;
    *violations = m ? m->violations : 0;
    *ignored_writes = m ? m->ignored_writes : 0;
}
