/*
 * vmlab run: run a scenario (docs/scenarios.md) and check its expectations.
 * Exit 0 when every expect held, 1 when one failed or the run stopped on an
 * error, 2 on a syntax error (nothing ran) or a usage error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/scenario.h>

#include "cli/cli.h"

#define SCENARIO_MAX ((size_t)16 << 20)

/* The whole of f into *buf (NUL-terminated, *len bytes before the NUL).
 * 0, -EFBIG past SCENARIO_MAX, -EIO, -ENOMEM. */
static int read_all(FILE *f, char **buf, size_t *len)
{
	size_t cap = 0;
	*buf = NULL;
	*len = 0;
	for (;;) {
		if (*len + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			if (ncap > SCENARIO_MAX + 2)
				return -EFBIG;
			char *n = realloc(*buf, ncap);
			if (!n)
				return -ENOMEM;
			*buf = n;
			cap = ncap;
		}
		size_t got = fread(*buf + *len, 1, cap - *len - 1, f);
		*len += got;
		if (got == 0)
			break;
	}
	(*buf)[*len] = '\0';
	return ferror(f) ? -EIO : 0;
}

static void report(void *ctx, const struct vm_error *err)
{
	(void)ctx;
	cli_error(err);
}

static int run_file(const char *path, const struct vm_settings *s, bool json, bool check)
{
	bool std = strcmp(path, "-") == 0;
	const char *name = std ? "<stdin>" : path;
	FILE *f = std ? stdin : fopen(path, "rb");
	char *text;
	size_t len;
	if (!f) {
		cli_fail("run", "%s: cannot open: %s", path, strerror(errno));
		return CLI_USAGE;
	}
	int rc = read_all(f, &text, &len);
	if (!std)
		fclose(f);
	if (rc) {
		cli_fail("run", "%s: %s", name, rc == -EFBIG ? "larger than 16 MiB" : strerror(-rc));
		free(text);
		return CLI_BADINPUT;
	}
	struct vm_error err = { 0 };
	if (check) {
		rc = vmlab_scenario_check(name, text, len, s, &err);
	} else {
		const struct vmlab_scenario_opts o = {
			.base = s, .out = stdout, .json = json, .report = report,
		};
		rc = vmlab_scenario_run_opts(name, text, len, &o, &err);
	}
	free(text);
	if (rc == VM_SCENARIO_SYNTAX)
		cli_error(&err);
	else if (rc < 0)
		cli_fail("run", "%s: %s", name, strerror(-rc));
	return rc == VM_SCENARIO_OK ? 0 : rc == VM_SCENARIO_SYNTAX ? CLI_USAGE : CLI_BADINPUT;
}

int cmd_run(int argc, char **argv)
{
	struct vm_settings *s = vmlab_settings_create();
	bool json = false, check = false;
	if (!s) {
		cli_fail("run", "out of memory");
		return CLI_BADINPUT;
	}
	const struct cli_opt opts[] = {
		{ "set", CLI_SET, s, "KEY=VALUE", "change a setting; wins over the scenario's set lines" },
		{ "config", CLI_CONFIG, s, "FILE", "read settings from a file (also wins over set lines)" },
		{ "json", CLI_FLAG, &json, NULL, "print one JSON document: counters, processes, output" },
		{ "check", CLI_FLAG, &check, NULL, "parse only: report syntax errors, run nothing" },
		{ 0 },
	};
	int first, rc = cli_parse("run", argc, argv, opts, &first, "FILE.vms [OPTIONS]",
				  "Run a scenario: processes, memory system calls and accesses on a fresh\n"
				  "machine; print what its show lines ask for; check its expect lines.\n"
				  "FILE - reads standard input.  The language: docs/scenarios.md.\n\n"
				  "exit status: 0 every expect held, 1 an expect failed or the run stopped\n"
				  "on an error, 2 a syntax or usage error (nothing ran).\n\n"
				  "example: vmlab run examples/demand-paging.vms --set tlb=skylake");
	if (rc == 0 && first >= argc) {
		cli_fail("run", "missing the scenario file (vmlab run FILE.vms)");
		rc = CLI_USAGE;
	} else if (rc == 0 && first + 1 < argc) {
		cli_fail("run", "%s: one scenario at a time", argv[first + 1]);
		rc = CLI_USAGE;
	}
	if (rc == 0)
		rc = run_file(argv[first], s, json, check);
	vmlab_settings_destroy(s);
	return rc;
}
