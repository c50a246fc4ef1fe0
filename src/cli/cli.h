/*
 * The vmlab command line: shared option parsing and printing.
 *
 * Exit codes (DESIGN.md rule 5): 0 success, 1 bad input or a failed
 * expectation, 2 usage error (bad option or option value).
 */
#ifndef VM_CLI_H
#define VM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/settings.h>
#include <vmlab/types.h>

#define CLI_USAGE 2
#define CLI_BADINPUT 1

enum cli_opt_kind {
	CLI_FLAG,      /* bool *, set to true */
	CLI_STR,       /* const char **, last one wins */
	CLI_SIZE,      /* uint64_t *, K/M/G/T suffixes */
	CLI_U64,       /* uint64_t * */
	CLI_COUNT,     /* uint64_t *, 1 or more: 0 is the caller's "not given" */
	CLI_SET,       /* struct vm_settings *: "key=value", repeatable */
	CLI_CONFIG,    /* struct vm_settings *: a config file, repeatable */
};

struct cli_opt {
	const char *name;          /* long name without "--" */
	enum cli_opt_kind kind;
	void *dst;
	const char *metavar;       /* NULL for flags */
	const char *help;
};

struct cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Parse argv[1..] (argv[0] is the command name) against opts, stopping at
 * the first operand or after "--".  On success returns 0 and the index of the
 * first operand in *first.  A bad option or value prints
 * `vmlab CMD: --opt: what is wrong` and returns CLI_USAGE.  --help prints
 * usage to stdout and returns -1 (the caller exits 0). */
int cli_parse(const char *cmd, int argc, char **argv, const struct cli_opt *opts, int *first,
	      const char *synopsis, const char *about);

/* Print `vmlab: msg` (with FILE:LINE when err has a file) to stderr. */
void cli_error(const struct vm_error *err);

/* Print `vmlab CMD: fmt...` to stderr. */
void cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "1,234,567" style grouping of n into buf. */
const char *cli_group(uint64_t n, char *buf, size_t len);

/* Every counter with unit and help (list counters, stats --list). */
void cli_list_counters(bool json);

/* The commands. */
int cmd_config(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_pattern(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_trace(int argc, char **argv);

#endif
