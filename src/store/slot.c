/*
 * slot.c - moving object data between RAM and the data slots of a home, and the optional
 * data checksum (VNV_DATA_CRC: a CRC-32 after each slot, docs/FORMAT.md section 4).
 *
 * Transfers are split into storage transactions of at most VNV_IO_CHUNK bytes, each its own
 * critical section, so a checkpoint waits for one chunk rather than one object. With the
 * checksum, a slot write (data and checksum) is one critical section however it is split:
 * a checkpoint must never commit a slot whose data and checksum disagree.
 */
#include "../internal.h"

#define PIECE 128u /* stack buffer of the streaming checks */

static int read_chunked(struct vnv_heap *h, uint32_t off, uint8_t *dst, uint32_t len)
{
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done;
        if (VNV_IO_CHUNK && n > VNV_IO_CHUNK)
            n = VNV_IO_CHUNK;
        int err = heap_read(h, off + done, dst + done, n); /* a section of its own */
        if (err)
            return err;
        done += n;
    }
    return VNV_OK;
}

#define ANY_SLOT UINT32_MAX /* store_chunks: no MAP_FRESH condition */

/* `len` bytes from `src` to `off`, VNV_IO_CHUNK at a time, each chunk a storage transaction
 * of its own behind mutate_begin; `hdr` (VNV_OBJ_HEADER_SIZE bytes, right before `off`) goes
 * with the first chunk and `tail` (SLOT_CRC bytes, right after the data) with the last.
 * `fresh_unit` != ANY_SLOT: each chunk only while that home's slot is MAP_FRESH (checked in
 * the chunk's section); once a checkpoint has protected it, 1 with the bytes written in
 * *written. */
static int store_chunks(struct vnv_heap *h, uint32_t off, const uint8_t *src, uint32_t len,
                        const uint8_t *hdr, const uint8_t *tail, uint32_t fresh_unit,
                        uint32_t *written)
{
    int err = VNV_OK;
    for (uint32_t done = 0; !err && done < len;) {
        uint32_t n = len - done;
        if (VNV_IO_CHUNK && n > VNV_IO_CHUNK)
            n = VNV_IO_CHUNK;
        struct vnv_iovec iov[3];
        unsigned k = 0;
        uint32_t at = off + done;
        if (hdr && done == 0) {
            iov[k].base = hdr;
            iov[k++].len = VNV_OBJ_HEADER_SIZE;
            at -= VNV_OBJ_HEADER_SIZE;
        }
        iov[k].base = src + done;
        iov[k++].len = n;
        if (SLOT_CRC && tail && done + n == len) {
            iov[k].base = tail;
            iov[k++].len = SLOT_CRC;
        }
        sec_enter(h);
        if (fresh_unit != ANY_SLOT && !bit_get(nvmap(h, MAP_FRESH), fresh_unit)) {
            sec_leave(h);
            *written = done;
            return 1;
        }
        err = mutate_begin(h);
        if (!err)
            err = heap_writev(h, at, iov, k);
        sec_leave(h);
        done += n;
    }
    return err;
}

/* Raw bytes at `off` (a run of dirty blocks written in place). */
int slot_store_at(struct vnv_heap *h, uint32_t off, const uint8_t *src, uint32_t len)
{
    return store_chunks(h, off, src, len, NULL, NULL, ANY_SLOT, NULL);
}

/* Bytes of a non-resident object written through into its current slot at `off`, while no
 * checkpoint reads that slot (MAP_FRESH). 1: a checkpoint between two chunks (or before the
 * first) protects it now, *written bytes went in; the caller copies the slot for the rest.
 * A checkpoint taken in between has the range as far as it was written (a write outside a
 * group may be seen in part: vnv_write). Not with VNV_DATA_CRC (the checksum must change
 * with the data). */
int slot_write_fresh(struct vnv_heap *h, uint32_t unit, uint32_t off, const uint8_t *src,
                     uint32_t len, uint32_t *written)
{
    if (SLOT_CRC) {
        *written = 0;
        return 1;
    }
    return store_chunks(h, off, src, len, NULL, NULL, unit, written);
}

/* The whole slot from `src`, preceded by the object header when `hdr` is given (the first
 * write of a new home: header and slot 0 are contiguous), followed by its checksum. */
int slot_store(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot,
               const uint8_t *src, const uint8_t *hdr)
{
    uint8_t crc[4];
    put_le32(crc, SLOT_CRC ? vnv_crc32(0, src, size) : 0u);
    if (SLOT_CRC)
        sec_enter(h);
    int err = store_chunks(h, slot_off(unit_off(h, unit), size, slot), src, size, hdr, crc,
                           ANY_SLOT, NULL);
    if (SLOT_CRC)
        sec_leave(h);
    return err;
}

#if VNV_DATA_CRC
static int crc_mismatch(struct vnv_heap *h, uint32_t at, uint32_t want)
{
    uint8_t c[4];
    int err = heap_read(h, at, c, sizeof c);
    if (err)
        return err;
    return get_le32(c) == want ? VNV_OK : VNV_ERR_CORRUPT;
}

/* CORRUPT unless the slot's stored checksum is `crc` (computed by a caller that read it). */
int slot_check_crc(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot,
                   uint32_t crc)
{
    return crc_mismatch(h, slot_off(unit_off(h, unit), size, slot) + size, crc);
}
#endif

/* The whole slot into `dst` (size bytes), checked against its checksum: CORRUPT if it
 * differs (bit rot), and then `dst` holds the damaged bytes. */
int slot_load(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot, uint8_t *dst)
{
    uint32_t at = slot_off(unit_off(h, unit), size, slot);
    int err = read_chunked(h, at, dst, size);
#if VNV_DATA_CRC
    if (!err)
        err = crc_mismatch(h, at + size, vnv_crc32(0, dst, size));
#endif
    return err;
}

/* Bytes [off, off + len) of the slot into `dst`. With the checksum the whole slot is read,
 * PIECE bytes per transaction, to check it; CORRUPT if it fails (dst may be filled). */
int slot_read_range(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot,
                    uint32_t off, uint8_t *dst, uint32_t len)
{
    uint32_t at = slot_off(unit_off(h, unit), size, slot);
#if !VNV_DATA_CRC
    (void)size;
    return read_chunked(h, at + off, dst, len);
#else
    uint8_t piece[PIECE];
    uint32_t crc = 0;
    for (uint32_t c = 0; c < size; c += PIECE) {
        uint32_t n = size - c < PIECE ? size - c : PIECE;
        int err = heap_read(h, at + c, piece, n);
        if (err)
            return err;
        crc = vnv_crc32(crc, piece, n);
        uint32_t lo = off > c ? off : c, hi = off + len < c + n ? off + len : c + n;
        if (lo < hi)
            memcpy(dst + (lo - off), piece + (lo - c), hi - lo);
    }
    return crc_mismatch(h, at + size, crc);
#endif
}

/* Check the slot's checksum without keeping the data (vnv_check, before a rewrite):
 * VNV_OK when built without the checksum. */
int slot_verify(struct vnv_heap *h, uint32_t unit, uint32_t size, uint32_t slot)
{
#if !VNV_DATA_CRC
    (void)h;
    (void)unit;
    (void)size;
    (void)slot;
    return VNV_OK;
#else
    return slot_read_range(h, unit, size, slot, 0, NULL, 0);
#endif
}
