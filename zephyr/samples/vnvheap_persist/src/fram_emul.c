/*
 * fram_emul.c - an MB85RS-class SPI FRAM on native_sim: the test suite's protocol-enforcing
 * chip model (tests/support/fram_model.c) answering as a Zephyr SPI emulator, so that the
 * UPSTREAM fujitsu,mb85rsxx EEPROM driver talks to it over the spi-emul controller exactly
 * as it would to the chip. One io() call is one chip-select cycle.
 *
 * Identity: the upstream driver accepts only RDID 04 7F 2x 03 (manufacturer Fujitsu,
 * continuation code, product 0x20..0x3F, 0x03) and always sends 3 address bytes, i.e. the
 * 1 Mbit MB85RS1MT (04 7F 27 03), which is what this emulates (size from devicetree).
 */
#define DT_DRV_COMPAT fujitsu_mb85rsxx

#include <zephyr/device.h>
#include <zephyr/drivers/emul.h>
#include <zephyr/drivers/spi.h>
#include <zephyr/drivers/spi_emul.h>

#include "fram_model.h"

struct fram_emul_cfg {
    uint8_t *mem;
    uint32_t size;
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
    ARG_UNUSED(config);
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
    if (n == 0)
        return 0;
    return fram_model_transfer(&d->model, segs, n, 0) == 0 ? 0 : -EIO;
}

static const struct spi_emul_api fram_emul_api = {.io = fram_emul_io};

static int fram_emul_init(const struct emul *target, const struct device *parent)
{
    ARG_UNUSED(parent);
    const struct fram_emul_cfg *cfg = target->cfg;
    struct fram_emul_data *d = target->data;
    static const uint8_t id[4] = {0x04, 0x7F, 0x27, 0x03}; /* MB85RS1MT */
    fram_model_init(&d->model, cfg->mem, cfg->size, 3, id, sizeof id);
    fram_model_bus(&d->model, &(struct vnv_spi_bus){0}, 0, 0); /* no bus limits */
    return 0;
}

#define FRAM_EMUL(n)                                                                          \
    static uint8_t fram_mem_##n[DT_INST_PROP(n, size)];                                     \
    static struct fram_emul_data fram_emul_data_##n;                                        \
    static const struct fram_emul_cfg fram_emul_cfg_##n = {.mem = fram_mem_##n,            \
                                                           .size = DT_INST_PROP(n, size)};  \
    EMUL_DT_INST_DEFINE(n, fram_emul_init, &fram_emul_data_##n, &fram_emul_cfg_##n,         \
                        &fram_emul_api, NULL)

DT_INST_FOREACH_STATUS_OKAY(FRAM_EMUL)
