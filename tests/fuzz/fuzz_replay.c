/*
 * Fuzz target: replay (src/trace/replay*.c) of arbitrary bytes read as a
 * trace (text or vmt, detected): whatever the events, replay returns 0 or
 * an error with a message naming the event, never crashes, and the
 * kernel's invariants hold afterwards (vmlab_machine_check).  Once
 * strictly, once with --lenient.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "trace/replay.h"
#include "trace/trace.h"

#define EVENTS_MAX 20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replay(const uint8_t *data, size_t size, bool lenient)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_machine *m;
	struct vm_trace *t;
	struct vm_replay *r;
	struct vm_error err = { 0 };
	struct vm_trace_event ev;
	const struct vm_replay_opts o = { .lenient = lenient };
	if (!s || vmlab_settings_parse(s, "mode=meta", NULL) || vmlab_settings_parse(s, "phys=16M", NULL) ||
	    vmlab_machine_create(s, NULL, &m, NULL))
		abort();
	vmlab_settings_destroy(s);
	if (vm_trace_open_mem("fuzz", data, size, NULL, &t, &err)) {
		vmlab_machine_destroy(m);
		return;
	}
	if (vm_replay_create(m, &o, &r))
		abort();
	int rc = 0;
	for (unsigned n = 0; n < EVENTS_MAX && rc == 0 && vm_trace_next(t, &ev) == 1; n++) {
		rc = vm_replay_event(r, &ev, &err);
		if (rc && (rc != -EINVAL && rc != -ENOMEM))
			abort();
		if (rc == -EINVAL && (!err.msg[0] || strncmp(err.msg, "event ", 6) != 0))
			abort();
	}
	struct vm_replay_result res;
	if (vm_replay_result(r, &res) == 0)
		vm_replay_result_free(&res);
	if (vmlab_machine_check(m, &err)) {
		fprintf(stderr, "invariant broken: %s\n", err.msg);
		abort();
	}
	vm_replay_destroy(r);
	vm_trace_close(t);
	vmlab_machine_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	replay(data, size, false);
	replay(data, size, true);
	return 0;
}
