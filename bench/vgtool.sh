#!/usr/bin/env bash
# Capturing real programs: vmlab's Valgrind tool against lackey, in the same
# run (docs/vgtool.md, docs/benchmarks.md "Capture").  For each program:
#
#   native   the program alone (the floor)
#   none     the program under Valgrind with no instrumentation (--tool=none):
#            Valgrind's own floor, mostly its start-up in each process
#   tool     vgtool_capture: the program under `valgrind --tool=vmlab`, its
#            per-process files joined into one zlib vmt while it runs
#   lackey   the lackey way to the same vmt: the traced run
#            (--trace-mem=yes --trace-syscalls=yes --trace-children=yes), the
#            untraced `valgrind -d` run for the initial maps, `vmlab convert`
#
# and end to end, replay included, as a user runs it:
#
#   trace-tool     vmlab trace --backend vgtool --json -- PROG ARGS
#   trace-lackey   vmlab trace --backend lackey --json -- PROG ARGS
#
# wall clock and CPU (user + system, children included) for each, the bytes
# of lackey's logs against the tool's trace, the ratios, the slowdown of
# each against the native run, and the accesses each replay counted (the
# two captures must agree: tests/vgtool/lackey.t checks it exactly).
# Every run uses the same environment and directory; the load average
# before and after is printed (the host may be shared).
#
#   make bench-vgtool                      (builds what it needs, then runs this)
#   VMLAB=build/release/vmlab VGT_CAPTURE=... VGTOOL_DIR=... bench/vgtool.sh [--quick]
#
# --quick: smaller inputs, no python3 (a few minutes); the default takes
# fifteen to twenty-five, most of it lackey's.
set -u
V=${VMLAB:?VMLAB must name the vmlab binary}
CAP=${VGT_CAPTURE:?VGT_CAPTURE must name vgtool_capture}
DIR=${VGTOOL_DIR:-}
if [ -z "$DIR" ] || [ ! -x "$DIR/vmlab-amd64-linux" ] || ! valgrind --version >/dev/null 2>&1; then
	echo "bench/vgtool.sh: skipped: vmlab's Valgrind tool or valgrind is missing"
	exit 0
fi
if [ ! -x /usr/bin/time ]; then
	echo "bench/vgtool.sh: skipped: needs /usr/bin/time for CPU times"
	exit 0
