/* storage.c - range-checked helpers over struct vnv_storage, shared by heap and modules. */
#include "vnvheap/storage.h"

/* A backend's result: 0 or a negative code. A positive one (a byte count, as pread
 * returns) is out of contract; callers read positive values as "not applicable" or
 * "resident", so it becomes IO here rather than a success with nothing read. */
static int result(int r) { return r > 0 ? VNV_ERR_IO : r; }

static int in_range(const struct vnv_storage *s, uint32_t off, uint32_t len)
{
    return s && off <= s->size && len <= s->size - off;
}

int vnv_storage_read(const struct vnv_storage *s, uint32_t off, void *dst, uint32_t len)
{
    if (!in_range(s, off, len) || (len && !dst))
        return VNV_ERR_INVAL;
    return len ? result(s->read(s->ctx, off, dst, len)) : VNV_OK;
}

int vnv_storage_write(const struct vnv_storage *s, uint32_t off, const void *src, uint32_t len)
{
    if (!in_range(s, off, len) || (len && !src))
        return VNV_ERR_INVAL;
    return len ? result(s->write(s->ctx, off, src, len)) : VNV_OK;
}

int vnv_iov_total(const struct vnv_iovec *iov, unsigned cnt, uint32_t *total)
{
    uint32_t t = 0;
    if (cnt && !iov)
        return VNV_ERR_INVAL;
    for (unsigned i = 0; i < cnt; i++) {
        if (iov[i].len > UINT32_MAX - t || (iov[i].len && !iov[i].base))
            return VNV_ERR_INVAL;
        t += iov[i].len;
    }
    *total = t;
    return VNV_OK;
}

int vnv_storage_writev(const struct vnv_storage *s, uint32_t off, const struct vnv_iovec *iov,
                       unsigned cnt)
{
    uint32_t total = 0;
    if (!s || vnv_iov_total(iov, cnt, &total))
        return VNV_ERR_INVAL;
    return vnv_storage_writev_total(s, off, iov, cnt, total);
}

int vnv_storage_writev_total(const struct vnv_storage *s, uint32_t off,
                             const struct vnv_iovec *iov, unsigned cnt, uint32_t total)
{
    if (!in_range(s, off, total))
        return VNV_ERR_INVAL;
    if (total == 0)
        return VNV_OK;
    if (s->writev)
        return result(s->writev(s->ctx, off, iov, cnt));
    for (unsigned i = 0; i < cnt; i++) {
        if (iov[i].len) {
            int err = result(s->write(s->ctx, off, iov[i].base, iov[i].len));
            if (err)
                return err;
            off += iov[i].len;
        }
    }
    return VNV_OK;
}

int vnv_storage_sync(const struct vnv_storage *s)
{
    if (!s)
        return VNV_ERR_INVAL;
    return s->sync ? result(s->sync(s->ctx)) : VNV_OK;
}
