/*
 * storage_spi_fram_zephyr.c - the library's own SPI FRAM driver (src/storage/spi_fram.c) on
 * a Zephyr SPI device: every enabled "vnvheap,spi-fram" devicetree node becomes a device
 * whose struct vnv_spi_bus transfer callback is spi_transceive() on that node's SPI device
 * (CONFIG_VNVHEAP_SPI_FRAM_ZEPHYR). Its init identifies the chip (RDID against jedec-id,
 * clears block protection); vnv_zephyr_spi_fram_storage() hands out the storage callbacks.
 *
 * Chip select across calls: the driver keeps a CS cycle open with VNV_SPI_HOLD_CS when a
 * command has more segments than one call takes (a long gather write). That maps onto
 * Zephyr's SPI_HOLD_ON_CS + SPI_LOCK_ON (the bus stays ours and CS asserted until the
 * last call of the cycle, after which spi_release() frees the bus). Zephyr's SPI context
 * identifies the lock owner and reads the HOLD flag through the spi_config POINTER, so
 * every call of a device uses the same (per-device, mutable) struct spi_config and only
 * its operation flags change. Chip select must be a cs-gpios line (or a controller that
 * honours SPI_HOLD_ON_CS): a hardware CS pin may rise between calls.
 *
 * Context: the persist thread (CONFIG_VNVHEAP_PERSIST_THREAD) runs checkpoints in thread
 * context, so the SPI driver may sleep and take its lock as usual.
 */
#define DT_DRV_COMPAT vnvheap_spi_fram

#include <errno.h>
#include <string.h>

#include <zephyr/device.h>
#include <zephyr/drivers/spi.h>
#include <zephyr/kernel.h>

#include "vnvheap_zephyr.h"

struct vnv_zspi_config {
    struct spi_dt_spec spi;
    uint32_t size;
    uint8_t addr_bytes;
    uint8_t id_len;
    uint8_t id[VNV_SPI_FRAM_ID_MAX];
};

struct vnv_zspi_data {
    struct spi_config cfg; /* the one config every call uses (see above) */
    bool held;             /* a CS cycle is open: the previous call had VNV_SPI_HOLD_CS */
    int init_err;          /* vnv_spi_fram_init's result */
    struct vnv_spi_fram fram;
};

static int zspi_transfer(void *ctx, const struct vnv_spi_seg *segs, unsigned nseg,
                         unsigned flags)
{
    const struct device *dev = ctx;
    const struct vnv_zspi_config *c = dev->config;
    struct vnv_zspi_data *d = dev->data;
    struct spi_buf tx[VNV_SPI_FRAM_MAX_SEGS], rx[VNV_SPI_FRAM_MAX_SEGS];
    bool any_tx = false, any_rx = false;

    if (nseg == 0 || nseg > VNV_SPI_FRAM_MAX_SEGS)
        return -EINVAL; /* never from the driver (bus.max_segs is 0) */
    for (unsigned i = 0; i < nseg; i++) {
        /* a NULL buf clocks filler (tx) / discards (rx), as struct vnv_spi_seg wants */
        tx[i] = (struct spi_buf){.buf = (void *)segs[i].tx, .len = segs[i].len};
        rx[i] = (struct spi_buf){.buf = segs[i].rx, .len = segs[i].len};
        any_tx |= segs[i].tx != NULL;
        any_rx |= segs[i].rx != NULL;
    }
    const struct spi_buf_set txs = {.buffers = tx, .count = nseg};
    const struct spi_buf_set rxs = {.buffers = rx, .count = nseg};
    /* A set with only NULL buffers is passed as no set at all, except that the clocked
     * length must still come from one side: keep tx when neither side has data. */
    const struct spi_buf_set *tp = any_tx || !any_rx ? &txs : NULL;
    const struct spi_buf_set *rp = any_rx ? &rxs : NULL;

    bool hold = (flags & VNV_SPI_HOLD_CS) != 0;
    d->cfg.operation = c->spi.config.operation;
    if (hold || d->held)
        d->cfg.operation |= SPI_LOCK_ON; /* the bus stays ours for the whole cycle */
    if (hold)
        d->cfg.operation |= SPI_HOLD_ON_CS;
    int err = spi_transceive(c->spi.bus, &d->cfg, tp, rp);
    if (err != 0 || (!hold && d->held)) {
        /* Cycle over (or failed: the contract wants CS deasserted): CS off, bus free. */
        if (hold || d->held)
            (void)spi_release(c->spi.bus, &d->cfg);
        d->held = false;
        return err != 0 ? -EIO : 0;
    }
    d->held = hold;
    return 0;
}

