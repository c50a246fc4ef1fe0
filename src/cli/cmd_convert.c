/*
 * vmlab convert IN OUT: a trace from any format (lackey, text, pages, vmt;
 * a file, - or a .gz, detected from its content) into vmt or text.  The
 * output is written beside OUT and renamed over it only when the whole
 * input converted, so a bad trace never leaves half a file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trace/trace.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The output format: --to, else OUT's name. */
static const char *out_format(const char *to, const char *out, bool *gz)
{
	*gz = strcmp(out, "-") != 0 && ends_with(out, ".gz");
	if (to)
		return strcmp(to, "vmt") == 0 || strcmp(to, "text") == 0 ? to : NULL;
	if (strcmp(out, "-") == 0)
		return "text";
	if (ends_with(out, ".vmt"))
		return "vmt";
	if (ends_with(out, ".txt") || ends_with(out, ".trace") || ends_with(out, ".txt.gz") ||
	    ends_with(out, ".trace.gz"))
		return "text";
	return NULL;
}

static void print_stats(const struct vm_trace *t, const struct vm_trace_writer *w)
{
	char buf[40];
	fprintf(stderr, "%s: %s format\n", t->name, t->ops->name);
	for (unsigned i = 0; i < VM_TSTAT_COUNT; i++)
		if (t->stat[i])
			fprintf(stderr, "  %-16s %14s  %s\n", vm_trace_stat_name(i),
				cli_group(t->stat[i], buf, sizeof(buf)), vm_trace_stat_help(i));
	fprintf(stderr, "  %-16s %14s  %s\n", "written", cli_group(w->events, buf, sizeof(buf)),
		"events written");
}

static int convert(const char *in, const char *out, const struct vm_trace_opts *o,
		   const char *format, bool compress, int level, bool stats)
{
	struct vm_trace *t;
	struct vm_error err = { 0 };
	int rc = vm_trace_open(in, o, &t, &err);
	if (rc) {
		cli_error(&err);
		return rc == -EINVAL ? CLI_BADINPUT : CLI_USAGE;
	}
	bool std = strcmp(out, "-") == 0;
	char *tmp = NULL;
	FILE *f = stdout;
	if (!std) {
		size_t n = strlen(out) + 32;
		tmp = malloc(n);
		if (tmp)
			snprintf(tmp, n, "%s.tmp%ld", out, (long)getpid());
		f = tmp ? fopen(tmp, "wb") : NULL;
		if (!f) {
			cli_fail("convert", "%s: cannot write: %s", out, strerror(tmp ? errno : ENOMEM));
			free(tmp);
			vm_trace_close(t);
			return CLI_USAGE;
		}
	}
	struct vm_trace_writer *w;
	rc = vm_trace_writer_create(format, f, compress, level, &w);
	struct vm_trace_event ev;
	int status = 0;
	if (rc) {
		cli_fail("convert", "%s: %s", out, strerror(-rc));
		status = CLI_BADINPUT;
	}
	while (status == 0 && (rc = vm_trace_next(t, &ev)) == 1) {
		rc = vm_trace_writer_put(w, &ev);
		if (rc) {
			cli_fail("convert", "%s: %s", out, rc == -EINVAL ? "an event the format cannot "
				 "hold" : strerror(-rc));
			status = CLI_BADINPUT;
		}
	}
	if (status == 0 && rc < 0) {
		cli_error(&t->err);
		status = CLI_BADINPUT;
	}
	if (status == 0 && (rc = vm_trace_writer_end(w)) != 0) {
		cli_fail("convert", "%s: cannot write: %s", out, strerror(-rc));
		status = CLI_BADINPUT;
	}
	if (status == 0 && stats)
		print_stats(t, w);
	vm_trace_writer_destroy(w);
	vm_trace_close(t);
	if (!std) {
		if (fclose(f) != 0 && status == 0) {
			cli_fail("convert", "%s: cannot write: %s", out, strerror(errno));
			status = CLI_BADINPUT;
		}
		if (status == 0 && rename(tmp, out) != 0) {
			cli_fail("convert", "%s: %s", out, strerror(errno));
			status = CLI_BADINPUT;
		}
		if (status)
			remove(tmp);
		free(tmp);
	}
	return status;
}

int cmd_convert(int argc, char **argv)
{
	const char *format = NULL, *maps = NULL, *to = NULL;
	bool stats = false, raw = false, one_log = false;
	uint64_t level = 6;
	const struct cli_opt opts[] = {
		{ "format", CLI_STR, &format, "FMT", "input format: lackey, text, pages or vmt "
						      "(default: from the content)" },
		{ "maps", CLI_STR, &maps, "FILE", "lackey: the stderr of `valgrind -d` with the "
						  "initial address map" },
		{ "one-log", CLI_FLAG, &one_log, NULL, "lackey: read IN alone, not the logs of the "
							"processes it forks and execs" },
		{ "to", CLI_STR, &to, "FMT", "output format: vmt or text (default: from OUT's name)" },
		{ "no-compress", CLI_FLAG, &raw, NULL, "vmt: leave the body uncompressed" },
		{ "level", CLI_U64, &level, "N", "zlib level 1 (fast) to 9 (small); default 6" },
		{ "stats", CLI_FLAG, &stats, NULL, "print the reader's counters on stderr" },
		{ 0 },
	};
	int first, rc = cli_parse("convert", argc, argv, opts, &first, "IN OUT [OPTIONS]",
				  "Convert a trace.  IN: a Valgrind lackey log (NAME.PID.N.log: the logs of\n"
				  "the processes it forks and execs, beside it, are read as its process\n"
				  "tree), a text trace, a page list\n"
				  "or a .vmt file; a file, - (standard input) or gzip-compressed; the\n"
				  "format is detected from the content unless --format names it.  OUT: a\n"
				  ".vmt file (vmlab's binary format, zlib-compressed unless --no-compress),\n"
				  "a text trace (.txt, .trace, .txt.gz), or - for text on standard output.\n"
				  "Formats: docs/formats.md.  Conversion keeps everything vmlab models;\n"
				  "vmt collapses runs of accesses to one page into one record with a count.\n\n"
				  "exit status: 0 converted, 1 bad input (FILE:LINE: what is wrong; OUT is\n"
				  "not written), 2 usage error.\n\n"
				  "example: vmlab convert --maps ls.stderr ls.1234.1.log ls.vmt");
	if (rc)
		return rc;
	if (argc - first != 2) {
		cli_fail("convert", "expected IN and OUT (vmlab convert IN OUT)");
		return CLI_USAGE;
	}
	if (format && !vm_trace_format_find(format)) {
		cli_fail("convert", "--format: '%s' is not lackey, text, pages or vmt", format);
		return CLI_USAGE;
	}
	if (level < 1 || level > 9) {
		cli_fail("convert", "--level: %" PRIu64 " is not 1 to 9", level);
		return CLI_USAGE;
	}
	bool gz;
	const char *outfmt = out_format(to, argv[first + 1], &gz);
	if (!outfmt) {
		if (to)
			cli_fail("convert", "--to: '%s' is not vmt or text", to);
		else
			cli_fail("convert", "%s: say --to vmt or --to text (or name it .vmt or .txt)",
				 argv[first + 1]);
		return CLI_USAGE;
	}
	const struct vm_trace_opts o = { .format = format, .maps = maps, .one_log = one_log };
	bool compress = strcmp(outfmt, "vmt") == 0 ? !raw : gz;
	return convert(argv[first], argv[first + 1], &o, outfmt, compress, (int)level, stats);
}
