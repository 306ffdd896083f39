/*
 * vnvheap_sample - examples/counter.c on Zephyr: a counter that lives on the EEPROM device
 * the devicetree chose (chosen { zephyr,vnvheap-storage = ...; }). Each boot opens the heap,
 * finds the counter through the root handle, adds 101 and closes the heap. On native_sim
 * the simulated EEPROM is a host file (flash... see README): run it twice and the count goes
 * on. On esp32c3_devkitm the device is an MB85RS64V SPI FRAM, a vnvheap,spi-fram node (the
 * library's own driver; boards/esp32c3_devkitm.overlay): press reset and the count goes on.
 */
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "vnvheap_zephyr.h"

struct counter {
    uint32_t val;
};

static _Alignas(8) uint8_t ram[1024];
static struct vnv_heap heap;
#if !VNV_ZEPHYR_STORAGE_IS_SPI_FRAM
static struct vnv_zephyr_eeprom eeprom;
#endif

int main(void)
{
    struct vnv_storage storage;
#if VNV_ZEPHYR_STORAGE_IS_SPI_FRAM
    int err = vnv_zephyr_spi_fram_storage(VNV_ZEPHYR_STORAGE_DEVICE, 0, &storage); /* all */
#else
    int err = vnv_zephyr_eeprom_storage(&eeprom, VNV_ZEPHYR_STORAGE_DEVICE, 0, 16 * 1024,
                                        &storage);
#endif
    if (err) {
        printk("storage: %s\n", vnv_strerror(err));
        return 0;
    }
    struct vnv_config cfg;
    vnv_zephyr_config_init(&cfg);
    cfg.storage = &storage;
    cfg.buffer = ram;
    cfg.buffer_size = sizeof ram;
    cfg.max_dirty_bytes = 256;

    vnv_obj_t counter;
    err = vnv_open(&heap, &cfg);
    if (err == VNV_OK) {
        vnv_root(&heap, &counter);
    } else if (err == VNV_ERR_NOHEAP) { /* blank or foreign device: make a new heap (any
                                          * other error is data that formatting destroys) */
        printk("no heap on the device (%s): formatting\n", vnv_strerror(err));
        struct counter zero = {0};
        err = vnv_format(&heap, &cfg);
        if (!err)
            err = VNV_NEW(&heap, struct counter, &zero, &counter);
        if (!err)
            err = vnv_set_root(&heap, counter);
    }
    if (err) {
        printk("heap: %s\n", vnv_strerror(err));
        return 0;
    }

    struct counter *c;
    err = VNV_GET_MUT(&heap, counter, struct counter, &c);
    if (err) {
        printk("get_mut: %s\n", vnv_strerror(err));
        return 0;
    }
    uint32_t before = c->val;
    c->val += 101;
    uint32_t after = c->val;
    vnv_release(&heap, counter);

    err = vnv_close(&heap);
    printk("counter: %u -> %u%s\n", (unsigned)before, (unsigned)after,
           err ? " (close failed)" : "");
    return 0;
}
