#!/usr/bin/env bash
# vmlab policy and vmlab list policies: textbook fault counts through the
# command line, steps, JSON, miss-ratio curves (CSV, SVG), bad input, and
# OSTEP paging-policy.py compatibility (outputs worked out by hand from the
# script's rules and CPython's random numbers: see test_policy_ostep.c).
set -u
. "$(dirname "$0")/lib.sh" policy-t
json_ok() { printf '%s' "$1" | perl -MJSON::PP -e 'local $/; decode_json(<STDIN>)' 2>/dev/null; }
# misses POLICY FRAMES REFS: the misses from --json
misses() {
	"$V" policy --refs "$3" --frames "$2" --policy "$1" --json |
		perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{results}[0]{misses}'
}

BELADY=1,2,3,4,1,2,5,1,2,3,4,5
SILB=7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1

run "$V" policy --help;     ok $rc "policy --help exits 0"
has "$out" "--frames";      ok $? "and describes --frames"
run "$V" list policies
ok $rc "list policies exits 0"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 15 ]; ok $? "one line for each of the 15 policies"
for p in fifo second-chance clock nru lru lfu mru random opt wsclock aging linux arc sieve s3fifo; do
	printf '%s\n' "$out" | grep -q "^$p "; ok $? "list policies names $p"
done
has "$out" "A/D bits" && has "$out" "every access"; ok $? "and says what each sees"
run "$V" list policies --json; json_ok "$out"; ok $? "list policies --json is valid JSON"

[ "$(misses fifo 3 $BELADY)" = 9 ];  ok $? "Belady: FIFO with 3 frames, 9 faults"
[ "$(misses fifo 4 $BELADY)" = 10 ]; ok $? "Belady: FIFO with 4 frames, 10 faults"
[ "$(misses fifo 3 $SILB)" = 15 ];   ok $? "Silberschatz: FIFO 15 faults"
[ "$(misses lru 3 $SILB)" = 12 ];    ok $? "Silberschatz: LRU 12 faults"
[ "$(misses opt 3 $SILB)" = 9 ];     ok $? "Silberschatz: OPT 9 faults"

run "$V" policy --refs $BELADY --frames 3,4 --policy fifo
has "$out" "12 references, 5 distinct pages"; ok $? "the summary counts references and pages"
printf '%s\n' "$out" | grep -Eq '^fifo +3 +3 +9 +25\.00%'; ok $? "fifo 3 frames: 3 hits, 9 misses, 25.00%"
printf '%s\n' "$out" | grep -Eq '^fifo +4 +2 +10 +16\.67%'; ok $? "fifo 4 frames: 2 hits, 10 misses"

run "$V" policy --refs 1,2,3,4,2,5 --frames 3 --policy clock --steps
ok $rc "--steps runs"
printf '%s\n' "$out" | grep -Eq '^ +4 +4 +miss +1 +2 3 4\(A\)$'; ok $? "step 4: 4 misses, evicts 1, memory from the hand 2 3 4(A)"
printf '%s\n' "$out" | grep -Eq '^ +6 +5 +miss +3 +4\(A\) 2 5\(A\)$'; ok $? "step 6: 5 evicts 3 after the hand cleared 2"
run "$V" policy --refs 1,2w,3,4 --frames 2 --policy fifo --steps
printf '%s\n' "$out" | grep -Eq '^ +2 +2w +miss +- '; ok $? "a write shows as 2w"
has "$out" "1 writebacks"; ok $? "evicting the dirty page 2 is a write-back"
run "$V" policy --refs $SILB --frames 3 --policy lru,opt --steps --json
json_ok "$out"; ok $? "--steps --json is valid JSON"
printf '%s' "$out" | perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
	my $s = $d->{results}[1]{steps}; exit !(@$s == 20 && $d->{results}[1]{misses} == 9 &&
	$s->[3]{evicted}[0] == 7 && $d->{results}[0]{policy} eq "lru")'
