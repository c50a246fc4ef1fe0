#!/usr/bin/env bash
# The tool against lackey: for the same program, input, environment and
# directory, vmlab's Valgrind tool and lackey (--trace-mem=yes
# --trace-syscalls=yes, its logs converted with `vmlab convert --maps`)
# must give the same trace and the same replay:
#
#  - the same events in the same order, line for line, page by page
#    (tests/vgtool/norm.awk says what is left aside: pids, descriptor
#    numbers, offsets within a page), but for the kernel writes of the
#    blocking calls whose completion lackey lost (below);
#  - `vmlab replay --json` of the two traces: every key equal (pids renamed
#    in order of appearance; the trace file has the same name in both).
#
# Lost completions (docs/vgtool.md "Differences from lackey"): when a
# signal interrupts a blocking call after it completed (dash's wait4 and
# SIGCHLD), lackey prints no completion line and its reader counts an
# async_lost, without the call's kernel writes; the tool's post-syscall
# hook sees the result and records them.  The lost calls are found in the
# logs here without vmlab's reader (tests/vgtool/lost.awk, with the
# writes wait4(2) makes); the tool's trace may hold those writes and
# nothing else more, and with them taken out its replay must be lackey's,
# every key.
#
# Valgrind's trampoline is at another address in each tool; both readers
# put it at 0x58000000 (docs/vgtool.md), so it is compared like the rest.
# sigtramp returns from its signal handlers through it.
# VMLAB_TEST_LONG=1 adds programs that take minutes under lackey.
set -u
V=${VMLAB:?VMLAB must name the vmlab binary}
CAP=${VGT_CAPTURE:-}
DIR=${VGTOOL_DIR:-}
if [ -z "$DIR" ] || [ ! -x "$DIR/vmlab-amd64-linux" ] || [ -z "$CAP" ]; then
	echo "1..0 # SKIP vmlab's Valgrind tool is not built (Valgrind's tool headers missing?)"
	exit 0
fi
if ! valgrind --version >/dev/null 2>&1 || [ ! -e "$DIR/lackey-amd64-linux" ]; then
	echo "1..0 # SKIP valgrind (with lackey) is not installed"
	exit 0
