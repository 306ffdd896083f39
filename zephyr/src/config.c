/* config.c - struct vnv_config defaults from Kconfig. */
#include <string.h>

#include "vnvheap_zephyr.h"

void vnv_zephyr_config_init(struct vnv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
#if defined(CONFIG_VNVHEAP_RAM_BUDDY)
    cfg->ram_allocator = &vnv_ram_buddy;
#else
    cfg->ram_allocator = &vnv_ram_firstfit;
#endif
#if defined(CONFIG_VNVHEAP_POLICY_ADDRORDER)
    cfg->policy = &vnv_policy_addrorder;
#else
    cfg->policy = &vnv_policy_clock;
#endif
#if defined(CONFIG_VNVHEAP_NV_BUDDY)
    cfg->nv_allocator = &vnv_nv_buddy;
#else
    cfg->nv_allocator = &vnv_nv_firstfit;
#endif
}
