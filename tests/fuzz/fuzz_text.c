/*
 * Fuzz target: the text reader (src/trace/text.c, through the scenario
 * language's verb parser) and the page-list reader (pages.c) on arbitrary
 * bytes: every event valid, every error with a message, and what reads
 * fully survives a text round trip (fuzz_trace.h).
 */
#include "fuzz_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trace(data, size, "text");
	fuzz_trace(data, size, "pages");
	/* Detection picks some format and that one must behave too. */
	fuzz_trace(data, size, NULL);
	return 0;
}
