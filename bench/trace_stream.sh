#!/usr/bin/env bash
# End-to-end time of `vmlab trace` (capture under vmlab's Valgrind tool,
# replay, summary) on `ls -l /usr/bin`, `sort` of a 20,000-line file and
# the same sort forked by a shell (`sh -c 'sort FILE | wc -l'`),
# against floors measured in the same run: the capture alone
# (tests/vgtool/vgtool_capture --level 0: the tool and the join into a
# plain file, no replay) and `vmlab replay` of the saved trace (replay
# alone).  Replaying while the program runs, trace should approach the
# larger floor rather than their sum, given two free CPUs.  OLD=PATH/vmlab
# adds another build's `vmlab trace` (one that replays after the capture)
# for a ratio.  Runs are interleaved, REPS each (default 5); the medians of
# wall time and of CPU time (user + system, children included) are
# printed: CPU / wall above 1 is the overlap; on a host whose CPUs are
# busy with other work there is no second CPU to overlap on.
set -u
V=${V:-build/release/vmlab}
CAP=${CAP:-$(dirname "$V")/tests/vgtool/vgtool_capture}
OLD=${OLD:-}
REPS=${1:-5}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
seq 20000 | awk '{ srand($1); print int(rand() * 1e9) " line " $1 }' > "$T/sort.in"
export VMLAB_VGTOOL_DIR=$(dirname "$V")/vgtool

# measure FILE CMD...: appends "wall cpu" of CMD (its output discarded).
measure() {
	local f=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$T/time" "$@" > /dev/null 2>&1
	awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$T/time" >> "$f"
}
# med FILE COLUMN
med() { awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for w in ls sort sh; do
	case $w in
	ls) prog=(ls -l /usr/bin) ;;
	sort) prog=(sort "$T/sort.in") ;;
	sh) prog=(sh -c "sort $T/sort.in | wc -l") ;;
	esac
	"$V" trace --stdout /dev/null --save "$T/$w.vmt" -- "${prog[@]}" > /dev/null 2>&1
	for k in new old cap rp; do : > "$T/$w.$k"; done
	for ((i = 0; i < REPS; i++)); do
		measure "$T/$w.new" "$V" trace --stdout /dev/null -- "${prog[@]}"
		[ -n "$OLD" ] && measure "$T/$w.old" "$OLD" trace --stdout /dev/null -- "${prog[@]}"
		measure "$T/$w.cap" "$CAP" --level 0 "$T/$w.cap.vmt" "${prog[@]}"
		measure "$T/$w.rp" "$V" replay "$T/$w.vmt"
	done
	awk -v w=$w -v n="$(med "$T/$w.new" 1)" -v nc="$(med "$T/$w.new" 2)" \
	    -v c="$(med "$T/$w.cap" 1)" -v cc="$(med "$T/$w.cap" 2)" \
	    -v r="$(med "$T/$w.rp" 1)" -v rc="$(med "$T/$w.rp" 2)" 'BEGIN {
		m = c > r ? c : r
		printf "%-4s trace %.2f s (cpu %.2f s) | capture alone %.2f s (cpu %.2f), replay alone " \
		       "%.2f s (cpu %.2f) | trace / max %.2f, trace / sum %.2f\n",
		       w, n, nc, c, cc, r, rc, n / m, n / (c + r) }'
	if [ -n "$OLD" ]; then
		awk -v w=$w -v n="$(med "$T/$w.new" 1)" -v o="$(med "$T/$w.old" 1)" \
		    -v oc="$(med "$T/$w.old" 2)" 'BEGIN {
			printf "%-4s OLD trace %.2f s (cpu %.2f s): new / old %.2f\n", w, o, oc, n / o }'
	fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
