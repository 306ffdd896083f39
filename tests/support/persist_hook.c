#include "persist_hook.h"

#include <string.h>

static struct {
    struct fixture *f;
    struct vnv_storage inner;
    uint8_t *image;
    uint32_t nv_size, min_read;
    int armed, on_write, result;
} hook;

static void fire(void)
{
    hook.armed = 0;
    hook.result = vnv_persist_all();
}

static int hook_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    int err = hook.inner.read(ctx, off, dst, len);
    if (hook.armed && !hook.on_write && len > hook.min_read && !err)
        fire();
    return err;
}

static int hook_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned n)
{
    int err = hook.inner.writev(ctx, off, iov, n);
    if (hook.armed && hook.on_write && !err)
        fire();
    return err;
}

static int hook_on_persist(void *user, int status, void *buf, size_t len)
{
    (void)user, (void)status, (void)buf, (void)len;
    memcpy(hook.image, hook.f->nv, hook.nv_size); /* storage as the checkpoint left it */
    return 0;
}

void hook_install(struct fixture *f, uint8_t *image, uint32_t nv_size)
{
    memset(&hook, 0, sizeof hook);
    hook.f = f;
    hook.inner = f->storage;
    hook.image = image;
    hook.nv_size = nv_size;
    hook.result = -1000;
    f->storage.read = hook_read;
    f->storage.writev = hook_writev;
    f->cfg.on_persist = hook_on_persist;
}

int hook_format(struct fixture *f, uint8_t *image, uint32_t nv_size, uint32_t ram_size,
                uint32_t max_dirty)
{
    fx_init(f, nv_size, ram_size, max_dirty);
    hook_install(f, image, nv_size);
    return vnv_format(&f->heap, &f->cfg);
}

void hook_arm(int on_write, uint32_t min_read)
{
    hook.on_write = on_write;
    hook.min_read = min_read;
    hook.result = -1000;
    hook.armed = 1;
}

int hook_result(void) { return hook.result; }

int fx_byte_after_reset(const uint8_t *image, uint32_t nv_size, uint32_t ram_size,
                        uint32_t max_dirty, vnv_obj_t o, uint32_t at)
{
    struct fixture g;
    uint8_t v = 0;
    fx_init(&g, nv_size, ram_size, max_dirty);
    memcpy(g.nv, image, nv_size);
    int err = vnv_open(&g.heap, &g.cfg);
    if (!err)
        err = vnv_read(&g.heap, o, at, &v, 1);
#if !VNV_MINIMAL /* (left out of the minimal profile) */
    if (!err)
        err = vnv_check(&g.heap);
#endif
    fx_free(&g);
    return err ? err : v;
}
