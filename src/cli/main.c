/*
 * vmlab: the command-line entry point; one file per command.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define VMLAB_VERSION "0.1.0"

static int cmd_help(int argc, char **argv);

static const struct cli_cmd commands[] = {
	{ "pattern", "run a synthetic access pattern through the MMU and TLBs", cmd_pattern },
	{ "run", "run a scenario (.vms): processes, memory calls, accesses, expectations", cmd_run },
	{ "trace", "run a program under Valgrind and replay what it did (vmlab trace -- PROGRAM)", cmd_trace },
	{ "replay", "replay a trace through the model: faults, TLB misses, RSS, where accesses go", cmd_replay },
	{ "convert", "convert a trace (lackey, text, pages, vmt) into vmt or text", cmd_convert },
	{ "policy", "page replacement policies on a reference string: faults, steps, curves", cmd_policy },
	{ "config", "print every setting with its value, default and meaning", cmd_config },
	{ "list", "list TLB presets, page-table organisations or counters", cmd_list },
	{ "stats", "describe the counters (--list)", cmd_stats },
	{ "help", "help on a command", cmd_help },
};

static void overview(FILE *f)
{
	fprintf(f, "usage: vmlab COMMAND [OPTIONS]\n\n"
		   "vmlab is an executable model of the Linux/x86-64 virtual memory system:\n"
		   "MMU, TLBs, page tables and physical memory.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'vmlab COMMAND --help' describes a command; 'vmlab config' lists the settings\n"
		   "that --set key=value changes.\n");
}

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		overview(stdout);
		return 0;
	}
	const struct cli_cmd *c = find_cmd(argv[1]);
	if (!c) {
		cli_fail("help", "%s: no such command", argv[1]);
		return CLI_USAGE;
	}
	char help[] = "--help";
	char *args[] = { argv[1], help, NULL };
	return c->run(2, args);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		overview(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		overview(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vmlab %s\n", VMLAB_VERSION);
		return 0;
	}
	const struct cli_cmd *c = find_cmd(argv[1]);
	if (!c) {
		cli_fail(NULL, "%s: unknown command (vmlab --help lists them)", argv[1]);
		return CLI_USAGE;
	}
	int rc = c->run(argc - 1, argv + 1);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_fail(c->name, "cannot write the output");
		return CLI_BADINPUT;
	}
	return rc < 0 ? 0 : rc;
}
