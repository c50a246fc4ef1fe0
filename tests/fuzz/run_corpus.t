#!/usr/bin/env bash
# Replays every saved fuzz input (seeds and past crashers) through its target,
# built without libFuzzer: a crash or a sanitizer report fails the test.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BIN:?FUZZ_BIN must name the folder of fuzz-replay binaries}
n=0
for src in "$dir"/fuzz_*.c; do
	name=$(basename "$src" .c)
	n=$((n + 1))
	if out=$("$bin/$name" "$dir/corpus/$name" 2>&1); then
		echo "ok $n - $name replays its corpus ($out)"
	else
		echo "not ok $n - $name fails on its corpus"
		echo "$out" | sed 's/^/# /' | tail -20
	fi
done
echo "1..$n"
