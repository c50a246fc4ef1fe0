#!/bin/sh
# The differential test of vmlab against this machine's Linux kernel
# (docs/differential.md): the case files, then 1,000 random sequences
# and 300 with fork steps (100,000 and 10,000 under `make test-long`,
# which sets VMLAB_TEST_LONG).
K=${KDIFF:?KDIFF must name the kdiff binary}
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
	echo "1..0 # SKIP the differential test needs Linux on x86-64"
	exit 0
fi
D=$(dirname "$0")
FORKS=300
[ -n "$VMLAB_TEST_LONG" ] && FORKS=10000
exec "$K" --host-check 50 --cases "$D/cases" --known "$D/known-differences" --fork-count $FORKS
