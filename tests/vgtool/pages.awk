# From `vmlab convert TRACE -` text: the accesses per page, for comparing
# two captures of one program (tests/vgtool/vgtool.t).  Processes are
# numbered in the order they appear (the pids of two runs differ).
#
#   A PROC KIND PAGE COUNT    the program's accesses to one page, summed
#   K PROC PAGE COUNT         the kernel's writes into one page (read(2)...)
#   E PROC EVENT...           every other event, in order (descriptor
#                             numbers left out)
function hex(s,   i, v) {
	sub(/^0x/, "", s)
	v = 0
	for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function proc(p) { if (!(p in num)) num[p] = ++nprocs; return num[p] }
{
	if ($1 ~ /^[0-9]+:$/) { cur = proc(substr($1, 1, length($1) - 1)); $1 = ""; $0 = substr($0, 2) }
}
$1 ~ /^[RWXM]$/ {
	a = hex($2)
	n = 1
	for (i = 4; i <= NF; i++) if ($i ~ /^x[0-9]+$/) n = substr($i, 2)
	if ($NF == "kernel") kcnt[cur " " int(a / 4096)] += n
	else cnt[cur " " $1 " " int(a / 4096)] += n
	next
}
{
	sub(/ fd [0-9]+$/, "")
	if ($1 == "fork") $2 = "P" proc($2)
	print "E " cur " " $0
}
END {
	for (k in cnt) print "A " k " " cnt[k] | "sort"
	close("sort")
	for (k in kcnt) print "K " k " " kcnt[k] | "sort"
	close("sort")
}
