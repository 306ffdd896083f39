/*
 * storage_eeprom.c - struct vnv_storage over the Zephyr EEPROM API.
 *
 * The heap calls these from normal threads and from the persist thread, never two at once
 * for one storage (it defers a checkpoint while a transaction is in flight), so the gather
 * buffer in struct vnv_zephyr_eeprom needs no lock. EEPROM drivers may sleep and take
 * locks: never call vnv_persist_all() from an ISR with this backend (vnvheap_zephyr.h).
 */
#include <errno.h>
#include <string.h>

#include <zephyr/drivers/eeprom.h>

#include "vnvheap_zephyr.h"

#if defined(CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER) && CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER > 0
#define GATHER CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER
#else
#define GATHER 0
#endif

static int in_range(const struct vnv_zephyr_eeprom *e, uint32_t off, uint32_t len)
{
    return off <= e->size && len <= e->size - off;
}

static int driver_result(struct vnv_zephyr_eeprom *e, int rc)
{
    if (rc == 0)
        return VNV_OK;
    e->errors++;
    return VNV_ERR_IO;
}

static int ee_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    struct vnv_zephyr_eeprom *e = ctx;
    if (!in_range(e, off, len) || (len && !dst))
        return VNV_ERR_INVAL;
    if (len == 0)
        return VNV_OK;
    return driver_result(e, eeprom_read(e->dev, (off_t)(e->offset + off), dst, len));
}

static int ee_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct vnv_zephyr_eeprom *e = ctx;
    if (!in_range(e, off, len) || (len && !src))
        return VNV_ERR_INVAL;
    if (len == 0)
        return VNV_OK;
    return driver_result(e, eeprom_write(e->dev, (off_t)(e->offset + off), src, len));
}

/* Pieces are packed into the gather buffer and written in as few eeprom_write() calls as
 * it allows; a piece at least as large as the buffer is written directly. */
static int ee_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    struct vnv_zephyr_eeprom *e = ctx;
    uint32_t total;
    int err = vnv_iov_total(iov, cnt, &total);
    if (err)
        return err;
    if (!in_range(e, off, total))
        return VNV_ERR_INVAL;
#if GATHER > 0
    uint32_t fill = 0, start = off;
    for (unsigned i = 0; i < cnt; i++) {
        const uint8_t *p = iov[i].base;
        uint32_t n = iov[i].len;
        if (n >= GATHER) { /* large piece: flush what is packed, write it in place */
            if (fill && (err = ee_write(e, start, e->gather, fill)) != 0)
                return err;
            if ((err = ee_write(e, start + fill, p, n)) != 0)
                return err;
            start += fill + n;
            fill = 0;
            continue;
        }
        while (n) {
            uint32_t k = GATHER - fill < n ? GATHER - fill : n;
            memcpy(e->gather + fill, p, k);
            fill += k;
            p += k;
            n -= k;
            if (fill == GATHER) {
                if ((err = ee_write(e, start, e->gather, fill)) != 0)
                    return err;
                start += fill;
                fill = 0;
            }
        }
    }
    return fill ? ee_write(e, start, e->gather, fill) : VNV_OK;
#else
    for (unsigned i = 0; i < cnt; i++) {
        if ((err = ee_write(e, off, iov[i].base, iov[i].len)) != 0)
            return err;
        off += iov[i].len;
    }
    return VNV_OK;
#endif
}

/* A one-byte read: EEPROM drivers return from a write before the part has programmed it
 * (AT25 polls its busy bit, AT24 retries its address, both at the start of the NEXT
 * access), so only an access after it proves the write is on the device - what the heap
 * needs between a checkpoint's body and its header, and before on_persist. */
static int ee_sync(void *ctx)
{
    struct vnv_zephyr_eeprom *e = ctx;
    uint8_t b;
    return e->size ? driver_result(e, eeprom_read(e->dev, e->offset, &b, 1)) : VNV_OK;
}

int vnv_zephyr_eeprom_storage(struct vnv_zephyr_eeprom *e, const struct device *dev,
                              uint32_t offset, uint32_t size, struct vnv_storage *out)
{
    if (!e || !dev || !out)
        return VNV_ERR_INVAL;
    if (!device_is_ready(dev))
        return VNV_ERR_IO;
    size_t dev_size = eeprom_get_size(dev);
    if (offset > dev_size)
        return VNV_ERR_INVAL;
    if (size == 0) {
        size_t rest = dev_size - offset;
        size = rest > VNV_MAX_STORAGE_SIZE ? VNV_MAX_STORAGE_SIZE : (uint32_t)rest;
    }
    if (size > dev_size - offset)
        return VNV_ERR_INVAL;
    e->dev = dev;
    e->offset = offset;
    e->size = size;
    e->errors = 0;
    *out = (struct vnv_storage){.ctx = e, .size = size, .read = ee_read, .write = ee_write,
                                .writev = ee_writev, .sync = ee_sync};
    return VNV_OK;
}