ok $? "the JSON steps: 20 of them, OPT evicts 7 first, 9 misses"

run "$V" policy --refs $SILB --frames 3 --policy random,nru --seed 4
first=$out
run "$V" policy --refs $SILB --frames 3 --policy random,nru --seed 4
[ "$out" = "$first" ]; ok $? "the same seed gives byte-identical output"
for s in 1 2 3 5 6 7 8 9; do
	run "$V" policy --refs $SILB,3,5,6,3,5,2,7,5,1,6 --frames 3 --policy random --seed $s
	[ "$out" != "$first" ] && break
done
[ "$out" != "$first" ]; ok $? "another seed, another random run"

printf '# a page file\n4096 8192w, 4097\n0x1000  # the same page again\n' > "$T/addrs"
run "$V" policy "$T/addrs" --page-size 4K --frames 1 --policy lru --json
printf '%s' "$out" | perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
	exit !($d->{distinct_pages} == 2 && $d->{results}[0]{hits} == 1 && $d->{results}[0]{writebacks} == 1)'
ok $? "addresses with --page-size 4K: pages 1 2w 1 1 in one frame: one hit, one write-back"
printf '1 2 3 1 2\n' | "$V" policy - --frames 2 --policy lru,clock,linux >/dev/null
ok $? "references from a pipe (-) for policies that need no future"
printf '1 2 3 1 2\n' > "$T/refs"
run "$V" policy "$T/refs" --frames 2 --policy opt; ok $rc "opt reads a file twice"

# Miss-ratio curves.
run "$V" policy --mrc --refs $BELADY --policy lru,fifo,opt --csv "$T/c.csv" --svg "$T/c.svg"
ok $rc "--mrc with --csv and --svg"
[ "$(sed -n 4p "$T/c.csv")" = "3,10,0.833333,9,0.750000,7,0.583333" ]; ok $? "CSV at 3 frames: LRU 10, FIFO 9, OPT 7"
[ "$(sed -n 5p "$T/c.csv")" = "4,8,0.666667,10,0.833333,6,0.500000" ]; ok $? "CSV at 4 frames: FIFO's anomaly, 10"
[ "$(wc -l < "$T/c.csv")" -eq 6 ]; ok $? "CSV: a header and sizes 1..5 (the footprint)"
head -c 4 "$T/c.svg" | grep -q '<svg' && tail -1 "$T/c.svg" | grep -q '</svg>'; ok $? "the SVG is a whole document"
[ "$(grep -c '<polyline' "$T/c.svg")" -eq 3 ]; ok $? "one line per policy in the SVG"
if command -v python3 >/dev/null; then
	python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$T/c.svg"
	ok $? "the SVG is well-formed XML"
fi
run "$V" policy --mrc --refs $SILB --policy lru --json; json_ok "$out"; ok $? "--mrc --json is valid JSON"
printf '%s' "$out" | perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
	exit !($d->{curves}[0]{misses}[2] == 12 && $d->{footprint} == 6)'
ok $? "LRU curve at 3 frames: 12 (Silberschatz), footprint 6"
seq 1 3000 | awk '{ print ($1 * 7919) % 500 }' > "$T/long"
run "$V" policy --mrc "$T/long" --policy lru,clock --mrc-step 5 --csv "$T/l.csv"
ok $rc "--mrc-step thins the sweep"
has "$out" "every" ; ok $? "and the text shows a sample of the sizes"
printf '1 2 3\n' | "$V" policy - --mrc --policy lru >/dev/null; ok $? "an LRU-only curve reads a pipe once"

