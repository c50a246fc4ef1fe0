/*
 * The capture functions of src/trace/capture_vgtool.c as a command, for the
 * tests and the benchmark (the vmlab CLI's `trace` will call them too):
 *
 *   vgtool_capture [--exact] [--keep DIR] [--level N] [--no-children] OUT.vmt PROG [ARGS...]
 *   vgtool_capture --join PREFIX ROOTPID OUT.vmt
 *
 * Prints how the program ended and what was joined on stderr; exit 0 when
 * a trace was written (also for a program that failed or crashed), 1 on a
 * capture error, 2 on a usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/capture_vgtool.h"

static int usage(void)
{
	fprintf(stderr, "usage: vgtool_capture [--exact] [--keep DIR] [--level N] [--no-children] "
		"OUT.vmt PROG [ARGS...]\n       vgtool_capture --join PREFIX ROOTPID OUT.vmt\n");
	return 2;
}

static void report(const struct vm_vgtool_result *r)
{
	if (r->pid) {
		if (r->exited)
			fprintf(stderr, "vgtool_capture: program exited with status %d\n", r->exit_code);
		else
			fprintf(stderr, "vgtool_capture: program killed by signal %d (%s)\n",
				r->term_signal, strsignal(r->term_signal));
	}
	fprintf(stderr, "vgtool_capture: %u streams, %llu bytes, %llu events (%llu accesses) joined\n",
		r->streams, (unsigned long long)r->stream_bytes, (unsigned long long)r->events,
		(unsigned long long)r->accesses);
	if (r->truncated)
		fprintf(stderr, "vgtool_capture: truncated: %s\n", r->note);
}

int main(int argc, char **argv)
{
	struct vm_vgtool_opts o = { .compress = true, .level = 1 };
	struct vm_vgtool_result r;
	struct vm_error err = { 0 };
	int i = 1;
	const char *join = NULL;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--exact") == 0)
			o.exact = true;
		else if (strcmp(argv[i], "--no-children") == 0)
			o.no_children = true;
		else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
			o.keep = true, o.work_dir = argv[++i];
		else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc)
			o.level = atoi(argv[++i]), o.compress = o.level > 0;
		else if (strcmp(argv[i], "--join") == 0 && i + 1 < argc)
			join = argv[++i];
		else
			return usage();
	}
	if (join) {
		if (argc - i != 2)
			return usage();
		FILE *f = fopen(argv[i + 1], "wb");
		if (!f)
			return perror(argv[i + 1]), 1;
		memset(&r, 0, sizeof(r));
		int rc = vm_vgtool_join(join, atoi(argv[i]), &o, f, &r, &err);
		if (fclose(f) != 0 && rc == 0)
			rc = -EIO;
		if (rc)
			return fprintf(stderr, "vgtool_capture: %s\n", err.msg), 1;
		report(&r);
		return 0;
	}
	if (argc - i < 2)
		return usage();
	FILE *f = fopen(argv[i], "wb");
	if (!f)
		return perror(argv[i]), 1;
	int rc = vm_vgtool_capture(argv + i + 1, &o, f, &r, &err);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc) {
		fprintf(stderr, "vgtool_capture: %s\n", err.msg);
		remove(argv[i]);
		return 1;
	}
	report(&r);
	return 0;
}
