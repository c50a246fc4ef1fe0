#!/usr/bin/env bash
# vmlab run: every scenario in examples/ and tests/scenarios/ runs green;
# failed expectations, runtime errors and syntax errors give the right exit
# status and a FILE:LINE message; --set wins over set lines; --json, --check,
# standard input; the same run twice prints the same bytes.
set -u
V=${VMLAB:?VMLAB must name the vmlab binary}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() {   # ok CONDITION-EXIT-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
run() {  # run CMD...: sets $out, $err, $rc
	out=$("$@" 2>"$tmp/err"); rc=$?
	err=$(cat "$tmp/err")
}
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
json_ok() { printf '%s' "$1" | perl -MJSON::PP -e 'local $/; decode_json(<STDIN>)' 2>/dev/null; }
diag() { printf '%s\n' "$1" | sed 's/^/# /' | head -20; }
# try NAME TEXT STATUS MESSAGE DESCRIPTION: write TEXT (printf format) to
# NAME.vms, run it, expect exit STATUS and MESSAGE on standard error.
try() {
	printf "$2" > "$tmp/$1.vms"
	run "$V" run "$tmp/$1.vms"
	[ $rc -eq "$3" ] && has "$err" "$4"; ok $? "$5"
	[ $rc -eq "$3" ] || diag "$err"
}

for f in examples/*.vms tests/scenarios/*.vms; do
	run "$V" run "$f"
	ok $rc "$f runs and every expect holds"
	[ $rc -eq 0 ] || diag "$err"
done

# Failed expectations: exit 1, every one reported (the run goes on), with
# the expression and both values.
printf 'process A\nexpect A.rss == 4K\nshow A.pid\nexpect A.pid == 7\nexpect A.last == -ENOMEM\n' > "$tmp/fail.vms"
run "$V" run "$tmp/fail.vms"
[ $rc -eq 1 ]; ok $? "a failed expect exits 1"
has "$err" "vmlab: $tmp/fail.vms:2: expect A.rss == 4K: A.rss is 0, 4K is 4096 (4K)"; ok $? "and says FILE:LINE, the expression and both values"
has "$err" "fail.vms:4: expect A.pid == 7: A.pid is 1, 7 is 7"; ok $? "a later failure is reported too"
has "$err" "fail.vms:5: expect A.last == -ENOMEM: A.last is 0, -ENOMEM is -12 (-ENOMEM)"; ok $? "errno values are named"
has "$out" "== line 3: A.pid = 1"; ok $? "statements between failures ran"

# Syntax errors: exit 2, FILE:LINE, found before anything runs.
printf 'process A\nshow A.pid\nA mmap p 4Q rw private,anon\n' > "$tmp/syn.vms"
run "$V" run "$tmp/syn.vms"
[ $rc -eq 2 ]; ok $? "a syntax error exits 2"
has "$err" "vmlab: $tmp/syn.vms:3: '4Q' is not a number"; ok $? "and names the file and line: $err"
[ -z "$out" ]; ok $? "nothing ran before the syntax error was found"
try trail 'process A\nA mmap p 4K rw private,anon extra\n' 2 "trail.vms:2: unexpected 'extra' after the statement" \
	"trailing garbage is a syntax error"
try noproc 'process A\nB read 0\n' 2 "noproc.vms:2: 'B': no such process" \
	"an unknown process is a syntax error"
try nul 'process A\nA read 0\0\n' 2 "nul.vms:2: NUL byte" "a NUL byte is a syntax error"
try mach 'set phys=1T phys_bits=36\nprocess A\n' 2 \
	"mach.vms: cannot build the machine: phys=1T does not fit in phys_bits=36" \
	"settings the machine cannot honour exit 2"

# Runtime errors stop the run: exit 1.
printf 'process A\nA read 0\nexpect A.signal == SIGSEGV\nA read 0\nshow A.pid\n' > "$tmp/dead.vms"
run "$V" run "$tmp/dead.vms"
[ $rc -eq 1 ]; ok $? "a statement on a killed process exits 1"
has "$err" "dead.vms:4: A was killed by SIGSEGV at line 2; only expect and show may name it now"; ok $? "and says why: $err"
has "$out" "== line 2: A killed by SIGSEGV (SEGV_MAPERR) at 0x0"; ok $? "the kill is in the output"
! has "$out" "line 5"; ok $? "the run stopped there"
try len 'process A\nA read 4096 0\n' 1 "len.vms:2: read: length 0 is not positive" \
	"a zero length stops the run"
try div 'process A\nshow 1/(A.pid-1)\n' 1 "div.vms:2: division by zero" "a division by zero stops the run"

# --set wins over the file's set lines.
printf 'set phys=64M\nprocess A\nexpect frames_total == 16384\n' > "$tmp/set.vms"
run "$V" run "$tmp/set.vms"
ok $rc "set phys=64M gives 16384 frames"
run "$V" run "$tmp/set.vms" --set phys=128M
[ $rc -eq 1 ] && has "$err" "frames_total is 32768"; ok $? "--set phys=128M wins over the file"
run "$V" run "$tmp/set.vms" --set phys=12Q
[ $rc -eq 2 ] && has "$err" "--set: phys=12Q: not a size"; ok $? "a bad --set exits 2"

# Standard input, --check, --json, usage errors.
run sh -c "\"$V\" run - < \"$tmp/set.vms\""
ok $rc "vmlab run - reads standard input"
run sh -c "printf 'process A\nA bogus\n' | \"$V\" run -"
[ $rc -eq 2 ] && has "$err" "<stdin>:2:"; ok $? "errors on standard input say <stdin>: $err"
run "$V" run --check "$tmp/fail.vms"
[ $rc -eq 0 ] && [ -z "$out" ]; ok $? "--check parses only (the failing expects do not run)"
run "$V" run --check "$tmp/syn.vms"
[ $rc -eq 2 ]; ok $? "--check finds syntax errors"
run "$V" run examples/nx.vms --json
[ $rc -eq 0 ] && json_ok "$out"; ok $? "--json prints valid JSON"
has "$out" '"result": "ok"' && has "$out" '"signal": "SIGSEGV"' && has "$out" '"output"'; ok $? "with the result, the processes and the output"
run "$V" run "$tmp/fail.vms" --json
[ $rc -eq 1 ] && json_ok "$out" && has "$out" '"failures"'; ok $? "--json of a failing run is valid and lists the failures"
run "$V" run;                     [ $rc -eq 2 ]; ok $? "run without a file exits 2"
run "$V" run /nonexistent.vms;    [ $rc -eq 2 ] && has "$err" "/nonexistent.vms: cannot open"; ok $? "a missing file exits 2 and names it"
run "$V" run a.vms b.vms;         [ $rc -eq 2 ]; ok $? "two files exit 2"
run "$V" run --help;              [ $rc -eq 0 ] && has "$out" "usage: vmlab run"; ok $? "run --help"

# fork, vfork, thread, wait: the mistakes a scenario can make with them.
try forkdup 'process A\nprocess B\nA fork B\n' 2 "forkdup.vms:3: 'B' is already defined" \
	"fork binds a new process name"
try forkbefore 'process A\nB read 0\nA fork B\n' 2 "forkbefore.vms:2: 'B': no such process" \
	"a forked process does not exist before its fork"
try waitwhat 'process A\nA wait C\n' 2 "waitwhat.vms:2: wait: 'C' is not a process" \
	"wait names a process"
try waitself 'process A\nA wait A\n' 2 "waitself.vms:2: wait: a process cannot wait for itself" \
	"a process cannot wait for itself"
try forkcpu 'set cpus=2\nprocess A\nA fork B cpu 2\n' 1 "forkcpu.vms:3: cpu 2: the machine has CPUs 0 to 1" \
	"a CPU the machine lacks stops the run"
try waitrun 'process A\nA fork B\nA wait B\n' 1 "waitrun.vms:3: B still runs: A would wait forever" \
	"waiting for a running child stops the run"
try vforkwait 'process A\nA vfork B\nA read 0x1000\n' 1 "vforkwait.vms:3: A waits for its vfork child B (pid 2)" \
	"a vfork parent cannot run until the child exits"
try forkexit 'process A\nA exit\nA fork B\n' 2 "forkexit.vms:3: A exited at line 2" \
	"an exited process cannot fork"

# show swaps: /proc/swaps in Linux's format (swap_show: the name padded to
# 40 columns, Size the slots but the header, in KiB).  Under pressure the two
# areas of priority 5 are used in turn (equal halves); the -2 area, lower, is
# not touched while they have room (get_swap_pages).
printf 'set phys=1M swap=2M:5,2M:5,1M thp=never aslr=0\nprocess A\nA mmap p 2M rw private,anon\nA touch p 2M write\nshow swaps\n' > "$tmp/swaps.vms"
run "$V" run "$tmp/swaps.vms"
hdr=$(printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority')
[ $rc -eq 0 ] && has "$out" "$hdr"; ok $? "show swaps: Linux's header"
u0=$(printf '%s\n' "$out" | awk '$1 == "/swap0" && $2 == "file" && $3 == 2044 && $5 == 5 { print $4 }')
u1=$(printf '%s\n' "$out" | awk '$1 == "/swap1" && $2 == "file" && $3 == 2044 && $5 == 5 { print $4 }')
u2=$(printf '%s\n' "$out" | awk '$1 == "/swap2" && $2 == "file" && $3 == 1020 && $5 == -2 { print $4 }')
[ -n "$u0" ] && [ "$u0" -gt 0 ] && [ "$u0" = "$u1" ] && [ "$u2" = 0 ]
ok $? "show swaps: equal priorities share the load, the lower area waits"
[ $? -eq 0 ] || diag "$out"

# Determinism: the same scenario twice, the same bytes.
run "$V" run examples/demand-paging.vms
first=$out
run "$V" run examples/demand-paging.vms
[ "$out" = "$first" ]; ok $? "the same run twice prints the same bytes"

echo "1..$n"
exit $((fails > 0))