fi
DIR=$(cd "$DIR" && pwd)
V=$(cd "$(dirname "$V")" && pwd)/$(basename "$V")
CAP=$(cd "$(dirname "$CAP")" && pwd)/$(basename "$CAP")
NORM=$(pwd)/tests/vgtool/norm.awk
LOST=$(pwd)/tests/vgtool/lost.awk
T=$(mktemp -d /tmp/vmlab-vglackey.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/work"
HAVE_CC=0
mkdir "$T/bin"
if command -v cc >/dev/null 2>&1 && cc -O1 -o "$T/bin/sigtramp" tests/vgtool/progs/sigtramp.c; then
	HAVE_CC=1
fi
cd "$T/work"
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
# One environment for both, in the order the capture builds it
# (VALGRIND_LIB first): the client's stack holds it.
ENV=(env -i VALGRIND_LIB="$DIR" PATH=/usr/bin:/bin VMLAB_VGTOOL_DIR="$DIR")
awk 'BEGIN { srand(7); for (i = 0; i < 600; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' > "$T/work/in.txt"

# The replay summary with pids renamed in order of appearance.
json() {
	(cd "$(dirname "$1")" && "$V" replay --json "$(basename "$1")") | awk '
		/"(pid|parent)": [1-9]/ { p = $2; sub(/,$/, "", p)
			if (!(p in num)) num[p] = ++k
			sub(/[0-9]+/, "P" num[p]) }
		{ print }'
}
key() { awk -v k="\"$1\":" '$1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$2"; }

# capture NAME PROG ARGS...: one run under lackey and one under the tool.
# $T/NAME.lk.vmt and .vg.vmt, their normalised texts .lk and .vg, the
# lost calls .lost; conv, cap: the statuses; t0..t3 the times.
capture() {
	local name=$1; shift
	rm -rf "$T/$name" "$T/$name".*
	mkdir -p "$T/$name" "$T/$name.l" "$T/$name.v" "$T/$name.e"
	t0=$(date +%s%N)
	"${ENV[@]}" valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --trace-children=yes \
		--log-file="$T/$name/x.%p.%n.log" "$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	"${ENV[@]}" valgrind -d --tool=lackey --trace-children=yes --log-file=/dev/null "$@" \
		>/dev/null 2>"$T/$name.stderr"
	local root=$(ls "$T/$name" | sort -t. -k3,3n -k2,2n | head -1)
	"$V" convert --stats --maps "$T/$name.stderr" "$T/$name/$root" "$T/$name.l/t.vmt" 2>"$T/$name.stats"
	conv=$?
	t2=$(date +%s%N)
	"${ENV[@]}" "$CAP" "$T/$name.v/t.vmt" "$@" >/dev/null 2>"$T/$name.err"
	cap=$?
	t3=$(date +%s%N)
	"$V" convert "$T/$name.l/t.vmt" - | awk -f "$NORM" > "$T/$name.lk"
	"$V" convert "$T/$name.v/t.vmt" "$T/$name.vg.txt"
	awk -f "$NORM" "$T/$name.vg.txt" > "$T/$name.vg"
	awk -f "$LOST" "$T/$name"/*.log > "$T/$name.lost"
	lkbytes=$(cat "$T/$name"/* | wc -c)
	rm -rf "$T/$name"
}

# check NAME: the comparisons, into $T/NAME.res as "STATUS message" lines.
check() {
	local name=$1 r=$T/$name.res
	: > "$r"
	echo "$conv lackey's logs convert" >> "$r"
	echo "$cap the tool captures" >> "$r"
	# The lost calls: vmlab's reader counted as many as the logs show.
	local lost=$(awk '$1 == "async_lost" { gsub(",", "", $2); print $2 }' "$T/$name.stats")
	local found=$(grep -c '^LOST' "$T/$name.lost")
	[ "${lost:-0}" = "$found" ] && ! grep -q '^UNKNOWN' "$T/$name.lost"
	echo "$? the reader's async_lost (${lost:-0}) is the logs' lost completions ($found$(grep '^UNKNOWN' "$T/$name.lost" | tr '\n' ' '))" >> "$r"
	# The traces: the tool's has lines lackey's has not only where they
	# are writes of lost calls, each at most once; lackey's has none more.
	diff "$T/$name.lk" "$T/$name.vg" > "$T/$name.diff"
	local extra=$(grep -c '^>' "$T/$name.diff")
	awk '
		FILENAME == ARGV[1] { if ($1 == "WRITE") { $1 = ""; allowed[substr($0, 2)]++ } next }
		/^</ { bad = 1 }
		/^>/ { l = substr($0, 3); sub(/^P[0-9]+: /, "", l); if (allowed[l]-- <= 0) bad = 1 }
		END { exit bad }' "$T/$name.lost" "$T/$name.diff"
	local st=$? but=
	[ "$extra" = 0 ] || but=", but $extra more lines in the tool's, each a kernel write of a lost completion"
	echo "$st the same events in the same order, page by page ($(wc -l < "$T/$name.vg") lines)$but" >> "$r"
	# The replays.  The tool's trace without those lines (found by diff's
	# line numbers) must replay as lackey's, every key.
	awk '/^[0-9]+a[0-9]+(,[0-9]+)?$/ { split(substr($0, index($0, "a") + 1), r, ",")
		for (i = r[1]; i <= (2 in r ? r[2] : r[1]); i++) print i; delete r }' "$T/$name.diff" > "$T/$name.del"
	awk 'FILENAME == ARGV[1] { del[$1] = 1; next } !(FNR in del)' "$T/$name.del" "$T/$name.vg.txt" > "$T/$name.e/t.txt"
	"$V" convert "$T/$name.e/t.txt" "$T/$name.e/t.vmt"
	json "$T/$name.l/t.vmt" > "$T/$name.lk.json"
	json "$T/$name.v/t.vmt" > "$T/$name.vg.json"
	json "$T/$name.e/t.vmt" > "$T/$name.e.json"
	[ -s "$T/$name.lk.json" ] && cmp -s "$T/$name.lk.json" "$T/$name.e.json"
	st=$?
	if [ "$extra" = 0 ]; then
		echo "$st vmlab replay --json: every key equal ($(wc -l < "$T/$name.lk.json") lines)" >> "$r"
	else
		echo "$st vmlab replay --json: every key equal ($(wc -l < "$T/$name.lk.json") lines) once the $extra writes are taken out of the tool's trace" >> "$r"
	fi
	local dk=$(( $(key kernel_write "$T/$name.vg.json") - $(key kernel_write "$T/$name.lk.json") ))
	[ "$dk" = "$extra" ]
	echo "$? with them, the tool's replay has $dk more kernel writes ($extra expected)" >> "$r"
	if [ "$name" = sigtramp ]; then
		# Three handlers returned through Valgrind's rt_sigreturn stub.
		local lt=$(grep -c ' X page0x58000 ' <(sed 's/^/ /' "$T/$name.lk"))
		local vt=$(grep -c ' X page0x58000 ' <(sed 's/^/ /' "$T/$name.vg"))
		[ "$lt" -ge 3 ] && [ "$lt" = "$vt" ]
		echo "$? the handlers' returns run in the trampoline, at 0x58000000 in both traces ($lt and $vt fetch records)" >> "$r"
	fi
}

# compare NAME PROG ARGS...  A program whose work depends on timing (a
# shell racing its child's SIGCHLD) may do different work in the two runs;
# that is the program, not the tool: up to three pairs of runs are made,
# and the checks must all hold for one of them.
compare() {
	local name=$1 try
	for try in 1 2 3; do
		capture "$@"
		check "$name"
		grep -qv '^0 ' "$T/$name.res" || break
		[ $try -lt 3 ] && echo "# $name: run $try differs, again (the program's timing)"
	done
	while read -r st msg; do ok "$st" "$name: $msg"; done < "$T/$name.res"
	if [ -s "$T/$name.diff" ]; then
		head -5 "$T/$name.diff" | sed 's/^/# /'
		echo "# $name: the replays differ in: $(diff "$T/$name.lk.json" "$T/$name.vg.json" |
			awk '/^>/ { printf "%s ", $2 $3 }')"
	fi
	grep -v '^0 ' "$T/$name.res" >/dev/null && diff "$T/$name.lk.json" "$T/$name.e.json" | head -6 | sed 's/^/# /'
	echo "# $name: lackey $(( (t1 - t0) / 1000000 )) ms, tool $(( (t3 - t2) / 1000000 )) ms;" \
		"lackey logs $lkbytes bytes, tool trace $(stat -c %s "$T/$name.v/t.vmt") bytes"
	rm -rf "$T/$name".*
}

compare true /bin/true
compare sh sh -c 'ls / > /dev/null; true'
compare path sh -c 'PATH=/nonexistent:/usr/bin; ls / > /dev/null'
compare sort sort in.txt
compare gzip gzip -c in.txt
if [ $HAVE_CC = 1 ]; then
	compare sigtramp "$T/bin/sigtramp"
fi
if [ "${VMLAB_TEST_LONG:-0}" = 1 ]; then
	compare ls ls -l /usr/bin
	# Python salts its string hashes with random bytes at each start: the
	# same program does other work in each run unless the seed is fixed.
	ENV+=(PYTHONHASHSEED=0)
	compare python python3 -c 'print(sum(range(1000)))'
fi

echo "1..$n"
[ $fails -eq 0 ]
