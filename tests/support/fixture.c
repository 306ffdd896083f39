#include "fixture.h"

#include <stdlib.h>
#include <string.h>

uint32_t fx_default_flags;

static int fx_on_persist(void *user, int status, void *buf, size_t len)
{
    struct fixture *f = user;
    f->persist_calls++;
    f->last_status = status;
    if (f->wipe) {
        memset(buf, 0, len); /* simulated power loss of the RAM buffer */
        return 1;
    }
    return 0;
}

void fx_init(struct fixture *f, uint32_t nv_size, uint32_t ram_size, uint32_t max_dirty)
{
    memset(f, 0, sizeof *f);
    f->nv = calloc(1, nv_size);
    f->ram = aligned_alloc(8, (ram_size + 7u) & ~7u);
    memset(f->ram, 0, ram_size);
    vnv_emu_init(&f->emu, f->nv, nv_size, NULL);
    vnv_emu_storage(&f->emu, &f->storage);
    f->cfg.storage = &f->storage;
    f->cfg.buffer = f->ram;
    f->cfg.buffer_size = ram_size;
    f->cfg.max_dirty_bytes = max_dirty;
    f->cfg.on_persist = fx_on_persist;
    f->cfg.user = f;
    f->cfg.flags = fx_default_flags;
    f->wipe = 1;
}

int fx_format(struct fixture *f, uint32_t nv_size, uint32_t ram_size, uint32_t max_dirty)
{
    fx_init(f, nv_size, ram_size, max_dirty);
    return vnv_format(&f->heap, &f->cfg);
}

int fx_reboot(struct fixture *f)
{
    memset(f->ram, 0xA5, f->cfg.buffer_size);
    memset(&f->heap, 0x5A, sizeof f->heap);
    vnv_emu_power_on(&f->emu);
    return vnv_open(&f->heap, &f->cfg);
}

void fx_free(struct fixture *f)
{
    vnv_abandon(&f->heap);
    free(f->nv);
    free(f->ram);
    f->nv = f->ram = NULL;
}

void fx_collect(const struct fixture *f, struct fx_totals *t)
{
    struct vnv_stats st;
    if (vnv_stats(&f->heap, &st) == VNV_OK) {
        t->persists += st.persists;
        t->deferred += st.deferred;
        t->restores += st.restores;
        t->callbacks += st.callbacks;
    }
}

uint32_t st_map_bytes(struct fixture *f)
{
    struct vnv_stats st;
    return vnv_stats(&f->heap, &st) == VNV_OK ? st.nv_map_bytes : 0u;
}
