#!/usr/bin/env bash
# The vmlab command line: help, exit codes, error messages, JSON, determinism.
set -u
V=${VMLAB:?VMLAB must name the vmlab binary}
n=0
fails=0
ok() {   # ok CONDITION-EXIT-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi
}
# run CMD...: sets $out, $err, $rc
run() {
	out=$("$@" 2>/tmp/vmlab-cli-err.$$); rc=$?
	err=$(cat /tmp/vmlab-cli-err.$$); rm -f /tmp/vmlab-cli-err.$$
}
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
json_ok() { printf '%s' "$1" | perl -MJSON::PP -e 'local $/; decode_json(<STDIN>)' 2>/dev/null; }

run "$V" --help;            ok $rc "--help exits 0"
has "$out" "pattern";       ok $? "--help lists the pattern command"
run "$V";                   [ $rc -eq 2 ]; ok $? "no command exits 2"
run "$V" frobnicate;        [ $rc -eq 2 ]; ok $? "an unknown command exits 2"
has "$err" "vmlab: frobnicate: unknown command"; ok $? "and says so: $err"
run "$V" --version;         ok $rc "--version"

for c in pattern config list stats help; do
	run "$V" $c --help;  ok $rc "vmlab $c --help exits 0"
	has "$out" "usage: vmlab"; ok $? "vmlab $c --help prints usage"
done
run "$V" help pattern;      has "$out" "--footprint"; ok $? "vmlab help pattern shows its options"

run "$V" config
ok $rc "config exits 0"
has "$out" "phys         = 1G"; ok $? "config shows phys = 1G"
has "$out" "one of: radix4 radix5"; ok $? "config lists the choices of pt"
run "$V" config --set phys=256M --set tlb=skylake
has "$out" "phys         = 256M" && has "$out" "(default 1G)"; ok $? "config shows a changed value and its default"
run "$V" config --json;     json_ok "$out"; ok $? "config --json is valid JSON"
run "$V" config --set phys=12Q; [ $rc -eq 2 ]; ok $? "a bad --set exits 2"
has "$err" "vmlab config: --set: phys=12Q: not a size"; ok $? "and names the setting: $err"
run "$V" config --set phy=1G; has "$err" "did you mean 'phys'"; ok $? "a misspelt key gets a suggestion"
run "$V" config --config /nonexistent.conf; [ $rc -eq 2 ]; ok $? "a missing config file exits 2"
has "$err" "/nonexistent.conf"; ok $? "and names the file: $err"
printf 'phys=1G\ncpus=zero\n' > /tmp/vmlab-cli-$$.conf
run "$V" config --config /tmp/vmlab-cli-$$.conf; rm -f /tmp/vmlab-cli-$$.conf
has "$err" "vmlab-cli-$$.conf:2: cpus=zero: not a whole number"; ok $? "a bad config line is reported as FILE:LINE: $err"

run "$V" list tlbs
ok $rc "list tlbs exits 0"
for p in skylake golden-cove zen4 none; do has "$out" "$p"; ok $? "list tlbs shows $p"; done
run "$V" list tlbs --json;  json_ok "$out"; ok $? "list tlbs --json is valid JSON"
run "$V" list pts;          has "$out" "radix5"; ok $? "list pts shows radix5"
run "$V" list;              [ $rc -eq 2 ]; ok $? "list without a topic exits 2"
run "$V" list fish;         [ $rc -eq 2 ] && has "$err" "fish: unknown list"; ok $? "list of an unknown topic exits 2"
run "$V" stats --list
for c in tlb_l1d_miss walks walk_refs pf_not_present invlpg; do has "$out" "$c"; ok $? "stats --list describes $c"; done
run "$V" stats --list --json; json_ok "$out"; ok $? "stats --list --json is valid JSON"
run "$V" stats;             [ $rc -eq 2 ]; ok $? "stats without --list exits 2"

run "$V" pattern --footprint 12Q; [ $rc -eq 2 ] && has "$err" "--footprint: '12Q' is not a size"; ok $? "a bad --footprint exits 2 and names the option"
run "$V" pattern --bogus;  [ $rc -eq 2 ] && has "$err" "--bogus: unknown option"; ok $? "an unknown option exits 2"
run "$V" pattern -x;       [ $rc -eq 2 ]; ok $? "a short option exits 2"
run "$V" pattern --accesses; [ $rc -eq 2 ] && has "$err" "--accesses needs a value"; ok $? "a missing value exits 2"
run "$V" pattern --pattern zigzag; [ $rc -eq 2 ] && has "$err" "zigzag"; ok $? "an unknown pattern exits 2"
run "$V" pattern --page-size 8K; [ $rc -eq 2 ] && has "$err" "'8K' is not 4K, 2M or 1G"; ok $? "an unknown page size exits 2"
run "$V" pattern --writes 101; [ $rc -eq 2 ]; ok $? "a write percentage above 100 exits 2"
run "$V" pattern --set phys=1M --footprint 64M; [ $rc -eq 1 ] && has "$err" "too small"; ok $? "a footprint larger than memory exits 1 and says why: $err"

run "$V" pattern --footprint 64M --accesses 50000 --page-size 4K,2M
ok $rc "pattern runs"
first=$out
run "$V" pattern --footprint 64M --accesses 50000 --page-size 4K,2M
[ "$out" = "$first" ]; ok $? "pattern output is byte-identical across runs (same seed)"
run "$V" pattern --footprint 64M --accesses 50000 --page-size 4K,2M --set seed=7
[ "$out" != "$first" ]; ok $? "another seed gives another random stream"
run "$V" pattern --footprint 8M --accesses 1000 --json; json_ok "$out"; ok $? "pattern --json is valid JSON"

echo "1..$n"
exit $((fails > 0))
