#!/usr/bin/env bash
# vmlab's Valgrind tool (src/vgtool, docs/vgtool.md) on small C programs
# compiled here: accesses that straddle a page, rep movs/stos, AVX loads,
# threads, a crash, fork + exec; exact and collapsed traces agree; bad input
# (no such program, not executable, Valgrind killed halfway, a cut stream).
# The expected accesses are the instructions' own (SDM): what the programs
# do, not what the tool printed before.
set -u
V=${VMLAB:?VMLAB must name the vmlab binary}
CAP=${VGT_CAPTURE:-}
export VMLAB_VGTOOL_DIR=${VGTOOL_DIR:-}
if [ -z "$VMLAB_VGTOOL_DIR" ] || [ ! -x "$VMLAB_VGTOOL_DIR/vmlab-amd64-linux" ] || [ -z "$CAP" ]; then
	echo "1..0 # SKIP vmlab's Valgrind tool is not built (Valgrind's tool headers missing?)"
	exit 0
fi
if ! valgrind --version >/dev/null 2>&1; then
	echo "1..0 # SKIP valgrind is not installed"
	exit 0
fi
if ! command -v cc >/dev/null 2>&1; then
	echo "1..0 # SKIP no C compiler for the test programs"
	exit 0
fi
P=tests/vgtool/progs
T=$(mktemp -d /tmp/vmlab-vgtool.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
for p in straddle rep avx threads segv forkexec sigtramp; do
	cc -O1 -pthread -o "$T/$p" "$P/$p.c" || { echo "Bail out! cannot compile $p.c"; exit 1; }
done
# capture [OPTS] NAME PROG...: NAME.vmt, NAME.out (the program's stdout),
# NAME.err (messages), NAME.txt (the trace as text); rc = the capture's status.
capture() {
	local opts=()
	while [ "${1#--}" != "$1" ]; do opts+=("$1"); shift; done
	local name=$1; shift
	"$CAP" "${opts[@]}" "$T/$name.vmt" "$@" >"$T/$name.out" 2>"$T/$name.err"; rc=$?
	[ $rc -ne 0 ] || "$V" convert "$T/$name.vmt" "$T/$name.txt" 2>>"$T/$name.err"
	return 0
}
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
# Accesses of kind K at exactly ADDR with SIZE in a text trace (counts summed).
count_at() {
	awk -v k="$1" -v a="$2" -v s="$3" '
		{ if ($1 ~ /^[0-9]+:$/) { $1 = ""; $0 = substr($0, 2) } }
		$1 == k && $2 == a && $3 == s { c = 1; for (i = 4; i <= NF; i++) if ($i ~ /^x/) c = substr($i, 2); t += c }
		END { print t + 0 }' "$4"
}
hexadd() { printf '0x%x' $(($1 + $2)); }

# 1. Straddling accesses, exact mode: each access cut at the page end.
capture --exact st "$T/straddle"
ok $rc "straddle: captured (exact)"
d=$(val data "$T/st.out"); c=$(val code "$T/st.out"); d2=$(hexadd "$d" 4); c2=$(hexadd "$c" 5)
# The access sequences, in order, as the text shows them.
seq=$(grep -E "^(W|R|M) ($d|$d2) 4$" "$T/st.txt" | tr '\n' ' ')
[ "$seq" = "W $d 4 W $d2 4 R $d 4 R $d2 4 M $d 4 M $d2 4 " ]; ok $? "store, load and add to memory of 8 bytes 4 before a page end: two 4-byte pieces each, in order (M for the add)"
[ "$(count_at X "$c" 5 "$T/st.txt")" = 1 ] && [ "$(count_at X "$c2" 5 "$T/st.txt")" = 1 ]
ok $? "a 10-byte instruction 5 bytes before a page end: two 5-byte fetches"
grep -q "^X $c 5$" "$T/st.txt" && [ "$(grep -A1 "^X $c 5$" "$T/st.txt" | tail -1)" = "X $c2 5" ]
ok $? "the two fetch pieces are consecutive"

# 2. The same program collapsed: the same accesses per page.  Two runs
# differ in one thing: ld.so looks up a table on the stack with the
# AT_RANDOM bytes, so when that table straddles a page the random values
# pick the page.  Stack pages (8 MiB below the [stack] map's end) are
# compared as a sum; every other page exactly.
capture st2 "$T/straddle"
stack_pages() {
	awk -f tests/vgtool/pages.awk "$1" | awk -v top="$(awk '$NF == "[stack]" { print $3 }' "$1")" '
		function hex(x,   i, v) { sub(/^0x/, "", x); v = 0
			for (i = 1; i <= length(x); i++) v = v * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1; return v }
		BEGIN { lo = hex(top) / 4096 - 2048 }
		$1 != "A" { next }
		$4 >= lo { stack[$3] += $5; next }
		{ print }
		END { for (k in stack) print "stack", k, stack[k] }' | sort
}
stack_pages "$T/st.txt" > "$T/st.pages"
stack_pages "$T/st2.txt" > "$T/st2.pages"
diff "$T/st.pages" "$T/st2.pages" > "$T/st.diff"
ok $? "exact and collapsed traces: the same accesses per page and kind"
[ -s "$T/st.diff" ] && head -6 "$T/st.diff" | sed 's/^/# /'
[ "$(stat -c %s "$T/st2.vmt")" -lt "$(stat -c %s "$T/st.vmt")" ]; ok $? "collapsed is smaller than exact"

# 3. rep movsb: 100 one-byte loads and stores; rep stosq: 64 8-byte stores.
capture --exact rep "$T/rep"
ok $rc "rep: captured"
s=$(val src "$T/rep.out"); d=$(val dst "$T/rep.out"); f=$(val fill "$T/rep.out")
in_page() { awk -v k="$1" -v lo=$(($2)) -v sz="$3" '
	function hex(x,   i, v) { sub(/^0x/, "", x); v = 0
		for (i = 1; i <= length(x); i++) v = v * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1; return v }
	$1 == k && $3 == sz { a = hex($2); if (a >= lo && a < lo + 4096) { c++; seen[a]++ } }
	END { d = 0; for (a in seen) d++; print c + 0, d + 0 }' "$4"; }
[ "$(in_page R "$s" 1 "$T/rep.txt")" = "100 100" ]; ok $? "rep movsb: 100 one-byte loads, one per source byte"
[ "$(in_page W "$d" 1 "$T/rep.txt")" = "100 100" ]; ok $? "rep movsb: 100 one-byte stores, one per destination byte"
[ "$(in_page W "$f" 8 "$T/rep.txt")" = "64 64" ]; ok $? "rep stosq: 64 eight-byte stores"
first=$(grep -n -m1 "^W $d 1$" "$T/rep.txt" | cut -d: -f1)
[ "$(sed -n "$((first - 1))p" "$T/rep.txt")" = "R $s 1" ]; ok $? "each iteration loads before it stores"

# 4. AVX loads of 32 bytes.
capture --exact avx "$T/avx"
if grep -q noavx "$T/avx.out"; then
	for i in 1 2 3 4 5; do n=$((n + 1)); echo "ok $n # SKIP the CPU has no AVX2"; done
else
	ok $rc "avx: captured"
	a=$(val inside "$T/avx.out"); b=$(val across "$T/avx.out"); b2=$(hexadd "$b" 16)
	[ "$(count_at R "$a" 32 "$T/avx.txt")" = 1 ]; ok $? "vmovdqu inside a page: one 32-byte load"
	[ "$(grep -A1 "^R $b 16$" "$T/avx.txt" | tail -1)" = "R $b2 16" ]
	ok $? "vmovdqu across a page: 16 bytes on each side"
	m=$(val mask "$T/avx.out")
	lanes() { for o in 0 4 8 12 16 20 24 28; do echo -n "$(count_at "$1" "$(hexadd "$m" $(($2 + o)))" 4 "$T/avx.txt")"; done; }
	[ "$(lanes R 0)" = 10100001 ]; ok $? "vpmaskmovd load: lanes 0, 2, 7 read, the others not ($(lanes R 0))"
	[ "$(lanes W 32)" = 10100001 ]; ok $? "vpmaskmovd store: lanes 0, 2, 7 written ($(lanes W 32))"
fi

# 5. Threads: one process, each thread's 1000 stores, one exit.
capture thr "$T/threads"
ok $rc "threads: captured"
[ "$(grep -cE '^([0-9]+: )?fork ' "$T/thr.txt")" = 0 ]; ok $? "no fork: threads share the process"
[ "$(grep -cE '^([0-9]+: )?exit ' "$T/thr.txt")" = 1 ]; ok $? "one exit (the threads' exits are not the process's)"
[ "$(grep -cE '^[0-9]+:' "$T/thr.txt")" = 1 ]; ok $? "one pid throughout"
good=0
for p in $(awk '{ print $2 }' "$T/thr.out"); do
	c=$(awk -f tests/vgtool/pages.awk "$T/thr.txt" | awk -v pg=$(($p / 4096)) '$1 == "A" && $3 == "W" && $4 == pg { print $5 }')
	[ "$c" = 1000 ] && good=$((good + 1))
done
[ $good = 4 ]; ok $? "each thread's page got exactly its 1000 stores"

# 6. A crash: the program dies of SIGSEGV; the trace is complete and its
# last access is the faulting store.
capture segv "$T/segv"
ok $rc "segv: the capture succeeds"
has "$(cat "$T/segv.err")" "program killed by signal 11"; ok $? "and says the program was killed by SIGSEGV"
[ "$(grep -E '^([0-9]+: )?[RWXM] ' "$T/segv.txt" | tail -1 | sed 's/^[0-9]*: //')" = "W 0x10 4" ]
ok $? "the last access is the store to 0x10 that faulted"
m=$(val marker "$T/segv.out")
[ "$(count_at W "$m" 4 "$T/segv.txt")" = 1 ]; ok $? "the store before it is there"

# 7. fork + exec: the child's events right after the fork, its exec, then
# the parent again (depth first, as the lackey reader reads a capture).
capture fe "$T/forkexec"
ok $rc "forkexec: captured"
has "$(cat "$T/fe.err")" "program exited with status 3"; ok $? "the program's exit status"
has "$(cat "$T/fe.err")" "3 streams"; ok $? "three streams: parent, child before and after exec"
shape=$(awk '$1 ~ /^[0-9]+:$/ { $1 = ""; $0 = substr($0, 2) }
	$1 == "fork" { print "fork" } $1 == "execve" { print "execve " $2 } $1 == "exit" { print "exit " $2 }
	$1 == "map" && $NF ~ /true$/ && !t++ { print "map true" }' "$T/fe.txt" | tr '\n' ',')
[ "$shape" = "fork,execve /bin/true,map true,exit 0,exit 3," ]; ok $? "fork, exec /bin/true, its map, its exit, the parent's exit: $shape"
child=$(grep -oE '^([0-9]+: )?fork [0-9]+' "$T/fe.txt" | awk '{ print $NF }')
grep -qE "^$child: " "$T/fe.txt"; ok $? "the child's events carry the child's pid ($child)"

# 7b. Valgrind's trampoline: sigtramp's handler, installed without
# SA_RESTORER, returns through Valgrind's rt_sigreturn stub in the page of
# the tool's text that Valgrind gives the client (m_trampoline.S:
# movq $15,%rax; syscall — 7 and 2 bytes).  The trace puts that page at
# 0x58000000, anonymous (docs/vgtool.md), and the stub's fetches with it.
capture tr "$T/sigtramp"
ok $rc "sigtramp: captured"
has "$(cat "$T/tr.out")" "hits 3"; ok $? "the handler ran three times"
grep -qE '^([0-9]+: )?map 0x58000000 0x58001000 r-xp 0x0$' "$T/tr.txt"; ok $? "the trampoline: one anonymous r-x page at 0x58000000"
! grep -q 'amd64-linux$' "$T/tr.txt"; ok $? "no map of the tool's file"
fx=$(awk '{ if ($1 ~ /^[0-9]+:$/) { $1 = ""; $0 = substr($0, 2) } }
	$1 == "X" && $2 ~ /^0x58000...$/ { c = 1; for (i = 4; i <= NF; i++) if ($i ~ /^x/) c = substr($i, 2); t += c; if ($3 != 7) bad = 1 }
	END { print (bad ? "bad" : t + 0) }' "$T/tr.txt")
[ "$fx" = 6 ]; ok $? "six fetches there, each return a 7-byte mov and the syscall ($fx)"

# 8. Bad input.
"$CAP" "$T/x.vmt" /nonexistent/prog 2>"$T/e"; rc=$?
[ $rc = 1 ] && has "$(cat "$T/e")" "/nonexistent/prog: no such file"; ok $? "no such program: exit 1, a clear message"
[ ! -e "$T/x.vmt" ]; ok $? "and no trace file"
"$CAP" "$T/x.vmt" no-such-command-vmlab 2>"$T/e"; rc=$?
[ $rc = 1 ] && has "$(cat "$T/e")" "command not found"; ok $? "a name not in \$PATH: command not found"
printf 'not a program\n' > "$T/plain"
"$CAP" "$T/x.vmt" "$T/plain" 2>"$T/e"; rc=$?
[ $rc = 1 ] && has "$(cat "$T/e")" "not an executable file"; ok $? "a file without x permission: not an executable file"
printf '#!/nonexistent/interpreter\n' > "$T/badint"; chmod +x "$T/badint"
"$CAP" "$T/x.vmt" "$T/badint" 2>"$T/e"; rc=$?
[ $rc = 1 ] && has "$(cat "$T/e")" "Valgrind could not start"; ok $? "a script with a missing interpreter: Valgrind's message, then no trace"
VMLAB_VGTOOL_DIR=$T "$CAP" "$T/x.vmt" /bin/true 2>"$T/e"; rc=$?
[ $rc = 1 ] && has "$(cat "$T/e")" "holds no vmlab-amd64-linux"; ok $? "no tool in VMLAB_VGTOOL_DIR: says so"

# 9. Valgrind killed halfway (SIGKILL from outside: no chance to finish).
mkdir "$T/keep"
"$CAP" --keep "$T/keep" "$T/k.vmt" sh -c 'while :; do :; done' >/dev/null 2>"$T/k.err" &
cap=$!
f=
for i in $(seq 300); do
	f=$(ls "$T"/keep/t.*.1.vmt 2>/dev/null)
	[ -n "$f" ] && [ "$(stat -c %s "$f")" -gt 2000000 ] && break
	sleep 0.1
done
vpid=${f#$T/keep/t.}; vpid=${vpid%.1.vmt}
kill -9 "$vpid"
wait $cap; rc=$?
ok $rc "killed halfway: the capture still writes what was traced"
has "$(cat "$T/k.err")" "killed by signal 9"; ok $? "says the program was killed"
has "$(cat "$T/k.err")" "truncated: the trace of process $vpid was cut"; ok $? "and that its trace was cut"
"$V" convert "$T/k.vmt" "$T/k.txt" 2>"$T/e"; rc=$?
[ $rc = 1 ] && has "$(cat "$T/e")" "truncated: no end record"; ok $? "replaying it reports the truncation"
"$V" convert "$T/k.vmt" - 2>/dev/null | head -1 | grep -q "map 0x108000"
ok $? "after the events up to the cut"

# 10. A stream cut inside a record (a full disk): the join keeps every
# complete event before it.
mkdir "$T/cut"
"$CAP" --keep "$T/cut" "$T/c0.vmt" /bin/true 2>/dev/null
f=$(ls "$T"/cut/t.*.1.vmt); root=${f#$T/cut/t.}; root=${root%.1.vmt}
full=$("$V" convert "$T/c0.vmt" - | grep -c .)
"$V" convert --level 1 "$f" "$T/conv.vmt"
cmp -s "$T/conv.vmt" "$T/c0.vmt"; ok $? "the joined trace is byte for byte what vmlab convert writes of the tool's file"
truncate -s -3 "$f"
"$CAP" --join "$T/cut/t" "$root" "$T/c1.vmt" 2>"$T/e"; rc=$?
ok $rc "a stream cut short still joins"
has "$(cat "$T/e")" "truncated"; ok $? "reported as truncated"
part=$("$V" convert "$T/c1.vmt" - 2>/dev/null | grep -c .)
[ "$part" -gt 0 ] && [ "$part" -lt "$full" ]; ok $? "with the events before the cut ($part of $full lines)"

echo "1..$n"
[ $fails -eq 0 ]
