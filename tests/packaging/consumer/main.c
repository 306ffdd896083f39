/* The consumer of the packaging test: uses the heap through the installed or added target. */
#include <stdio.h>
#include <string.h>

#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

/* the override header (tests/packaging/my_config.h) reached this compile */
_Static_assert(VNV_FREE_CACHE == VNV_EXPECT_FREE_CACHE, "VNV_CONFIG_HEADER did not reach the consumer");

static struct vnv_heap heap;
static _Alignas(8) unsigned char ram[2048];
static _Alignas(8) unsigned char nv[32 * 1024];

int main(void)
{
    struct vnv_emu emu;
    struct vnv_storage st;
    vnv_emu_init(&emu, nv, sizeof nv, &vnv_emu_profile_free);
    vnv_emu_storage(&emu, &st);
    struct vnv_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.storage = &st;
    cfg.buffer = ram;
    cfg.buffer_size = sizeof ram;
    cfg.max_dirty_bytes = 512;
    vnv_obj_t o;
    unsigned v = 42, w = 0;
    int err = vnv_format(&heap, &cfg);
    if (!err)
        err = vnv_alloc(&heap, sizeof v, &v, &o);
    if (!err)
        err = vnv_checkpoint(&heap);
    if (!err)
        err = vnv_read(&heap, o, 0, &w, sizeof w);
    if (!err)
        err = vnv_check(&heap);
    if (!err)
        err = vnv_close(&heap);
    if (err || w != 42) {
        printf("consumer: FAIL (%s, %u)\n", vnv_strerror(err), w);
        return 1;
    }
    printf("consumer: OK\n");
    return 0;
}
