# The blocking calls of lackey logs whose completion never came (LACKEY.md
# 2.3): a SYSCALL line (or its continuation) ending "--> [async] ..." with
# no "... [async] -->" line of the same thread before that thread's next
# SYSCALL line or the end of the log — a signal interrupted the call after
# it completed, and Valgrind printed nothing more.  Read without vmlab's
# reader, from the log lines alone.  For each, the kernel writes the call
# makes when it succeeds, one line per page it touches, as the normalised
# trace text shows them (norm.awk: "W pageADDR>>12 LEN kernel"):
#
#   wait4(pid, int *status, options, struct rusage *rusage)   (wait4(2))
#       status: 4 bytes (an int); rusage: 144 bytes (struct rusage, x86-64)
#
#   LOST NR NAME        one line per lost call
#   WRITE LINE          one line per write it would have made
#   UNKNOWN NR NAME     a lost call this table does not know
function hex(s,   i, v) {
	sub(/^0x/, "", s)
	v = 0
	for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function pagehex(a,   s, d) {
	a = int(a / 4096)
	s = ""
	do { d = a % 16; s = substr("0123456789abcdef", d + 1, 1) s; a = int(a / 16) } while (a > 0)
	return "page0x" s
}
# One write of len bytes at hex address x, cut at page ends.
function write(x, len,   a, room, piece) {
	a = hex(x)
	while (len > 0) {
		room = 4096 - a % 4096
		piece = len < room ? len : room
		print "WRITE W " pagehex(a) " " piece " kernel"
		a += piece
		len -= piece
	}
}
function lost(line,   nr, args, n, arg, name) {
	nr = line
	sub(/^SYSCALL\[[0-9]+,[0-9]+\]\(/, "", nr)
	sub(/\).*/, "", nr)
	args = line
	sub(/^[^(]*\([0-9]+\) [a-z0-9_]+ \( /, "", args)
	sub(/ \).*/, "", args)
	n = split(args, arg, /, /)
	name = line
	sub(/^[^ ]* /, "", name)
	sub(/ .*/, "", name)
	print "LOST " nr " " name
	if (nr == 61) {
		if (arg[2] != "0x0") write(arg[2], 4)
		if (n >= 4 && arg[4] != "0x0") write(arg[4], 144)
	} else {
		print "UNKNOWN " nr " " name
	}
}
FNR == 1 {
	for (t in pending) lost(pending[t])
	delete pending
	split_line = ""
}
/^SYSCALL\[/ {
	tid = $0
	sub(/^SYSCALL\[[0-9]+,/, "", tid)
	sub(/\].*/, "", tid)
	if (index($0, "... [async] -->")) { delete pending[tid]; next }
	if (tid in pending) { lost(pending[tid]); delete pending[tid] }
	if (index($0, "--> [async] ...")) pending[tid] = $0
	else if (!index($0, "-->")) { split_line = $0; split_tid = tid }
	next
}
/^ --> \[async\] \.\.\./ {
	if (split_line != "") pending[split_tid] = split_line
	split_line = ""
	next
}
/^ --> / { split_line = "" }
END { for (t in pending) lost(pending[t]) }
