# From `vmlab convert TRACE -` text: the trace as two captures of one
# program must share it, line for line.  What differs between two runs of
# a program, or between the two tools, and does not reach the model:
#
#   pids                  numbered P1, P2... in the order they appear
#   descriptor numbers    (" fd N" after an mmap) lackey's log file takes
#                         descriptor 3 in the client; replay opens files by
#                         path (src/trace/replay_sys.c never reads the fd)
#   an access's offset    its page is kept ("pageADDR>>12"), its size and
#                         count too; the offset within the page varies from
#                         run to run (ld.so's AT_RANDOM lookups, hashes) and
#                         Valgrind's trampoline stub sits at another offset
#                         in each tool's page
#
# Everything else — maps, system calls with their arguments and results,
# forks, execs, exits, kernel writes — is kept as it is.
function proc(p) { if (!(p in num)) num[p] = ++nprocs; return "P" num[p] }
{
	if ($1 ~ /^[0-9]+:$/) { $1 = proc(substr($1, 1, length($1) - 1)) ":"; a = 2 } else a = 1
	if ($a == "fork") $(a + 1) = proc($(a + 1))
	sub(/ fd [0-9]+$/, "")
	if ($a ~ /^[XRWM]$/) {
		h = substr($(a + 1), 3)
		$(a + 1) = "page0x" (length(h) > 3 ? substr(h, 1, length(h) - 3) : "0")
	}
	print
}
