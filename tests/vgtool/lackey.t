#!/usr/bin/env bash
# The tool against lackey: for the same program, input, environment and
# directory, vmlab's Valgrind tool and lackey (--trace-mem=yes
# --trace-syscalls=yes, its logs converted with `vmlab convert --maps`) must
# give the same accesses per page and kind, per process, and the same other
# events in the same order (tests/vgtool/pages.awk says what is compared).
#
# Known differences, allowed here and explained in docs/vgtool.md:
#  - descriptor numbers (lackey's log file takes descriptor 3 in the client);
#  - the tool segment's address (the trampoline inside each tool): compared
#    as sums;
#  - kernel writes of blocking calls that a signal interrupted after they
#    completed (dash's wait4 and SIGCHLD): lackey prints no completion line
#    and its reader counts them as async_lost; the tool's post-syscall hook
#    sees them.  The tool may have more kernel writes, at most 2 per lost
#    completion (wait4 writes the status and the rusage).
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
AWK=$(pwd)/tests/vgtool/pages.awk
T=$(mktemp -d /tmp/vmlab-vglackey.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/work"
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

# capture NAME PROG ARGS...: one run under lackey and one under the tool,
# reduced to $T/NAME.lk and $T/NAME.vg; conv and cap keep the statuses of
# the conversion and the capture, t0..t3 the times.
capture() {
	local name=$1; shift
	rm -rf "$T/$name" "$T/$name.lk.vmt" "$T/$name.vg.vmt"
	mkdir "$T/$name"
	t0=$(date +%s%N)
	"${ENV[@]}" valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --trace-children=yes \
		--log-file="$T/$name/x.%p.%n.log" "$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	"${ENV[@]}" valgrind -d --tool=lackey --trace-children=yes --log-file=/dev/null "$@" \
		>/dev/null 2>"$T/$name.stderr"
	local root=$(ls "$T/$name" | sort -t. -k3,3n -k2,2n | head -1)
	"$V" convert --stats --maps "$T/$name.stderr" "$T/$name/$root" "$T/$name.lk.vmt" 2>"$T/$name.stats"
	conv=$?
	t2=$(date +%s%N)
	"${ENV[@]}" "$CAP" "$T/$name.vg.vmt" "$@" >/dev/null 2>"$T/$name.err"
	cap=$?
	t3=$(date +%s%N)
	"$V" convert "$T/$name.lk.vmt" - | awk -f "$AWK" > "$T/$name.lk"
	"$V" convert "$T/$name.vg.vmt" - | awk -f "$AWK" > "$T/$name.vg"
}

# compare NAME PROG ARGS...  A program whose work depends on timing (a
# shell racing its child's SIGCHLD) may do different work in the two runs;
# that is the program, not the tool: up to three pairs of runs are made,
# and the checks below must hold exactly for one of them.
compare() {
	local name=$1 try
	for try in 1 2 3; do
		capture "$@"
		if diff -q <(grep '^[AE]' "$T/$name.lk") <(grep '^[AE]' "$T/$name.vg") >/dev/null; then
			break
		fi
		[ $try -lt 3 ] && echo "# $name: run $try differs, again (the program's timing)"
	done
	shift
	ok $conv "$name: lackey's logs convert"
	ok $cap "$name: the tool captures"
	diff <(grep '^A' "$T/$name.lk") <(grep '^A' "$T/$name.vg") > "$T/$name.diff"
	local same=$?
	ok $same "$name: the same accesses per process, page and kind ($(grep -c '^A' "$T/$name.vg") pages)"
	[ $same -eq 0 ] || head -5 "$T/$name.diff" | sed 's/^/# /'
	diff <(grep '^T' "$T/$name.lk") <(grep '^T' "$T/$name.vg") >/dev/null
	ok $? "$name: the same accesses to the tool's trampoline"
	diff <(grep '^E' "$T/$name.lk") <(grep '^E' "$T/$name.vg") > "$T/$name.ediff"
	same=$?
	ok $same "$name: the same maps, system calls, forks, execs and exits, in order ($(grep -c '^E' "$T/$name.vg"))"
	[ $same -eq 0 ] || head -5 "$T/$name.ediff" | sed 's/^/# /'
	local lost=$(awk '$1 == "async_lost" { gsub(",", "", $2); print $2 }' "$T/$name.stats")
	awk -v lost="${lost:-0}" '
		FNR == NR && $1 == "K" { lk[$2 " " $3] = $4; next }
		$1 == "K" { vg[$2 " " $3] = $4 }
		END {
			for (k in lk) if (!(k in vg) || vg[k] < lk[k]) bad = 1
			for (k in vg) extra += vg[k] - lk[k]
			exit bad || extra > 2 * lost
		}' "$T/$name.lk" "$T/$name.vg"
	ok $? "$name: the same kernel writes, or more by at most 2 per completion lackey lost (${lost:-0})"
	echo "# $name: lackey $(( (t1 - t0) / 1000000 )) ms, tool $(( (t3 - t2) / 1000000 )) ms;" \
		"lackey logs $(cat "$T/$name"/* | wc -c) bytes, tool trace $(stat -c %s "$T/$name.vg.vmt") bytes"
	rm -rf "$T/$name"
}

compare true /bin/true
compare sh sh -c 'ls / > /dev/null; true'
compare path sh -c 'PATH=/nonexistent:/usr/bin; ls / > /dev/null'
compare sort sort in.txt
compare gzip gzip -c in.txt
if [ "${VMLAB_TEST_LONG:-0}" = 1 ]; then
	compare ls ls -l /usr/bin
	compare python python3 -c 'print(sum(range(1000)))'
fi

echo "1..$n"
[ $fails -eq 0 ]
