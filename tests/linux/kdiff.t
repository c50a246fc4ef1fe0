#!/bin/sh
# The differential test of vmlab against this machine's Linux kernel
# (docs/differential.md): the case files, then 1,000 random sequences
# (100,000 under `make test-long`, which sets VMLAB_TEST_LONG).
K=${KDIFF:?KDIFF must name the kdiff binary}
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
	echo "1..0 # SKIP the differential test needs Linux on x86-64"
	exit 0
fi
D=$(dirname "$0")
exec "$K" --host-check 50 --cases "$D/cases" --known "$D/known-differences"
