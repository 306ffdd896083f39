/*
 * home.c - the object store's bottom: counted storage transactions and the object header
 * that starts every home on storage.
 *
 * A home is a whole number of allocation units:
 *   [header 16 B][data slot 0: size bytes][data slot 1: size bytes]
 * The header is written once, with the first write of slot 0, and never changes while the
 * object lives (docs/FORMAT.md section 4). Which slot holds the current data is kept in the
 * NV map (MAP_CUR), which every checkpoint commits.
 */
#include "../internal.h"

/* Every storage transaction is a critical section of its own: a checkpoint never starts
 * while the device is in the middle of another command (storage.h promises this). */
int heap_read(struct vnv_heap *h, uint32_t off, void *dst, uint32_t len)
{
    if (heap_is_dead(h))
        return VNV_ERR_INVAL; /* closed itself inside the caller's call (heap_die) */
    sec_enter(h);
    h->st.storage_reads++;
    h->st.storage_read_bytes += len;
    int err = vnv_storage_read(&h->storage, off, dst, len);
    sec_leave(h);
    return heap_is_dead(h) ? VNV_ERR_INVAL : err; /* (a deferred checkpoint at the end) */
}

int heap_writev(struct vnv_heap *h, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    uint32_t total = 0;
    if (vnv_iov_total(iov, cnt, &total))
        return VNV_ERR_INVAL;
    return heap_writev_total(h, off, iov, cnt, total);
}

int heap_writev_total(struct vnv_heap *h, uint32_t off, const struct vnv_iovec *iov,
                      unsigned cnt, uint32_t total)
{
    if (heap_is_dead(h))
        return VNV_ERR_INVAL;
    sec_enter(h);
    h->st.storage_writes++;
    h->st.storage_write_bytes += total;
    int err = vnv_storage_writev_total(&h->storage, off, iov, cnt, total);
    sec_leave(h);
    return heap_is_dead(h) ? VNV_ERR_INVAL : err;
}

/* Header: word 0 = size | partial << 21 | block-size code << 22 (other bits 0), words 1-2 =
 * the 64-bit handle, word 3 = CRC-32 of words 0-2 and the home offset, so a header copied
 * to another place (inside data) does not validate there. */
static uint32_t hdr_crc(const uint8_t *b, uint32_t home)
{
    uint8_t off[4];
    put_le32(off, home);
    return vnv_crc32(vnv_crc32(0, off, 4), b, 12);
}

void objhdr_encode(const struct vnv_heap *h, uint8_t *b, uint64_t id, uint32_t size,
                   uint32_t status)
{
    uint32_t w[3] = {size, (uint32_t)id, (uint32_t)(id >> 32)}; /* words 0-2 */
    if (status & ST_PARTIAL)
        w[0] |= 1u << 21 | ((status & ST_PSHIFT_MASK) >> ST_PSHIFT_POS) << 22;
    for (uint32_t i = 0; i < 3u; i++) /* (a loop: one inlined put_le32, not three) */
        put_le32(b + 4u * i, w[i]);
    put_le32(b + 12, hdr_crc(b, id_home(h, id)));
}

/* VNV_OK and *oh for the header of object `id` (already known to start at its unit);
 * VNV_ERR_INVAL if it is an intact header of another object (a stale handle),
 * VNV_ERR_CORRUPT if it is damaged or does not fit its home, VNV_ERR_VERSION for a block
 * object in the minimal profile. */
int objhdr_decode(const struct vnv_heap *h, const uint8_t *b, uint64_t id, struct objhdr *oh)
{
    uint32_t x[4];
    le32_words(x, b, 4);
    uint32_t home = id_home(h, id), w = x[0];
    uint64_t hid = words64(x, 1);
    if (x[3] != hdr_crc(b, home) || (w >> 24) != 0)
        return VNV_ERR_CORRUPT;
    if (hid != id)
        return id_unit(h, hid) == id_unit(h, id) ? VNV_ERR_INVAL : VNV_ERR_CORRUPT;
    oh->size = w & 0x1FFFFFu;
    oh->status = (w >> 21 & 1u) ? ST_PARTIAL | ((w >> 22 & 3u) << ST_PSHIFT_POS) : 0;
    if (oh->size == 0 || oh->size > VNV_MAX_OBJECT_SIZE || (!(w >> 21 & 1u) && (w >> 22)) ||
        !nvmap_holds(h, id_unit(h, id), oh->size))
        return VNV_ERR_CORRUPT; /* its slots would reach past its home */
    if (VNV_MINIMAL && (w >> 21 & 1u))
        return VNV_ERR_VERSION; /* an intact block object: left out of this build */
    return VNV_OK;
}

