/*
 * vnvheap_zephyr.h - the Zephyr glue of vnvheap (zephyr/, README "Zephyr").
 *
 *   storage   vnv_zephyr_eeprom_storage(): a struct vnv_storage over any EEPROM-API device,
 *             e.g. VNV_ZEPHYR_STORAGE_DEVICE, the devicetree's `zephyr,vnvheap-storage`
 *             chosen node (fujitsu,mb85rsxx SPI FRAM, zephyr,sim-eeprom, ...);
 *             vnv_zephyr_spi_fram_storage(): the library's own SPI FRAM driver on a
 *             "vnvheap,spi-fram" node (any MB85RS part, e.g. the MB85RS64V).
 *   power     vnv_zephyr_power_fail(): ISR-safe; wakes the persist thread (highest
 *             priority), which calls vnv_persist_all(). Storage drivers take locks and may
 *             sleep, so the checkpoint cannot run inside the interrupt itself.
 *   config    vnv_zephyr_config_init(): a struct vnv_config with the Kconfig-selected
 *             modules.
 */
#ifndef VNVHEAP_ZEPHYR_H
#define VNVHEAP_ZEPHYR_H

#include <zephyr/device.h>
#include <zephyr/devicetree.h>

#include "vnvheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The storage device the devicetree chose: chosen { zephyr,vnvheap-storage = &fram; }; */
#if DT_HAS_CHOSEN(zephyr_vnvheap_storage)
#define VNV_ZEPHYR_STORAGE_DEVICE DEVICE_DT_GET(DT_CHOSEN(zephyr_vnvheap_storage))
/* 1 if that node is a "vnvheap,spi-fram" (use vnv_zephyr_spi_fram_storage), else 0 (an
 * EEPROM-API device: vnv_zephyr_eeprom_storage). */
#define VNV_ZEPHYR_STORAGE_IS_SPI_FRAM                                                        \
    DT_NODE_HAS_COMPAT(DT_CHOSEN(zephyr_vnvheap_storage), vnvheap_spi_fram)
#endif

/* Zero *cfg, then set the RAM allocator and policy chosen in Kconfig
 * (CONFIG_VNVHEAP_RAM_*, CONFIG_VNVHEAP_POLICY_*). */
void vnv_zephyr_config_init(struct vnv_config *cfg);

/* ---- storage through the EEPROM API (CONFIG_VNVHEAP_EEPROM) ------------------------------ */

struct vnv_zephyr_eeprom {
    const struct device *dev;
    uint32_t offset; /* first device byte the heap uses */
    uint32_t size;   /* bytes the heap uses */
    uint32_t errors; /* driver errors seen (each returned as VNV_ERR_IO) */
#if defined(CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER) && CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER > 0
    uint8_t gather[CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER];
#endif
};

/*
 * Describe bytes [offset, offset + size) of EEPROM device `dev` as heap storage in *out
 * (size 0 = the rest of the device, capped at VNV_MAX_STORAGE_SIZE). `e` must outlive the
 * heap. Reads and writes are eeprom_read()/eeprom_write(); a gather write is packed into
 * CONFIG_VNVHEAP_EEPROM_GATHER_BUFFER-byte writes. Sync is a one-byte read: EEPROM drivers
 * return from a write before the part has programmed it and wait at the next access, so
 * the heap's two syncs per checkpoint (body before header, header before on_persist) each
 * cost one small read.
 * Errors: VNV_ERR_INVAL (NULL, range outside the device), VNV_ERR_IO (device not ready).
 */
int vnv_zephyr_eeprom_storage(struct vnv_zephyr_eeprom *e, const struct device *dev,
                              uint32_t offset, uint32_t size, struct vnv_storage *out);

/* ---- the library's SPI FRAM driver on a Zephyr SPI device (CONFIG_VNVHEAP_SPI_FRAM_ZEPHYR) */

#if defined(CONFIG_VNVHEAP_SPI_FRAM_ZEPHYR) || defined(__DOXYGEN__)
#include "vnvheap/storage_spi_fram.h"
/*
 * Describe bytes [0, size) of the "vnvheap,spi-fram" device `dev` (size 0 = all of it,
 * capped at VNV_MAX_STORAGE_SIZE) as heap storage in *out: the callbacks of
 * src/storage/spi_fram.c (sync NULL: FRAM is durable at CS rise), with the device's
 * struct vnv_spi_fram as ctx. Bytes above `size` stay reachable through out->read/write
 * (the driver checks against the chip's capacity), e.g. for an application record - but
 * not while a power-fail request can arrive: the persist thread may preempt such a call
 * in the middle of its SPI transfer, and its own transfers (same spi_config) would then
 * join that chip-select cycle. Mask the request around them (the heap's own storage
 * calls are safe: the persist thread defers inside them).
 * Errors: VNV_ERR_INVAL (NULL, size above the chip), VNV_ERR_IO (SPI bus not ready, RDID
 * answer not the node's jedec-id: init failed; the device is not ready).
 */
int vnv_zephyr_spi_fram_storage(const struct device *dev, uint32_t size, struct vnv_storage *out);
/* The driver state of a ready device (RDID answer, traffic counters: read only), or NULL. */
struct vnv_spi_fram *vnv_zephyr_spi_fram_driver(const struct device *dev);
#endif

/* ---- the power-fail persist thread (CONFIG_VNVHEAP_PERSIST_THREAD) ------------------------ */

/*
 * Request a checkpoint of every registered heap: ISR-safe, never blocks. The persist thread
 * (CONFIG_VNVHEAP_PERSIST_THREAD_PRIORITY, the highest by default) runs vnv_persist_all()
 * as soon as the interrupt returns. Requests arriving before it ran are merged into one.
 */
void vnv_zephyr_power_fail(void);

struct vnv_zephyr_persist_stats {
    uint32_t requests;   /* vnv_zephyr_power_fail() calls */
    uint32_t rounds;     /* vnv_persist_all() calls made by the thread */
    uint32_t failures;   /* rounds that returned an error */
    int last_result;     /* the last round's return value (>= 0: done or deferred) */
    int32_t stack_unused; /* bytes of the thread's stack never used, -1 if unknown
                             (needs CONFIG_INIT_STACKS and CONFIG_THREAD_STACK_INFO) */
};
void vnv_zephyr_persist_stats(struct vnv_zephyr_persist_stats *out);

#if defined(CONFIG_GPIO) || defined(__DOXYGEN__)
#include <zephyr/drivers/gpio.h>
/*
 * Wire a power-fail GPIO (comparator output, supervisor, a button) to
 * vnv_zephyr_power_fail(): configures it as an input with an interrupt on `edge`
 * (GPIO_INT_EDGE_TO_ACTIVE, ...). `cb` must outlive the registration.
 * Returns 0 or a negative errno from the GPIO driver.
 */
int vnv_zephyr_power_fail_gpio(const struct gpio_dt_spec *spec, struct gpio_callback *cb,
                               gpio_flags_t edge);
#endif

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_ZEPHYR_H */
