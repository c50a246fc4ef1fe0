/*
 * Fuzz target: the lackey reader (src/trace/lackey.c, lackey_sys.c) and
 * the `valgrind -d` segment-table parser (lackey_maps.c) on arbitrary
 * bytes.  Every event is valid, every error has a message, and what reads
 * fully survives a text round trip (fuzz_trace.h).
 */
#include "fuzz_trace.h"
#include "trace/lackey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trace(data, size, "lackey");
	struct vm_tin in;
	struct lk_maps m;
	struct vm_error err = { 0 };
	if (vm_tin_open_mem(&in, data, size) == 0) {
		int rc = lk_maps_read(&m, &in, "fuzz.stderr", &err);
		if (rc == 0) {
			for (size_t i = 0; i < m.nmap; i++)
				for (size_t j = 0; j < m.map[i].nseg; j++)
					if (m.map[i].seg[j].start >= m.map[i].seg[j].end)
						abort();
			lk_maps_pick(&m, 1, "true");
			lk_maps_free(&m);
		} else if (rc != -EINVAL && rc != -ENOMEM) {
			abort();
		} else if (!err.msg[0]) {
			abort();
		}
	}
	vm_tin_close(&in);
	return 0;
}