/* One decoded header is kept (h->hdr_id): a container that reads a node's first bytes and
 * then writes its link, or checks a handle and then frees it, reads the header once. Its
 * home can only change owner through nvmap_free, which forgets it. Stored and read in a
 * critical section: a restore clears it and may keep another (root_valid), and a kept
 * header torn between two objects would give one the other's size. */
static int hdr_remember(struct vnv_heap *h, int err, uint64_t id, const struct objhdr *oh)
{
    if (!err) {
        sec_enter(h);
        h->hdr_id = id;
        h->hdr_size = oh->size;
        h->hdr_status = oh->status;
        sec_leave(h);
    }
    return err;
}

static int hdr_recall(struct vnv_heap *h, uint64_t id, struct objhdr *oh)
{
    sec_enter(h);
    int hit = id == h->hdr_id;
    if (hit) {
        oh->size = h->hdr_size;
        oh->status = h->hdr_status;
    }
    sec_leave(h);
    return hit;
}

/* 1 if `id` was issued and names the first unit of a live home (not the spare: a freed
 * home still marked, nvmap.c). (tag - 1 < alloc_count: 0 < tag <= alloc_count in one
 * comparison, tag 0 wrapping to the largest value.) Not a critical section: the spare is
 * read first. A checkpoint in an interrupt may release it (clearing its MAP_START) but
 * never makes one, so a unit that was not the spare then is not one when MAP_START is
 * read; in the other order, an interrupt between the two reads let a freed handle pass. */
static int issued_start(const struct vnv_heap *h, uint64_t id)
{
    uint32_t u = id_unit(h, id), spare = *(const volatile uint32_t *)&h->spare;
    BARRIER();
    return u + 1u != spare && id_tag(h, id) - 1u < h->alloc_count && u < h->units &&
           bit_get(nvmap(h, MAP_START), u);
}

/* Read `n` bytes from the home of `id` into `buf`, decode the header at their start and keep
 * it (hdr_remember). */
static int read_decode(struct vnv_heap *h, uint64_t id, uint8_t *buf, uint32_t n,
                       struct objhdr *oh)
{
    int err = heap_read(h, id_home(h, id), buf, n);
    return err ? err : hdr_remember(h, objhdr_decode(h, buf, id, oh), id, oh);
}

/* Validate a handle of a non-resident object against the NV map and its header.
 * INVAL: not the start of a live home, or another object's; CORRUPT: damaged header. */
int read_objhdr(struct vnv_heap *h, uint64_t id, struct objhdr *oh)
{
    if (!issued_start(h, id))
        return VNV_ERR_INVAL; /* never issued, or not an object's first unit */
    if (hdr_recall(h, id, oh)) /* read before, and its home not freed since (nvmap_free) */
        return VNV_OK;
    uint8_t b[VNV_OBJ_HEADER_SIZE];
    return read_decode(h, id, b, sizeof b, oh);
}

#if !VNV_MINIMAL
/* The header at the home of unit `u` (no handle to check it against: a rollback, vnv_check)
 * and the handle it names, which must be of that unit and have a tag: an intact header
 * naming tag 0 or another unit is CORRUPT. */
int unit_header(struct vnv_heap *h, uint32_t u, uint64_t *id, struct objhdr *oh)
{
    uint8_t b[VNV_OBJ_HEADER_SIZE];
    int err = heap_read(h, unit_off(h, u), b, sizeof b);
    if (err)
        return err;
    *id = get_le64(b + 4);
    return id_unit(h, *id) == u && id_tag(h, *id) ? objhdr_decode(h, b, *id, oh)
                                                  : VNV_ERR_CORRUPT;
}
#endif

/* The header and the first `len` data bytes in one read (`buf`: VNV_OBJ_HEADER_SIZE + len
 * bytes), when the current data is slot 0, right after the header. The bytes past a small
 * object belong to whatever follows: the caller checks its range against oh->size.
 * 1: not applicable (slot 1; the data checksum needs the whole slot; the read would pass
 * the end of the homes or VNV_IO_CHUNK): read the header alone. Errors as read_objhdr. */
int read_objhdr_with(struct vnv_heap *h, uint64_t id, uint8_t *buf, uint32_t len,
                     struct objhdr *oh)
{
    uint32_t u = id_unit(h, id), n = VNV_OBJ_HEADER_SIZE + len;
    if (!issued_start(h, id))
        return VNV_ERR_INVAL;
    if (SLOT_CRC || bit_get(nvmap(h, MAP_CUR), u) || n > h->nv_size ||
        u * h->unit > h->nv_size - n || (VNV_IO_CHUNK && n > VNV_IO_CHUNK))
        return 1;
    return read_decode(h, id, buf, n, oh);
}
