/*
 * Option parsing for every vmlab command: `--name value`, `--name=value`,
 * flags, `--` ending the options; each bad option reported by name.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vmlab%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_error(const struct vm_error *err)
{
	if (err->file && err->line)
		fprintf(stderr, "vmlab: %s:%ld: %s\n", err->file, err->line, err->msg);
	else if (err->file)
		fprintf(stderr, "vmlab: %s: %s\n", err->file, err->msg);
	else
		fprintf(stderr, "vmlab: %s\n", err->msg);
}

const char *cli_group(uint64_t n, char *buf, size_t len)
{
	char digits[32];
	int nd = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t o = 0;
	for (int i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static void usage(FILE *f, const char *cmd, const struct cli_opt *opts, const char *synopsis,
		  const char *about)
{
	fprintf(f, "usage: vmlab %s %s\n\n%s\n", cmd, synopsis, about);
	if (opts && opts[0].name)
		fprintf(f, "\noptions:\n");
	for (const struct cli_opt *o = opts; o && o->name; o++) {
		char left[48];
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
			 o->metavar ? o->metavar : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Store one option's value; 0 or CLI_USAGE after printing what is wrong. */
static int apply(const char *cmd, const struct cli_opt *o, const char *val)
{
	struct vm_error err;
	switch (o->kind) {
	case CLI_FLAG:
		*(bool *)o->dst = true;
		return 0;
	case CLI_STR:
		*(const char **)o->dst = val;
		return 0;
	case CLI_SIZE:
		if (vmlab_parse_size(val, o->dst) == 0)
			return 0;
		cli_fail(cmd, "--%s: '%s' is not a size (a number with K, M, G or T)", o->name, val);
		return CLI_USAGE;
	case CLI_U64:
		if (parse_u64(val, o->dst) == 0)
			return 0;
		cli_fail(cmd, "--%s: '%s' is not a whole number", o->name, val);
		return CLI_USAGE;
	case CLI_COUNT:
		if (parse_u64(val, o->dst) == 0 && *(uint64_t *)o->dst > 0)
			return 0;
		cli_fail(cmd, "--%s: '%s' is not a whole number from 1", o->name, val);
		return CLI_USAGE;
	case CLI_SET:
		if (vmlab_settings_parse(o->dst, val, &err) == 0)
			return 0;
		cli_fail(cmd, "--%s: %s", o->name, err.msg);
		return CLI_USAGE;
	case CLI_CONFIG:
		if (vmlab_settings_load_file(o->dst, val, &err) == 0)
			return 0;
		cli_error(&err);
		return CLI_USAGE;
	}
	return CLI_USAGE;
}

static const struct cli_opt *find(const struct cli_opt *opts, const char *name, size_t len)
{
	for (const struct cli_opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* One option at argv[*i] (advancing *i past its value): 0, CLI_USAGE, or -1
 * after --help. */
static int parse_one(const char *cmd, int argc, char **argv, int *i, const struct cli_opt *opts,
		     const char *synopsis, const char *about)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	if (len == 4 && strncmp(name, "help", 4) == 0) {
		usage(stdout, cmd, opts, synopsis, about);
		return -1;
	}
	const struct cli_opt *o = find(opts, name, len);
	if (!o) {
		cli_fail(cmd, "--%.*s: unknown option (see vmlab %s --help)", (int)len, name, cmd);
		return CLI_USAGE;
	}
	const char *val = NULL;
	if (o->kind == CLI_FLAG) {
		if (eq) {
			cli_fail(cmd, "--%s takes no value", o->name);
			return CLI_USAGE;
		}
	} else if (eq) {
		val = eq + 1;
	} else if (*i + 1 < argc) {
		val = argv[++*i];
	} else {
		cli_fail(cmd, "--%s needs a value (%s)", o->name, o->metavar);
		return CLI_USAGE;
	}
	return apply(cmd, o, val);
}

int cli_parse(const char *cmd, int argc, char **argv, const struct cli_opt *opts, int *first,
	      const char *synopsis, const char *about)
{
	/* Options may come before or after operands (`list tlbs --json`).  The
	 * operands, in order, are moved to the end of argv; "--" ends the
	 * options and everything after it is an operand as given. */
	char **operands = malloc((size_t)argc * sizeof(*operands));
	int nops = 0, rc = 0;
	if (!operands) {
		cli_fail(cmd, "out of memory");
		return CLI_BADINPUT;
	}
	for (int i = 1; i < argc && rc == 0; i++) {
		char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				operands[nops++] = argv[i];
		} else if (strncmp(a, "--", 2) == 0) {
			rc = parse_one(cmd, argc, argv, &i, opts, synopsis, about);
		} else if (a[0] == '-' && a[1]) {
			cli_fail(cmd, "%s: unknown option (options are long: see vmlab %s --help)", a, cmd);
			rc = CLI_USAGE;
		} else {
			operands[nops++] = a;
		}
	}
	if (rc == 0) {
		*first = argc - nops;
		memcpy(argv + *first, operands, (size_t)nops * sizeof(*operands));
	}
	free(operands);
	return rc;
}
