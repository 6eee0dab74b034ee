/* crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every agent spool record. Table-driven, one byte at a time:
 * plenty for a spool written at disk speed, and no CPU feature checks. */
#ifndef DL_COMMON_CRC32C_H
#define DL_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over n bytes at p; start with crc = 0. Chaining
 * dl_crc32c(dl_crc32c(0, a, na), b, nb) equals one call over a then b. */
uint32_t dl_crc32c(uint32_t crc, const void *p, size_t n);

#endif
