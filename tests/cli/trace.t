#!/usr/bin/env bash
# vmlab trace: a live capture under Valgrind's lackey tool, replayed; --save;
# the budget; clear messages when Valgrind or the program is missing.
# Skipped where Valgrind is not installed.
set -u
. "$(dirname "$0")/lib.sh" tracecmd

run "$V" trace --help; ok $rc "trace --help exits 0"
has "$out" "usage: vmlab trace [OPTIONS] -- PROGRAM [ARGS]"; ok $? "and shows the usage"
run "$V" trace; [ $rc -eq 2 ]; ok $? "no program: usage error"
run "$V" trace -- /nonexistent/prog; [ $rc -eq 1 ] && has "$err" "/nonexistent/prog: cannot start it: no such program"
ok $? "a program that does not exist: $err"
run "$V" trace -- /etc/passwd; [ $rc -eq 1 ] && has "$err" "/etc/passwd: cannot start it: not an executable file"
ok $? "a file that is not a program: $err"
VMLAB_VALGRIND=/nonexistent/valgrind run "$V" trace -- /bin/true
[ $rc -eq 1 ] && has "$err" "VMLAB_VALGRIND=/nonexistent/valgrind: no such program"; ok $? "no valgrind: $err"
env PATH=/nonexistent "$V" trace -- /bin/true > /dev/null 2> "$T/err"; rc=$?
[ $rc -eq 1 ] && has "$(cat "$T/err")" "valgrind is not installed"; ok $? "no valgrind in \$PATH: $(cat "$T/err")"
printf '#!/bin/sh\nexit 127\n' > "$T/fakegrind"; chmod +x "$T/fakegrind"
VMLAB_VALGRIND=$T/fakegrind run "$V" trace --tmpdir "$T" -- /bin/true
[ $rc -eq 1 ] && has "$err" "/bin/true: valgrind could not run it (exit status 127, no log)"; ok $? "valgrind failing: $err"
[ -z "$(ls -d "$T"/vmlab-trace.* 2>/dev/null)" ]; ok $? "its temporary folder is removed"

run "$V" trace --tmpdir /nonexistent -- /bin/true
[ $rc -eq 1 ] && [ "$(echo "$err" | grep -c "cannot make a temporary directory in /nonexistent")" = 1 ] &&
	! has "$err" "using lackey"
ok $? "--tmpdir that does not exist: one message, no fallback: $err"

if ! command -v valgrind > /dev/null; then
	echo "# valgrind is not installed: the live captures are skipped"
	done_testing
fi

run "$V" trace --backend foo -- /bin/true; [ $rc -eq 2 ] && has "$err" "--backend: 'foo'"
ok $? "an unknown backend: usage error: $err"
# The default backend: vmlab's own Valgrind tool when it is built (make
# builds it beside the vmlab program, build/VARIANT/vgtool/).
if [ -x "$(dirname "$V")/vgtool/vmlab-amd64-linux" ]; then
	run "$V" trace --tmpdir "$T" -- /bin/true; ok $rc "vmlab trace -- /bin/true with the tool"
	has "$err" "capturing with vmlab's Valgrind tool (vgtool)"; ok $? "says it used the tool"
	has "$out" "replay of /bin/true (vgtool)"; ok $? "the summary names the tool"
	# The tool records the same accesses per page and kind as lackey
	# (docs/vgtool.md "Differences from lackey"), so the pages first
	# touched, and the minor faults, are the same.
	mt=$(fig minor)
	run "$V" trace --json --tmpdir "$T" -- /bin/true
	has "$out" '"format": "vgtool"'; ok $? "--json names the tool"
	[ -z "$(ls -d "$T"/vmlab-trace.* 2>/dev/null)" ]; ok $? "the tool's files are removed"
	VMLAB_VGTOOL_DIR=$T/none run "$V" trace --tmpdir "$T" -- /bin/true
	[ $rc -eq 0 ] && has "$err" "vmlab's Valgrind tool cannot run" && has "$err" "using lackey" &&
		has "$out" "replay of /bin/true (lackey)"
	ok $? "no tool: falls back to lackey and says so: $(echo "$err" | head -2 | tail -1)"
else
	echo "# vmlab's Valgrind tool is not built: its checks are skipped"
	mt=
fi

run "$V" trace --backend lackey --tmpdir "$T" --save "$T/true.vmt" -- /bin/true; ok $rc "vmlab trace --backend lackey -- /bin/true"
has "$err" "capturing with Valgrind's lackey tool (lackey)"; ok $? "says it used lackey"
has "$out" "replay of /bin/true (lackey)"; ok $? "the summary names the program"
has "$out" "memory of pid" && has "$out" "(true), exited 0"; ok $? "true exited 0"
# Natively /bin/true takes 51 minor faults (LACKEY.md 9: the spawn count);
# Valgrind's preload adds a few pages, the populated stack two.
m=$(fig minor)
[ "$m" -ge 40 ] && [ "$m" -le 70 ]; ok $? "its minor faults are near the native 51: $m"
if [ -n "$mt" ]; then
	[ "$mt" = "$m" ]; ok $? "the tool's capture gives the same minor faults as lackey's: $mt, $m"
fi
[ "$(fig SIGSEGV)" = 0 ]; ok $? "no signal"
[ -z "$(ls -d "$T"/vmlab-trace.* 2>/dev/null)" ]; ok $? "the logs are removed"
[ "$(head -c 4 "$T/true.vmt")" = VMTR ]; ok $? "--save wrote a vmt"
out1=$(echo "$out" | sed 1d)
run "$V" replay "$T/true.vmt"; ok $rc "which replays"
[ "$(echo "$out" | sed 1d)" = "$out1" ]; ok $? "to the same summary"
run "$V" trace --backend lackey --tmpdir "$T" --max-log 64K -- /bin/true
[ $rc -eq 1 ] && has "$err" "the capture's logs reached" && has "$err" "budget"; ok $? "a budget too small stops the capture: $err"
[ -z "$(ls -d "$T"/vmlab-trace.* 2>/dev/null)" ]; ok $? "and removes the logs"
run "$V" trace --backend lackey --tmpdir "$T" --keep -- /bin/true
has "$err" "the logs stay in $T/vmlab-trace."; ok $? "--keep keeps them"
d=$(ls -d "$T"/vmlab-trace.* 2>/dev/null | head -1)
[ -n "$d" ] && ls "$d"/t.*.1.log > /dev/null 2>&1 && [ -s "$d/maps.stderr" ]; ok $? "the log and the maps: $(ls "$d" 2>/dev/null | tr '\n' ' ')"
rm -rf "$d"
run "$V" trace --stdout "$T/prog.out" -- /bin/echo hello; ok $rc "--stdout FILE"
[ "$(cat "$T/prog.out")" = hello ] && [ "$(echo "$out" | head -1 | cut -c1-10)" = "replay of " ]
ok $? "the program's output goes to FILE, not before the summary"
run "$V" trace --backend lackey --json -- /bin/true; ok $rc "--json"
has "$out" '"format": "lackey"'; ok $? "JSON"

if [ "${VMLAB_TEST_LONG:-}" = 1 ]; then
	run "$V" trace --tmpdir "$T" -- sh -c '/bin/true; /bin/true'
	ok $rc "a shell that forks twice"
	has "$out" "3 exits" && has "$out" "2 forks, 2 execs"; ok $? "three processes, two forks and execs"
fi

done_testing
