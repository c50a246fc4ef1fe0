/*
 * Fuzz target: the vmt reader (src/trace/vmt.c) on arbitrary bytes, plain
 * or behind gzip: every event valid, every error with a message, and what
 * reads fully survives a text round trip (fuzz_trace.h) and writes back as
 * vmt that reads to the same number of accesses.
 */
#include "fuzz_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trace(data, size, "vmt");
	/* Inputs without a header get one, so the body is what gets fuzzed. */
	if (size < 4 || memcmp(data, "VMTR", 4) != 0) {
		uint8_t *buf = malloc(size + 6);
		if (!buf)
			return 0;
		memcpy(buf, "VMTR\x01", 5);
		buf[5] = size ? data[0] & 1 : 0;
		if (size)
			memcpy(buf + 6, data + 1, size - 1);
		fuzz_trace(buf, size + 5, "vmt");
		free(buf);
	}
	return 0;
}
