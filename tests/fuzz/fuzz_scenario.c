/*
 * Fuzz target: the scenario parser on arbitrary bytes.  Whatever the input,
 * parsing returns 0 or -EINVAL with a message and a line number, and every
 * expression of a program that parses evaluates (against a fake world)
 * without a crash or undefined behaviour.  Nothing runs on a machine: a
 * fuzzed `set phys=1T` must not cost the host anything.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/scenario.h>

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
	return 0;
}
