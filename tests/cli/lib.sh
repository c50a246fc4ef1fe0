# Shared setup for the tests/cli/*.t scripts that source it: the vmlab
# binary ($V), a scratch folder ($T, removed on exit), TAP counters and the
# helpers every script used to define for itself.  Source it with the
# script's short name: . "$(dirname "$0")/lib.sh" NAME
V=${VMLAB:?VMLAB must name the vmlab binary}
T=$(mktemp -d "/tmp/vmlab-${1:-cli}.XXXXXX")
trap 'rm -rf "$T"' EXIT
n=0
fails=0
# ok STATUS DESCRIPTION: one TAP line, "ok" when STATUS is 0.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
# run CMD...: $out is its stdout, $err its stderr, $rc its exit status.
run() {
	out=$("$@" 2>"$T/err"); rc=$?
	err=$(cat "$T/err")
}
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
# The number on the summary line that starts with label (digits, commas dropped).
fig() { echo "$out" | grep -m1 -E "^  $1 " | sed -E "s/^  $1 +//" | awk '{print $1}' | tr -d ,; }
# The plan line and the exit status: call last.
done_testing() {
	echo "1..$n"
	exit $((fails > 0))
}
