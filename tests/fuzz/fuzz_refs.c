/*
 * Fuzz target: the reference-string reader (trace/refs.h), on arbitrary
 * bytes, as --refs text and as a file with and without a page size.
 * Whatever the input, every call returns a reference, the end, or -EINVAL
 * with a message and a line number; the count of references is the same
 * after a rewind.  The references also go through a small lab run so the
 * policies see arbitrary page numbers (0, UINT64_MAX, ...).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/lab.h"
#include "trace/refs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long read_all(struct vm_ref_reader *r, struct vm_lab *lab)
{
	struct vm_error err = { 0 };
	struct vm_ref ref;
	long n = 0;
	int rc;
	while ((rc = vm_refs_next(r, &ref, &err)) == 1) {
		n++;
		if (lab && vm_lab_feed(lab, &ref.page, &ref.write, 1) != 0)
			abort();
	}
	if (rc != 0 && (rc != -EINVAL || err.msg[0] == '\0' || err.line < 1))
		abort();
	return rc == 0 ? n : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_ref_reader r;
	struct vm_host host = { 0 };
	struct vm_lab lab;
	uint64_t page_size = size && (data[0] & 1) ? 4096 : 0;

	vm_refs_open_text(&r, "fuzz", (const char *)data, size, page_size);
	vm_lab_init(&lab, &host);
	for (unsigned i = 0; vm_evict_at(i); i++) {
		struct vm_lab_sim *s;
		if (vm_evict_at(i)->flags & VM_EVICT_NEEDS_FUTURE)
			continue;
		if (vm_lab_sim_create(vm_evict_at(i), 3, NULL, &host, &s) != 0 || vm_lab_add(&lab, s) != 0)
			abort();
	}
	long n = read_all(&r, &lab);
	char msg[200];
	for (unsigned i = 0; i < lab.nsims; i++)
		if (vm_lab_sim_check(lab.sims[i], msg, sizeof(msg)) != 0)
			abort();
	vm_lab_fini(&lab);
	if (vm_refs_rewind(&r, NULL) != 0 || read_all(&r, NULL) != n)
		abort();
	vm_refs_close(&r);

	/* The same bytes as a file. */
	FILE *f = fmemopen((void *)data, size ? size : 1, "r");
	if (f && size) {
		struct vm_ref_reader fr = { 0 };
		fr.name = "fuzz-file";
		fr.f = f;
		if (read_all(&fr, NULL) != n)
			abort();
		free(fr.line);
	}
	if (f)
		fclose(f);
	if (host.allocs != host.frees)
		abort();
	return 0;
}
