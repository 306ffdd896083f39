/*
 * size_app.c - a typical application of the core API, for `make size` (tools/size.py): it
 * is linked against the library with --gc-sections, and the library code that lands in
 * the program is what such a firmware pays. One heap on a storage driver, the root,
 * objects pinned, copied in and out, allocated and freed, flushed, a checkpoint, and the
 * power-failure interrupt. Uses nothing the minimal profile leaves out. Not run.
 */
#include "vnvheap.h"

static int nv_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    (void)ctx, (void)off, (void)dst, (void)len;
    return 0;
}

static int nv_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    (void)ctx, (void)off, (void)src, (void)len;
    return 0;
}

static _Alignas(8) unsigned char ram[4096];
static struct vnv_heap heap;

void power_fail_isr(void);
void power_fail_isr(void) { (void)vnv_persist_all(); }

int main(void)
{
    struct vnv_storage st = {0};
    st.size = 65536;
    st.read = nv_read;
    st.write = nv_write;
    struct vnv_config cfg = {0};
    cfg.storage = &st;
    cfg.buffer = ram;
    cfg.buffer_size = sizeof ram;
    cfg.max_dirty_bytes = 1024;
    int err = vnv_open(&heap, &cfg);
    if (err == VNV_ERR_NOHEAP)
        err = vnv_format(&heap, &cfg);
    vnv_obj_t root = VNV_NULL, tmp;
    if (!vnv_root(&heap, &root) && vnv_is_null(root)) {
        err |= vnv_alloc(&heap, 64, NULL, &root);
        err |= vnv_set_root(&heap, root);
    }
    void *w;
    const void *r;
    unsigned char b[8] = {0};
    err |= vnv_get_mut(&heap, root, &w);
    err |= vnv_release(&heap, root);
    err |= vnv_get(&heap, root, &r);
    err |= vnv_release(&heap, root);
    err |= vnv_write(&heap, root, 0, b, sizeof b);
    err |= vnv_read(&heap, root, 0, b, sizeof b);
    err |= vnv_alloc(&heap, 32, b, &tmp);
    err |= vnv_free(&heap, tmp);
    err |= vnv_flush(&heap, root);
    err |= vnv_checkpoint(&heap);
    return err;
}
