#!/usr/bin/env bash
# Replay against the real kernel (docs/fidelity.md): for a handful of real
# programs, the minor faults and peak RSS of `vmlab trace` against the same
# program run natively (posix_spawn + wait4: tests/fidelity/spawn.c).  Slow
# (each program runs under Valgrind): only with VMLAB_TEST_LONG=1 (make
# test-long); skipped without Valgrind or a C compiler.
#
# Tolerances (fidelity.md has the measurements and the causes): a program
# that forks no child must land within 15 % of the native minor faults and
# peak RSS (measured: within 2 % for faults, 5 % for RSS; the 15 % leave
# room for a system whose libraries or locale files differ, each a few
# faults).  A shell that forks: 0 to 35 % more faults than native, because
# dash's vfork runs as a fork under Valgrind, so the children's writes
# before exec copy pages that natively they share (measured: 18 % more).
set -u
V=${VMLAB:?VMLAB must name the vmlab binary}
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
if [ "${VMLAB_TEST_LONG:-}" != 1 ]; then
	echo "1..0 # SKIP the fidelity runs are long: make test-long"
	exit 0
fi
if ! command -v valgrind > /dev/null || ! command -v "${CC:-cc}" > /dev/null; then
	echo "1..0 # SKIP needs valgrind and a C compiler"
	exit 0
fi
T=$(mktemp -d /tmp/vmlab-fidelity.XXXXXX)
trap 'rm -rf "$T"' EXIT
"${CC:-cc}" -O2 -o "$T/spawn" tests/fidelity/spawn.c || { echo "1..0 # SKIP cannot build spawn.c"; exit 0; }
seq 1 5000 | awk '{print ($1 * 7919) % 10007}' > "$T/nums.txt"
head -c 35000 /usr/bin/ls > "$T/gz.in"

# The replay's total minor faults and largest peak RSS (KiB) from its JSON.
replayed() {
	"$V" trace --json --stdout /dev/null --tmpdir "$T" -- "$@" < /dev/null 2> "$T/err" > "$T/out.json" || return 1
	awk '/"faults": \{/ { f = 1 } f && /"minor":/ { gsub(/[^0-9]/, ""); minor = $0; f = 0 }
	     /"rss_peak_bytes":/ { gsub(/[^0-9]/, ""); if ($0 + 0 > peak) peak = $0 + 0 }
	     END { print minor, int(peak / 1024) }' "$T/out.json"
}
# Native: the median of three runs of minor faults and peak RSS.
native() {
	for i in 1 2 3; do "$T/spawn" "$@" < /dev/null; done | sort -n | sed -n 2p
}
within() {   # within VALUE REFERENCE LOW% HIGH%
	awk -v v="$1" -v r="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v >= r * (1 + lo / 100) && v <= r * (1 + hi / 100)) }'
}
check() {    # check LOW% HIGH% PROGRAM ARGS
	local lo=$1 hi=$2
	shift 2
	local nat rep
	nat=$(native "$@")
	rep=$(replayed "$@") || { ok 1 "$* replays: $(cat "$T/err")"; ok 1 "(no figures)"; return; }
	set -- $nat $rep
	within "$4" "$1" "$lo" "$hi"; ok $? "minor faults: replay $4, native $1 (tolerance $lo % to $hi %)"
	within "$5" "$3" -15 15; ok $? "peak RSS: replay $5 KiB, native $3 KiB (tolerance 15 %)"
}
check -15 15 /bin/true
check -15 15 ls -l /usr/bin
check -15 15 sort "$T/nums.txt"
check -15 15 gzip -c "$T/gz.in"
check 0 35 sh -c 'ls /etc > /dev/null; /bin/true'
if [ -x /usr/bin/python3 ]; then
	check -15 15 /usr/bin/python3 -c 'print(sum(range(1000)))'
fi
echo "1..$n"
exit $((fails > 0))