fi
quick=0
[ "${1:-}" = --quick ] && quick=1
DIR=$(cd "$DIR" && pwd)
V=$(cd "$(dirname "$V")" && pwd)/$(basename "$V")
CAP=$(cd "$(dirname "$CAP")" && pwd)/$(basename "$CAP")
T=$(mktemp -d /tmp/vmlab-bench-vgtool.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/work"
cd "$T/work"
# PYTHONHASHSEED: python3 salts its hashes with random bytes at each start
# (other work in each run, so the two replays' accesses would differ).
ENV=(env -i VALGRIND_LIB="$DIR" PATH=/usr/bin:/bin VMLAB_VGTOOL_DIR="$DIR" PYTHONHASHSEED=0)
lines=20000
gzbytes=200000
lsdir=/usr/bin
[ $quick = 1 ] && lines=3000 gzbytes=60000 lsdir=/etc
awk -v n=$lines 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' > in.txt
head -c $gzbytes /usr/bin/bash > in.bin 2>/dev/null || head -c $gzbytes "$V" > in.bin

# timed FILE CMD...: "wall cpu" seconds appended to FILE
timed() {
	local f=$1; shift
	/usr/bin/time -f "%e %U %S" -a -o "$f.t" "$@"
	awk '{ print $1, $2 + $3 }' "$f.t" | tail -1 > "$f"
}
sum() { awk '{ w += $1; c += $2 } END { printf "%.3f %.3f\n", w, c }' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }

# The accesses a replay summary counted ("accesses": { ... "total": N).
accesses() { awk '/"accesses": \{/ { a = 1 } a && /"total":/ { v = $2; sub(/,$/, "", v); print v; exit }' "$1"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run() {
	local name=$1; shift
	# The program by its path, as lackey's capture in `vmlab trace` passes
	# it: the same argv[0] (on the client's stack) in every run.
	set -- "$(PATH=/usr/bin:/bin command -v "$1")" "${@:2}"
	rm -f "$T"/*.t "$T"/m.*
	# Native runs are too short for /usr/bin/time's 10 ms: ten of them.
	timed "$T/m.native10" "${ENV[@]}" bash -c 'for i in 1 2 3 4 5 6 7 8 9 10; do "$@"; done' \
		_ "$@" >/dev/null 2>&1
	awk '{ printf "%.4f %.4f\n", $1 / 10, $2 / 10 }' "$T/m.native10" > "$T/m.native"
	timed "$T/m.none" "${ENV[@]}" valgrind -q --tool=none "$@" >/dev/null 2>&1
	timed "$T/m.tool" "${ENV[@]}" "$CAP" "$T/$name.vmt" "$@" >/dev/null 2>"$T/$name.err"
	mkdir "$T/$name"
	timed "$T/m.lk1" "${ENV[@]}" valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes \
		--trace-children=yes --log-file="$T/$name/x.%p.%n.log" "$@" >/dev/null 2>&1
	timed "$T/m.lk2" "${ENV[@]}" valgrind -d --tool=lackey --trace-children=yes --log-file=/dev/null \
		"$@" >/dev/null 2>"$T/$name.stderr"
	local root=$(ls "$T/$name" | sort -t. -k3,3n -k2,2n | head -1)
	timed "$T/m.lk3" "$V" convert --maps "$T/$name.stderr" "$T/$name/$root" "$T/$name.lk.vmt"
	local lkbytes=$(cat "$T/$name"/* | wc -c) tbytes=$(stat -c %s "$T/$name.vmt")
	rm -rf "$T/$name" "$T/$name.lk.vmt"
	# End to end: capture and replay, as `vmlab trace` does them.
	timed "$T/m.etool" "${ENV[@]}" "$V" trace --backend vgtool --json --stdout /dev/null -- "$@" \
		>"$T/$name.tool.json" 2>"$T/$name.tool.err"
	timed "$T/m.elk" "${ENV[@]}" "$V" trace --backend lackey --json --stdout /dev/null -- "$@" \
		>"$T/$name.lk.json" 2>"$T/$name.lk.err"
	local ta=$(accesses "$T/$name.tool.json") la=$(accesses "$T/$name.lk.json")
	read -r nw nc < "$T/m.native"
	read -r vw vc < "$T/m.none"
	read -r tw tc < "$T/m.tool"
	read -r lw lc < <(sum "$T/m.lk1" "$T/m.lk2" "$T/m.lk3")
	read -r ew ec < "$T/m.etool"
	read -r fw fc < "$T/m.elk"
	echo "$name $nw $tw $tc $lw $lc $lkbytes $tbytes $vw $ew $ec $fw $fc ${ta:-0} ${la:-0}" >> "$T/all"
	echo "# $name done: trace-tool ${ew}s, trace-lackey ${fw}s" >&2
}

run ls-l ls -l $lsdir
run sort sort in.txt
run gzip gzip -c in.bin
[ $quick = 1 ] || run python3 /usr/bin/python3 -c 'print(sum(range(1000)))'
run sh-fork sh -c 'ls / > /dev/null; for f in a b c; do echo $f > /dev/null; done; sort in.txt > /dev/null'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Capture only: the tool's capture against lackey's way to the same vmt"
printf '%-8s %8s %8s %8s %8s %8s %8s %8s %8s %11s %10s %8s\n' program native_s none_s tool_s \
	tool_cpu lackey_s lk_cpu faster cpu_x lackey_B tool_B smaller
while read -r name nw tw tc lw lc lb tb vw ew ec fw fc ta la; do
	printf '%-8s %8.3f %8.2f %8.2f %8.2f %8.2f %8.2f %7sx %7sx %11d %10d %7sx\n' "$name" "$nw" "$vw" \
		"$tw" "$tc" "$lw" "$lc" "$(ratio "$lw" "$tw")" "$(ratio "$lc" "$tc")" "$lb" "$tb" \
		"$(ratio "$lb" "$tb")"
done < "$T/all"
awk '{ nw += $2; tw += $3; tc += $4; lw += $5; lc += $6; lb += $7; tb += $8; vw += $9 }
	END { printf "all: the tool %.1fx faster than lackey (wall), %.1fx (CPU); its traces %.1fx smaller;\n" \
		"     the tool takes %.1fx the time of Valgrind without instrumentation, %.0fx the native runs\n",
		lw / tw, lc / tc, lb / tb, tw / vw, tw / (nw > 0 ? nw : 0.001) }' "$T/all"

echo
echo "End to end: vmlab trace --backend vgtool against --backend lackey, replay included"
printf '%-8s %8s %8s %8s %8s %8s %8s %8s %9s %9s %12s %12s\n' program native_s tool_s tool_cpu \
	lackey_s lk_cpu faster cpu_x tool/nat lk/nat tool_acc lackey_acc
while read -r name nw tw tc lw lc lb tb vw ew ec fw fc ta la; do
	printf '%-8s %8.3f %8.2f %8.2f %8.2f %8.2f %7sx %7sx %8sx %8sx %12d %12d\n' "$name" "$nw" "$ew" \
		"$ec" "$fw" "$fc" "$(ratio "$fw" "$ew")" "$(ratio "$fc" "$ec")" \
		"$(ratio "$ew" "$nw")" "$(ratio "$fw" "$nw")" "$ta" "$la"
done < "$T/all"
awk '{ nw += $2; vw += $9; ew += $10; ec += $11; fw += $12; fc += $13 }
	END { printf "all: vmlab trace with the tool %.1fx faster than with lackey (wall), %.1fx (CPU);\n" \
		"     with the tool it takes %.1fx the native runs (%.1fx Valgrind without instrumentation),\n" \
		"     with lackey %.0fx\n", fw / ew, fc / ec, ew / (nw > 0 ? nw : 0.001), ew / vw,
		fw / (nw > 0 ? nw : 0.001) }' "$T/all"
