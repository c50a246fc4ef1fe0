#!/bin/sh
# exec in vmlab against exec on this machine's Linux kernel (docs/exec.md):
# maps, status, layout, registers and the initial stack of programs stopped
# at their first instruction under setarch -R, and the verdicts on damaged
# ELF files.
E=${EXECDIFF:?EXECDIFF must name the execdiff binary}
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
	echo "1..0 # SKIP the exec comparison needs Linux on x86-64"
	exit 0
fi
exec "$E"
