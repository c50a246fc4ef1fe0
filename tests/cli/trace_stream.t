#!/usr/bin/env bash
# vmlab trace with vmlab's Valgrind tool replays while the program runs
# (docs/replay.md "vmlab trace"): the result must be the one `vmlab
# replay` gives of the saved trace, byte for byte, for a plain program, a
# forking shell, a pipeline and a program that reads a file; the tool's
# files are removed; --max-log bounds them; a progress line with events/s
# appears while the program runs when stderr is a terminal.
# Skipped where Valgrind or the tool is missing.
set -u
. "$(dirname "$0")/lib.sh" tracestream

if ! command -v valgrind > /dev/null || [ ! -x "$(dirname "$V")/vgtool/vmlab-amd64-linux" ]; then
	echo "# valgrind or vmlab's Valgrind tool is missing: skipped"
	done_testing
fi

seq 3000 | awk '{ srand($1); print int(rand() * 1e6) }' > "$T/in.txt"
# The same summary but for the lines that name the source ("trace", "format").
same_json() {
	diff <(grep -v -E '^  "(trace|format)":' "$1") <(grep -v -E '^  "(trace|format)":' "$2") \
		> "$T/diff" && [ -s "$1" ]
}

i=0
for prog in "/bin/true" "sh -c 'ls / > /dev/null; echo done'" "sh -c 'ls /usr | wc -l'" \
	    "sort -n $T/in.txt"; do
	i=$((i + 1))
	eval "set -- $prog"
	"$V" trace --tmpdir "$T" --json --stdout "$T/p$i.out" --save "$T/t$i.vmt" -- "$@" \
		> "$T/live$i.json" 2> "$T/err$i"
	rc=$?
	[ $rc -eq 0 ] && grep -q "replayed as it ran" "$T/err$i"
	ok $? "vmlab trace -- $prog: replayed while it ran (exit $rc): $(tail -1 "$T/err$i")"
	"$V" replay --json "$T/t$i.vmt" > "$T/file$i.json"
	same_json "$T/live$i.json" "$T/file$i.json"
	ok $? "and vmlab replay of the saved trace gives the same result: $(head -3 "$T/diff" | tr '\n' ' ')"
done
grep -q '"fork": [1-9]' "$T/live2.json"; ok $? "the shell forked"
[ "$(cat "$T/p4.out")" = "$(sort -n "$T/in.txt")" ]; ok $? "the program's output went to --stdout"
# The text summary too, with other settings.
"$V" trace --tmpdir "$T" --stdout /dev/null --set tlb=skylake --set thp=never \
	--save "$T/s.vmt" -- sh -c 'cat /etc/passwd | sort > /dev/null' > "$T/live.txt" 2> /dev/null
"$V" replay --set tlb=skylake --set thp=never "$T/s.vmt" > "$T/file.txt"
diff <(sed 1d "$T/live.txt") <(sed 1d "$T/file.txt") > "$T/diff" && [ -s "$T/live.txt" ]
ok $? "the text summary with --set is the saved trace's: $(head -3 "$T/diff" | tr '\n' ' ')"
[ -z "$(ls -d "$T"/vmlab-trace.* 2>/dev/null)" ]; ok $? "the capture's folder is removed"

# --keep keeps the tool's files (which are otherwise removed as joined).
run "$V" trace --tmpdir "$T" --keep --stdout /dev/null -- sh -c 'ls > /dev/null'
d=$(ls -d "$T"/vmlab-trace.* 2>/dev/null | head -1)
[ $rc -eq 0 ] && has "$err" "the tool's files stay in $T/vmlab-trace." && [ -n "$d" ] &&
	[ "$(ls "$d"/t.*.vmt | wc -l)" -ge 3 ]
ok $? "--keep keeps the tool's files: $(ls "$d" 2>/dev/null | tr '\n' ' ')"
rm -rf "$d"

# The budget: the files on disk at once.  A trace of sort takes more
# than 64 KiB (an ELF load alone is more accesses than that).
run "$V" trace --tmpdir "$T" --max-log 64K --stdout /dev/null -- sort -n "$T/in.txt"
[ $rc -eq 1 ] && has "$err" "the capture's files reached" && has "$err" "stopped"
ok $? "a budget too small stops the capture: $(echo "$err" | tail -1)"
[ -z "$(ls -d "$T"/vmlab-trace.* 2>/dev/null)" ]; ok $? "and removes its files"

# A progress line while the program runs, on a terminal: `script` gives
# vmlab a pseudo-terminal; the program sleeps between two bursts of work,
# so the line comes before the program ends.
if command -v script > /dev/null; then
	script -qec "$V trace --stdout /dev/null -- sh -c 'sort -n $T/in.txt > /dev/null; sleep 1; sort -n $T/in.txt > /dev/null' > /dev/null" \
		"$T/tty.log" > /dev/null 2>&1
	grep -a -q "events/s" "$T/tty.log"
	ok $? "a progress line with events/s on a terminal: $(grep -a -o 'vmlab trace: [0-9,]* events[^\r]*' "$T/tty.log" | head -1)"
fi
done_testing
