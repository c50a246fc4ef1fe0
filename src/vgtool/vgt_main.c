/*
 * vmlab's Valgrind tool: registration and options (docs/vgtool.md).
 *
 *   valgrind --tool=vmlab [--vmt-out=PREFIX] [--vmt-exact=yes] [--trace-children=yes] PROG
 *
 * writes PREFIX.PID.SEQ.vmt, one file per process image (SEQ counts the
 * images of one pid: 1 for the first, 2 after its exec, ...).  Each file
 * is a complete vmt trace of that image; `vmlab` joins a capture's files
 * into one process tree (src/trace/capture_vgtool.c).
 */
#include "pub_tool_basics.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_libcfile.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_libcproc.h"
#include "pub_tool_mallocfree.h"
#include "pub_tool_options.h"
#include "pub_tool_tooliface.h"

#include "vgt.h"

Bool vgt_exact = False;
const HChar *vgt_prefix = "vmlab";

static Bool process_option(const HChar *arg)
{
	if VG_STR_CLO(arg, "--vmt-out", vgt_prefix) {
		if (!vgt_prefix[0])
			VG_(fmsg_bad_option)(arg, "the prefix is empty\n");
	} else if VG_BOOL_CLO(arg, "--vmt-exact", vgt_exact) {
	} else {
		return False;
	}
	return True;
}

static void print_usage(void)
{
	VG_(printf)("    --vmt-out=PREFIX          write PREFIX.PID.SEQ.vmt, one file per process\n"
		    "                              image [vmlab]\n"
		    "    --vmt-exact=no|yes        every access its own record; no|yes runs of\n"
		    "                              accesses to one page collapsed [no]\n");
}

static void print_debug_usage(void)
{
}

static void post_clo_init(void)
{
	/* Children exec'd later start in other directories: make it absolute. */
	if (vgt_prefix[0] != '/') {
		const HChar *wd = VG_(get_startup_wd)();
		SizeT n = VG_(strlen)(wd) + VG_(strlen)(vgt_prefix) + 2;
		HChar *abs = VG_(malloc)("vgt.prefix", n);
		VG_(snprintf)(abs, n, "%s/%s", wd, vgt_prefix);
		vgt_prefix = abs;
	}
	vgt_out_open(vgt_prefix);
	VG_(atfork)(vgt_fork_pre, vgt_fork_parent, vgt_fork_child);
}

static void fini(Int exitcode)
{
	vgt_out_finish();
}

static void pre_clo_init(void)
{
	VG_(details_name)("vmlab");
	VG_(details_version)("0.1.0");
	VG_(details_description)("memory accesses and system calls as a vmlab trace (vmt)");
	VG_(details_copyright_author)("vmlab");
	VG_(details_bug_reports_to)("the vmlab project");
	VG_(details_avg_translation_sizeB)(400);
	VG_(basic_tool_funcs)(post_clo_init, vgt_instrument, fini);
	VG_(needs_command_line_options)(process_option, print_usage, print_debug_usage);
	VG_(needs_syscall_wrapper)(vgt_pre_syscall, vgt_post_syscall);
}

VG_DETERMINE_INTERFACE_VERSION(pre_clo_init)