# Bad input: clear message, non-zero exit.
run "$V" policy --refs 1,2 --frames 2 --policy bogus
[ $rc -eq 2 ] && has "$err" "bogus: unknown policy"; ok $? "unknown policy: exit 2, named: $err"
: > "$T/empty"
run "$V" policy --refs 1,2 --frames 2 --policy fifo,,lru
[ $rc -eq 2 ] && has "$err" "--policy"; ok $? "an empty name in --policy: exit 2: $err"
run "$V" policy "$T/empty" --frames 2 --steps --json
[ $rc -eq 1 ] && [ -z "$out" ] && has "$err" "no references"; ok $? "--steps --json of nothing: exit 1, no half document"
run "$V" policy --refs 1,2 --frames 0
[ $rc -eq 2 ] && has "$err" "--frames"; ok $? "zero frames: exit 2: $err"
run "$V" policy --refs "" --frames 2
[ $rc -eq 1 ] && has "$err" "no references"; ok $? "an empty reference string: exit 1: $err"
run "$V" policy "$T/empty" --frames 2
[ $rc -eq 1 ] && has "$err" "no references"; ok $? "an empty file: exit 1"
run bash -c "printf '1 2 3\n' | '$V' policy - --frames 2 --policy opt"
[ $rc -eq 1 ] && has "$err" "not a pipe"; ok $? "opt on a pipe: exit 1: $err"
printf '1 2\n3 x4 5\n' > "$T/bad"
run "$V" policy "$T/bad" --frames 2
[ $rc -eq 1 ] && has "$err" "bad:2: 'x4' is not a page number"; ok $? "a bad token: FILE:LINE: $err"
run "$V" policy "$T/nonexistent" --frames 2
[ $rc -eq 1 ] && has "$err" "nonexistent"; ok $? "a missing file: exit 1"
run "$V" policy --refs 99999999999999999999 --frames 2
[ $rc -eq 1 ] && has "$err" "too large"; ok $? "a number over 64 bits: exit 1"
run "$V" policy --refs 1 --frames 2 --swappiness 201
[ $rc -eq 2 ]; ok $? "--swappiness 201: exit 2"
for p in lru fifo; do
	run "$V" policy --mrc --refs 1,2 --policy $p --mrc-max 99999999999
	[ $rc -eq 2 ] && has "$err" "--mrc-max"; ok $? "--mrc-max over the limit, $p: exit 2: $err"
done
for o in --mrc-max --mrc-step; do
	run "$V" policy --mrc --refs 1,2 --policy lru $o 0
	[ $rc -eq 2 ] && has "$err" "$o: '0' is not a whole number from 1"; ok $? "$o 0: exit 2: $err"
done
run "$V" policy --refs 1 --csv x.csv --frames 2
[ $rc -eq 2 ] && has "$err" "--mrc"; ok $? "--csv without --mrc: exit 2"

# OSTEP paging-policy.py.
run "$V" policy --ostep -s 10 -n 3
expect='ARG addresses -1
ARG addressfile 
ARG numaddrs 3
ARG policy FIFO
ARG clockbits 2
ARG cachesize 3
ARG maxpage 10
ARG seed 10
ARG notrace False

Assuming a replacement policy of FIFO, and a cache of size 3 pages,
figure out whether each of the following page references hit or miss
in the page cache.

Access: 5  Hit/Miss?  State of Memory?
Access: 4  Hit/Miss?  State of Memory?
Access: 5  Hit/Miss?  State of Memory?'
[ $rc -eq 0 ] && [ "$out" = "$expect" ]; ok $? "--ostep -s 10 -n 3: the README's problem (5 4 5)"
run "$V" policy --ostep -s 10 -n 3 -c
expect='Solving...

Access: 5  MISS FirstIn ->          [5] <- Lastin  Replaced:- [Hits:0 Misses:1]
Access: 4  MISS FirstIn ->       [5, 4] <- Lastin  Replaced:- [Hits:0 Misses:2]
Access: 5  HIT  FirstIn ->       [5, 4] <- Lastin  Replaced:- [Hits:1 Misses:2]

