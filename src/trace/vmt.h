/*
 * The vmt binary trace format (docs/formats.md is the specification):
 * constants shared by the reader (vmt.c) and the writer (vmt_write.c).
 *
 *   header  "VMTR", version byte (1), flags byte (bit 0: the body is one
 *           zlib stream)
 *   body    records, each starting with a tag byte, ending with END
 *
 * Numbers are LEB128 varints; signed ones zigzag-encoded.  An access
 * record (tag bit 7 set) holds its kind, a count flag and a small size in
 * the tag, then its address as a delta from a prediction: for fetches the
 * end of the previous fetch (straight-line code gives 0), for data the
 * previous data address.
 */
#ifndef VM_TRACE_VMT_H
#define VM_TRACE_VMT_H

#include <stdint.h>

#define VMT_MAGIC       "VMTR"
#define VMT_VERSION     1
#define VMT_HEADER      6
#define VMT_F_ZLIB      1

/* Record tags. */
#define VMT_END         0x00    /* varint: events in the file */
#define VMT_PID         0x01    /* varint: the process of the records that follow */
#define VMT_SYSCALL     0x02    /* varint nr, varint nargs | NORET << 3, args, [zigzag ret], path */
#define VMT_XACCESS     0x03    /* varint kind | flags << 2, varint addr, size, count */
#define VMT_MAP         0x04    /* varint start >> 12, pages, prot, map flags, offset >> 12,
				 * event flags, path */
#define VMT_FORK        0x05    /* varint child */
#define VMT_EXEC        0x06    /* path */
#define VMT_EXIT        0x07    /* zigzag code */
#define VMT_ACCESS      0x80    /* | kind << 5 | count-follows << 4 | size (1..15, 0: varint) */

/* The longest record: tag, nr, nargs, 6 args, ret, a 4095-byte path. */
#define VMT_RECORD_MAX  (1 + 5 + 1 + 6 * 10 + 10 + 2 + 4095)

static inline uint64_t vmt_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t vmt_unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

#endif
