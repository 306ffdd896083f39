/* crc32.c - CRC-32 (IEEE 802.3, reflected, as zlib).
 * Default: a 16-entry table (64 bytes of flash, two lookups per byte); the checkpoint
 * checksums only its header, map and records, never object data. With VNV_DATA_CRC every
 * flush and load checksums whole objects, so a 256-entry table (1 KiB, one lookup per byte,
 * built by the compiler) pays for itself; VNV_CRC_TABLE256 chooses it explicitly. */
#include "internal.h"

#ifndef VNV_CRC_TABLE256
#define VNV_CRC_TABLE256 VNV_DATA_CRC
#endif

#if VNV_CRC_TABLE256
#define C1(c) (((c) >> 1) ^ (((c) & 1u) ? 0xEDB88320u : 0u))
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define T4(n) C8(n), C8((n) + 1u), C8((n) + 2u), C8((n) + 3u)
#define T16(n) T4(n), T4((n) + 4u), T4((n) + 8u), T4((n) + 12u)
#define T64(n) T16(n), T16((n) + 16u), T16((n) + 32u), T16((n) + 48u)
static const uint32_t crc_table[256] = {T64(0u), T64(64u), T64(128u), T64(192u)};

uint32_t vnv_crc32(uint32_t crc, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++)
        crc = (crc >> 8) ^ crc_table[(crc ^ p[i]) & 0xFFu];
    return ~crc;
}
#else
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
#endif