FINALSTATS hits 1   misses 2   hitrate 33.33'
[ "$(printf '%s\n' "$out" | tail -n +11)" = "$expect" ]; ok $? "--ostep -s 10 -n 3 -c: the README's answer"
run "$V" policy --ostep -p CLOCK -s3 -n 12 -m 6 -cN
expect='FINALSTATS hits 6   misses 6   hitrate 50.00'
[ "$(printf '%s\n' "$out" | grep FINALSTATS)" = "$expect" ]; ok $? "CLOCK seed 3 (-s3 -cN clustered): 6 hits, as traced by hand"
run "$V" policy --ostep --policy=CLOCK --seed=3 --numaddrs 12 --maxpage=6 --comp
printf '%s\n' "$out" | grep -q '^Access: 0  MISS Left  ->    \[1, 2, 0\] <- Right Replaced:3 \[Hits:2 Misses:4\]$'
ok $? "--policy= --seed= and --comp (an abbreviation): CLOCK evicts 3 at the sixth access"
printf '%s\n' "$out" | grep -q '^Access: 2  MISS Left  ->    \[1, 0, 2\] <- Right Replaced:5 \[Hits:6 Misses:6\]$'
ok $? "and 5 at the last"
run "$V" policy --ostep -C 4 -a $BELADY -c
printf '%s\n' "$out" | grep -q '^FINALSTATS hits 2   misses 10   hitrate 16.67$'; ok $? "--ostep -C 4 on Belady's string: 10 misses"
run "$V" policy --ostep -p MRU -a 1,2,3,1 -C 2 -c
printf '%s\n' "$out" | grep -q '^Access: 1  HIT  LRU ->       \[3, 1\] <- MRU Replaced:- \[Hits:1 Misses:3\]$'
ok $? "MRU: evicts the last page; a hit moves the page to the MRU end"
run "$V" policy --ostep -p LFU -c
[ $rc -eq 1 ] && has "$out" "Policy LFU is not yet implemented"; ok $? "an unknown policy: the script's message, exit 1"
has "$err" "-p/--policy: 'LFU' is not a policy"; ok $? "and on stderr, naming the option: $err"
run "$V" policy --ostep -p fifo -a 1 -c
[ $rc -eq 1 ] && has "$err" "'fifo' is not a policy"; ok $? "policy names are upper case, as in the script"
printf '3\n4\r\n 2 \n' > "$T/ostep-file"
run "$V" policy --ostep -f "$T/ostep-file" -c -C 2
printf '%s\n' "$out" | grep -q '^Access: 2  MISS FirstIn ->       \[4, 2\] <- Lastin  Replaced:3'; ok $? "-f reads one integer a line"
run "$V" policy --ostep -x;       [ $rc -eq 2 ] && has "$err" "no such option: -x"; ok $? "--ostep -x: exit 2"
run "$V" policy --ostep --c;      [ $rc -eq 2 ] && has "$err" "ambiguous option: --c"; ok $? "--ostep --c is ambiguous"
run "$V" policy --ostep -s;       [ $rc -eq 2 ] && has "$err" "-s option requires 1 argument"; ok $? "--ostep -s without a value"
run "$V" policy --ostep -b x;     [ $rc -eq 2 ] && has "$err" "invalid integer value"; ok $? "--ostep -b x"
run "$V" policy --ostep -n x;     [ $rc -eq 1 ] && has "$err" "ValueError"; ok $? "--ostep -n x: exit 1 where the script raises"
run "$V" policy --ostep -a 1,,2 -c; [ $rc -eq 1 ]; ok $? "--ostep -a 1,,2: exit 1"
run "$V" policy --ostep -C 0 -a 1 -c; [ $rc -eq 1 ] && has "$err" "IndexError"; ok $? "--ostep -C 0: exit 1"
run "$V" policy --ostep -h;       [ $rc -eq 0 ] && has "$out" "--cachesize"; ok $? "--ostep -h"
run "$V" policy --ostep -s 7 -n 40 -p RAND -c
first=$out
run "$V" policy --ostep -s 7 -n 40 -p RAND -c
[ "$out" = "$first" ]; ok $? "--ostep RAND: the same seed, the same output"

done_testing
