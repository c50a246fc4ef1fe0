#!/usr/bin/env bash
# vmlab convert: formats, standard input, gzip, round trips, exit codes and messages.
set -u
D=tests/trace/data
. "$(dirname "$0")/lib.sh" convert

run "$V" convert --help;  ok $rc "convert --help exits 0"
has "$out" "usage: vmlab convert IN OUT"; ok $? "and shows the usage"
run "$V" --help;          has "$out" "convert"; ok $? "vmlab --help lists convert"

run "$V" convert --stats $D/true.log.gz "$T/a.vmt"
ok $rc "the real lackey log (gzip'd) converts to vmt"
has "$err" "instr_lines             128,916"; ok $? "--stats: 128,916 I lines, Valgrind's guest instrs"
[ "$(head -c 4 "$T/a.vmt")" = "VMTR" ]; ok $? "the output starts with VMTR"
run "$V" convert "$T/a.vmt" "$T/a.txt";  ok $rc "vmt -> text"
run "$V" convert "$T/a.txt" "$T/b.vmt";  ok $rc "text -> vmt"
cmp -s "$T/a.vmt" "$T/b.vmt"; ok $? "lackey -> vmt -> text -> vmt is byte-identical"
run "$V" convert --no-compress "$T/a.txt" "$T/raw.vmt"; ok $rc "--no-compress"
[ "$(stat -c %s "$T/raw.vmt")" -gt "$(stat -c %s "$T/a.vmt")" ]; ok $? "a plain vmt is larger than a zlib one"
run "$V" convert "$T/raw.vmt" -
[ "$out" = "$(cat "$T/a.txt")" ]; ok $? "plain and zlib vmt hold the same events"
zcat $D/true.log.gz | "$V" convert - "$T/c.vmt" 2>"$T/err"; ok $? "standard input"
cmp -s "$T/a.vmt" "$T/c.vmt"; ok $? "gives the same vmt"
"$V" convert - "$T/c2.vmt" < $D/true.log.gz 2>"$T/err"; ok $? "gzip on standard input"
cmp -s "$T/a.vmt" "$T/c2.vmt"; ok $? "gives the same vmt too"
gzip -c "$T/a.vmt" > "$T/a.vmt.gz"
run "$V" convert "$T/a.vmt.gz" "$T/d.txt.gz"; ok $rc "a gzip'd vmt in, gzip'd text out"
[ "$(zcat "$T/d.txt.gz")" = "$(cat "$T/a.txt")" ]; ok $? "same text"
run "$V" convert --maps <(zcat $D/true.stderr.gz) $D/true.log.gz -
has "$(echo "$out" | head -1)" "21045: map 0x108000 0x10a000 r--p 0x0 /usr/bin/true"; ok $? "--maps: the initial map comes first"
has "$out" "map 0x1ffefff000 0x1fff001000 rw-p 0x0 [stack]"; ok $? "the stack is marked"
printf '7 0 1 2 0 3w\n' > "$T/p"
run "$V" convert "$T/p" -
[ "$out" = "$(printf 'R 0x7000 1\nR 0x0 1\nR 0x1000 1\nR 0x2000 1\nR 0x0 1\nW 0x3000 1')" ]; ok $? "a page list: $(echo $out)"

# A capture's logs as one process tree: the parent, its fork child's log
# (gzip'd content under a .log name), the image the child exec'd.
mkdir "$T/cap"
cp $D/sh-parent-excerpt.log "$T/cap/X.23201.1.log"
cp $D/sh-child.log.gz "$T/cap/X.23637.2.log"
zcat $D/true.log.gz | sed 's/21045/23637/g' > "$T/cap/X.23637.1.log"
run "$V" convert --stats --maps $D/sh.stderr.gz "$T/cap/X.23201.1.log" "$T/tree.txt"
ok $rc "a capture's three logs convert as one tree"
has "$err" "logs                          3"; ok $? "--stats: 3 logs read"
awk '/^([0-9]+: )?fork /{print "fork"} /^([0-9]+: )?execve /{print "execve"} /^([0-9]+: )?exit /{print "exit"}
     /^([0-9]+: )?map .*\/usr\/bin\/dash$/{print "dash"} /^([0-9]+: )?map .*\/usr\/bin\/true$/{print "true"}' \
	"$T/tree.txt" | uniq | tr '\n' ' ' > "$T/shape"