static int vnv_zspi_init(const struct device *dev)
{
    const struct vnv_zspi_config *c = dev->config;
    struct vnv_zspi_data *d = dev->data;
    struct vnv_spi_fram_chip chip;

    d->cfg = c->spi.config;
    d->held = false;
    if (!spi_is_ready_dt(&c->spi)) {
        d->init_err = VNV_ERR_IO;
        return -ENODEV;
    }
    d->init_err = vnv_spi_fram_chip_custom(&chip, dev->name, c->size, c->addr_bytes, c->id,
                                           c->id_len);
    if (d->init_err == VNV_OK) {
        const struct vnv_spi_bus bus = {.ctx = (void *)dev, .transfer = zspi_transfer};
        d->init_err = vnv_spi_fram_init(&d->fram, &bus, &chip);
    }
    return d->init_err == VNV_OK ? 0 : -EIO;
}

int vnv_zephyr_spi_fram_storage(const struct device *dev, uint32_t size, struct vnv_storage *out)
{
    if (dev == NULL || out == NULL)
        return VNV_ERR_INVAL;
    const struct vnv_zspi_config *c = dev->config;
    struct vnv_zspi_data *d = dev->data;
    if (!device_is_ready(dev))
        return d->init_err < 0 ? d->init_err : VNV_ERR_IO;
    if (size > c->size)
        return VNV_ERR_INVAL;
    vnv_spi_fram_storage(&d->fram, out);
    if (size != 0)
        out->size = size;
    if (out->size > VNV_MAX_STORAGE_SIZE)
        out->size = VNV_MAX_STORAGE_SIZE;
    return VNV_OK;
}

struct vnv_spi_fram *vnv_zephyr_spi_fram_driver(const struct device *dev)
{
    return dev != NULL && device_is_ready(dev) ? &((struct vnv_zspi_data *)dev->data)->fram
                                               : NULL;
}

/* SPI mode 0, MSB first, 8-bit words: every MB85RS part (mode 3 works too). */
#define VNV_ZSPI_OP (SPI_OP_MODE_MASTER | SPI_TRANSFER_MSB | SPI_WORD_SET(8))

#define VNV_ZSPI_DEFINE(n)                                                                    \
    BUILD_ASSERT(DT_INST_PROP_LEN_OR(n, jedec_id, 0) <= VNV_SPI_FRAM_ID_MAX,                 \
                 "vnvheap,spi-fram: jedec-id longer than VNV_SPI_FRAM_ID_MAX");               \
    static struct vnv_zspi_data vnv_zspi_data_##n;                                            \
    static const struct vnv_zspi_config vnv_zspi_config_##n = {                               \
        .spi = SPI_DT_SPEC_INST_GET(n, VNV_ZSPI_OP, 0),                                      \
        .size = DT_INST_PROP(n, size),                                                       \
        .addr_bytes = DT_INST_PROP(n, address_width) / 8,                                    \
        .id_len = DT_INST_PROP_LEN_OR(n, jedec_id, 0),                                       \
        .id = DT_INST_PROP_OR(n, jedec_id, {0}),                                             \
    };                                                                                        \
    DEVICE_DT_INST_DEFINE(n, vnv_zspi_init, NULL, &vnv_zspi_data_##n, &vnv_zspi_config_##n,  \
                          POST_KERNEL, CONFIG_VNVHEAP_SPI_FRAM_INIT_PRIORITY, NULL);

DT_INST_FOREACH_STATUS_OKAY(VNV_ZSPI_DEFINE)
