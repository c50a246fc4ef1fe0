/*
 * Fuzz target: the scenario parser on arbitrary bytes.  Whatever the input,
 * parsing returns 0 or -EINVAL with a message and a line number, and every
 * expression of a program that parses evaluates (against a fake world)
 * without a crash or undefined behaviour.  Then a program that parses runs
 * on a tiny machine: phys=256K given as --set would give it, so that it wins
 * over the input's own `set phys=1T`, and every loop of the run is bounded
 * by the 64 frames (a touch of 1T dies of OOM after a few thousand faults).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/scenario.h>
#include <vmlab/settings.h>

#include "trace/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fake_name(void *ctx, int name)
{
	(void)ctx;
	return INT64_MAX - name;
}

static uint64_t fake_counter(void *ctx, unsigned id)
{
	(void)ctx;
	return UINT64_MAX - id;
}

static int64_t fake_field(void *ctx, int proc, unsigned field)
{
	(void)ctx;
	return INT64_MIN + proc + (int64_t)field;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scn_prog prog;
	struct vm_error err = { 0 };
	int rc = scn_parse(&prog, "fuzz.vms", (const char *)data, size, NULL, &err);
	if (rc != 0 && (rc != -EINVAL || err.msg[0] == '\0' || err.line < 1 || !err.file))
		abort();
	if (rc == 0) {
		const struct scn_env env = { fake_name, fake_counter, fake_field, NULL };
		for (size_t i = 0; i < prog.nstmts; i++)
			for (int a = 0; a < 4; a++)
				if (prog.stmts[i].arg[a] != SCN_NONE) {
					int64_t v;
					rc = scn_eval(&prog, prog.stmts[i].arg[a], &env, &v);
					if (rc != 0 && rc != -EDOM)
						abort();
				}
	}
	scn_prog_free(&prog);
	/* The public entry point agrees. */
	rc = vmlab_scenario_check("fuzz.vms", (const char *)data, size, NULL, &err);
	if (rc != VM_SCENARIO_OK && rc != VM_SCENARIO_SYNTAX)
		abort();
	if (rc != VM_SCENARIO_OK)
		return 0;
	struct vm_settings *tiny = vmlab_settings_create();
	if (!tiny || vmlab_settings_set(tiny, "phys", "256K", NULL) ||
	    vmlab_settings_set(tiny, "stack_limit", "64K", NULL)) {
		vmlab_settings_destroy(tiny);
		return 0;
	}
	const struct vmlab_scenario_opts o = { .base = tiny };
	rc = vmlab_scenario_run_opts("fuzz.vms", (const char *)data, size, &o, &err);
	/* Machine settings the input chose may be refused (SYNTAX); a run ends
	 * OK or FAILED; nothing else but out of memory. */
	if (rc != VM_SCENARIO_OK && rc != VM_SCENARIO_FAILED && rc != VM_SCENARIO_SYNTAX &&
	    rc != -ENOMEM)
		abort();
	vmlab_settings_destroy(tiny);
	return 0;
}