[ "$(cat "$T/shape")" = "dash fork execve true exit " ] && [ "$(grep -c "exit 0$" "$T/tree.txt")" -eq 2 ]; ok $? "parent (dash's map), fork, child, exec, true's map, its exit, the parent's: $(cat "$T/shape")"
[ "$(grep -c '^23637: ' "$T/tree.txt")" -eq 1 ] && [ "$(grep -c '^23201: ' "$T/tree.txt")" -eq 2 ]; ok $? "the child's events follow the fork; the parent's resume after its exit"
line_fork=$(grep -n '^fork 23637' "$T/tree.txt" | cut -d: -f1)
[ "$(sed -n "$((line_fork + 1))p" "$T/tree.txt")" = "23637: X 0x491b3b8 1" ]; ok $? "the child starts where fork returned"
run "$V" convert --one-log "$T/cap/X.23201.1.log" -
! has "$out" "execve"; ok $? "--one-log reads the parent alone"
run "$V" convert "$T/cap/X.23201.1.log" "$T/tree.vmt"; ok $rc "the tree as vmt"
run "$V" convert "$T/tree.vmt" "$T/tree2.txt"; run "$V" convert "$T/tree2.txt" "$T/tree2.vmt"
cmp -s "$T/tree.vmt" "$T/tree2.vmt"; ok $? "and back through text, byte-identical"
zcat $D/sh-child.log.gz | sed 's/^I  0491bad0,5$/I  0491bad0,zz/' > "$T/cap/X.23637.2.log"
run "$V" convert "$T/cap/X.23201.1.log" -
[ $rc -eq 1 ] && has "$err" "vmlab: $T/cap/X.23637.2.log:" && has "$err" "'I  0491bad0,zz'"; ok $? "an error in a child's log names that log: $err"

# Bad input: exit 1, FILE:LINE, no output file left behind.
printf '==1== Command: x\nI  0401ab70,3\nI  04zz,3\n' > "$T/bad.log"
run "$V" convert "$T/bad.log" "$T/bad.vmt"
[ $rc -eq 1 ]; ok $? "a garbled lackey line exits 1"
[ "$err" = "vmlab: $T/bad.log:3: 'I  04zz,3': expected ADDR,SIZE (hex address, size 1..4096)" ]; ok $? "and says where: $err"
[ ! -e "$T/bad.vmt" ] && [ -z "$(ls "$T" | grep tmp)" ]; ok $? "and leaves no output"
printf 'R 0x1000\nmunmap 0x1000\n' > "$T/bad.txt"
run "$V" convert "$T/bad.txt" -
[ $rc -eq 1 ] && [ "$err" = "vmlab: $T/bad.txt:2: missing the length" ]; ok $? "a bad text line: $err"
head -c 100 "$T/raw.vmt" > "$T/cut.vmt"
run "$V" convert "$T/cut.vmt" -
[ $rc -eq 1 ] && has "$err" "vmlab: $T/cut.vmt: event " && has "$err" "truncated"; ok $? "a truncated vmt: $err"
printf 'VMTR\002\000\000\000' > "$T/v2.vmt"
run "$V" convert "$T/v2.vmt" -
[ $rc -eq 1 ] && [ "$err" = "vmlab: $T/v2.vmt: a version 2 vmt file; this vmlab reads version 1" ]; ok $? "another version: $err"
printf '\037\213garbage' > "$T/g.gz"
run "$V" convert "$T/g.gz" -
[ $rc -eq 1 ] && has "$err" "corrupt gzip data"; ok $? "corrupt gzip: $err"
run "$V" convert --format vmt "$T/p" -
[ $rc -eq 1 ] && has "$err" "not a vmt file"; ok $? "--format wins over detection: $err"

# Usage errors: exit 2.
run "$V" convert $D/true.log.gz;           [ $rc -eq 2 ]; ok $? "one operand exits 2"
run "$V" convert $D/true.log.gz "$T/x.bin"; [ $rc -eq 2 ] && has "$err" "--to vmt"; ok $? "an unknown OUT suffix: $err"
run "$V" convert --to csv $D/true.log.gz -; [ $rc -eq 2 ]; ok $? "--to csv exits 2"
run "$V" convert --format elf $D/true.log.gz -; [ $rc -eq 2 ] && has "$err" "'elf' is not"; ok $? "--format elf: $err"
run "$V" convert --level 12 $D/true.log.gz "$T/x.vmt"; [ $rc -eq 2 ]; ok $? "--level 12 exits 2"
run "$V" convert /nonexistent.log -;        [ $rc -eq 2 ] && has "$err" "/nonexistent.log: cannot open"; ok $? "a missing input: $err"
run "$V" convert --maps /nonexistent $D/true.log.gz -; [ $rc -eq 2 ] && has "$err" "/nonexistent: cannot open"; ok $? "a missing --maps file: $err"

done_testing
