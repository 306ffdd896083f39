/* crc32.c - CRC-32 (IEEE 802.3, reflected) with a 16-entry table, and a CRC-8.
 * The nibble table keeps flash use at 64 bytes; a checkpoint pays ~2 lookups per byte. */
#include "internal.h"

static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
    0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
    0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};

uint32_t vnv_crc32(uint32_t crc, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15u];
        crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    }
    return ~crc;
}

/* CRC-8, polynomial 0x07: guards the 8-byte object headers on storage. */
uint8_t vnv_crc8(const uint8_t *buf, uint32_t len, uint8_t seed)
{
    uint8_t crc = seed;
    for (uint32_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (uint8_t)((crc & 0x80u) ? ((unsigned)crc << 1) ^ 0x07u : (unsigned)crc << 1);
    }
    return crc;
}
