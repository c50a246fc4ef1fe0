#!/usr/bin/env bash
# vmlab replay: hand-written traces whose faults and RSS follow from Linux's
# rules (LACKEY.md 9, measured on the host: a read of never-written
# anonymous memory maps the zero page, 1 fault and no RSS; a write after it
# 1 more fault; a file read 1 fault per 64 KiB block, fault-around mapping
# the block; a COW write 1 fault in the writer), the bundled real trace
# against the native run, bad input, and every option.
set -u
. "$(dirname "$0")/lib.sh" replay
# A region or file row: "accesses minor-faults major-faults".
row() { echo "$out" | awk -v n="$1" '$1 == n { gsub(",", ""); print $2, $5, $6; exit }'; }

run "$V" replay --help; ok $rc "replay --help exits 0"
has "$out" "usage: vmlab replay TRACE"; ok $? "and shows the usage"
run "$V" --help; has "$out" "replay"; ok $? "vmlab --help lists replay"

# Anonymous memory, counted by hand: R (zero page: 1 fault), W same page (1
# fault, 1 page), W next page (1 fault, 1 page), W same page again (none),
# R x3 a third page (zero page: 1 fault).
cat > "$T/anon.trace" <<'EOF'
1: mmap p 16K rw private,anon = 0x10000000
R 0x10000000 8
W 0x10000000 8
W 0x10001000 8
W 0x10001008 8
R 0x10002000 8 x3
exit 0
EOF
run "$V" replay "$T/anon.trace"; ok $rc "a hand-written text trace replays"
[ "$(fig minor)" = 4 ]; ok $? "4 minor faults: $(fig minor)"
[ "$(fig 'zero page mapped')" = 2 ]; ok $? "2 of them map the zero page"
[ "$(fig major)" = 0 ]; ok $? "no major fault"
[ "$(fig total)" = 7 ]; ok $? "7 accesses (x3 counts three)"
has "$out" "RSS                                           8 KiB   peak            8 KiB  (anon 8 KiB, file 0 KiB"
ok $? "RSS at exit: 2 anonymous pages (the zero page is not RSS)"
has "$out" "VSZ                                          16 KiB"; ok $? "VSZ 16 KiB"
has "$out" "memory of pid 1 (pid 1), exited 0"; ok $? "the process exited 0"
[ "$(row mmap-anon)" = "7 4 0" ]; ok $? "all accesses and faults in the anonymous mmap region: $(row mmap-anon)"
run "$V" replay "$T/anon.trace"; out2=$out
run "$V" replay "$T/anon.trace"; [ "$out" = "$out2" ]; ok $? "the same trace gives byte-identical output"

# fork: the child's write copies (COW); the parent's write then finds the
# page its own again (reuse, still a fault).
cat > "$T/fork.trace" <<'EOF'
1: mmap p 8K rw private,anon = 0x10000000
W 0x10000000 8
fork 2
2: W 0x10000000 8
1: W 0x10000000 8
2: exit 0
1: exit 0
EOF
run "$V" replay "$T/fork.trace"; ok $rc "fork and exit replay"
[ "$(fig minor)" = 3 ] && [ "$(fig 'copy-on-write \(private copies\)')" = 1 ]
ok $? "3 minor faults, 1 copy-on-write: $(fig minor), $(fig 'copy-on-write \(private copies\)')"
has "$out" "        2       1 pid 1                           1          1"; ok $? "the child: 1 access, 1 fault"
has "$out" "        1       0 pid 1                           2          2"; ok $? "the parent: 2 accesses, 2 faults"

# A file: one fault per 64 KiB block read (fault-around maps the block).
head -c 262144 /dev/zero > "$T/data"
cat > "$T/file.trace" <<EOF
1: mmap f 256K r private file $T/data 0 = 0x20000000 fd 3
R 0x20000000 1
R 0x20010000 1
R 0x20001000 1
exit 0
EOF
run "$V" replay "$T/file.trace"; ok $rc "a file mapping replays"
[ "$(fig minor)" = 2 ]; ok $? "2 faults for 2 blocks of 64 KiB: $(fig minor)"
has "$out" "(anon 0 KiB, file 128 KiB"; ok $? "RSS: the 2 blocks, 128 KiB of file"
has "$out" "by file mapped"; ok $? "the file is listed"
[ "$(row "$T/data")" = "3 2 0" ]; ok $? "with its accesses and faults: $(row "$T/data")"
run "$V" replay "$T/file.trace" --compare fault_around=4K,64K
ok $rc "--compare fault_around=4K,64K"
has "$out" "minor faults                                      3                2  faults"
ok $? "without fault-around each page faults: 3 against 2"
has "$out" "first process: RSS peak                          12              128  KiB"; ok $? "RSS 12 KiB against 128 KiB"
run "$V" replay "$T/file.trace" --compare fault_around=4K,64K --json
has "$out" '"compare": "fault_around"' && has "$out" '"fault_around": "4K"'; ok $? "--compare --json names the values"
run "$V" replay "$T/file.trace" --compare fault_around=3K; [ $rc -eq 2 ]; ok $? "--compare with a bad value: usage error"
has "$err" "fault_around"; ok $? "naming the setting: $err"
run "$V" replay "$T/file.trace" --compare nosuch=1,2; [ $rc -eq 2 ]; ok $? "--compare with an unknown key: usage error"
run "$V" replay - --compare thp=never,always < "$T/file.trace"; [ $rc -eq 2 ]; ok $? "--compare refuses standard input"

# The initial map: the stack is populated (Valgrind wrote argv there), the
# break page is left to brk.
cat > "$T/map.trace" <<'EOF'
7: map 0x4035000 0x4036000 rwxp 0 [heap]
map 0x1ffefff000 0x1fff001000 rw-p 0 [stack]
R 0x1fff000ff0 8
brk 0x4056000 = 0x4056000
W 0x4035010 8
W 0x1ffeffe000 8
exit 0
EOF
run "$V" replay "$T/map.trace"; ok $rc "map events, brk, stack growth"
[ "$(fig minor)" = 4 ]; ok $? "4 faults: 2 stack pages populated, 1 heap page, 1 page the stack grew: $(fig minor)"
[ "$(row heap)" = "1 1 0" ]; ok $? "the write after brk is in the heap: $(row heap)"
[ "$(row stack)" = "2 3 0" ]; ok $? "two stack accesses, one below the initial stack (2 faults populating it): $(row stack)"

# JSON, the timeline, maps at an event.
run "$V" replay "$T/anon.trace" --json; ok $rc "--json"
has "$out" '"minor": 4' && has "$out" '"rss_peak_bytes": 8192'; ok $? "JSON has the faults and the RSS peak in bytes"
has "$out" '"cost_model"' && has "$out" '"effective_access_ns"'; ok $? "JSON has the cost model and the estimate"
run "$V" replay "$T/anon.trace" --timeline "$T/tl.csv" --every 2; ok $rc "--timeline --every 2"
[ "$(head -1 "$T/tl.csv")" = "accesses,events,rss_bytes,rss_anon_bytes,rss_file_bytes,vsz_bytes,page_table_bytes,minor_faults,major_faults,l1_tlb_misses,l2_tlb_misses,walks" ]
ok $? "the CSV header names its units"
[ "$(sed -n 2p "$T/tl.csv" | cut -d, -f1-3)" = "2,3,4096" ]; ok $? "after 2 accesses: 1 page of RSS"
[ "$(wc -l < "$T/tl.csv")" -eq 5 ]; ok $? "a sample every 2 accesses and one at the end"
run "$V" replay "$T/anon.trace" --maps-at 3; ok $rc "--maps-at 3"
has "$out" "10000000-10004000 rw-p 00000000 00:00 0"; ok $? "prints the maps of the process"
run "$V" replay "$T/anon.trace" --maps-at 3 --json; has "$out" '"maps_at"'; ok $? "--maps-at in the JSON"
run "$V" replay "$T/anon.trace" --every 5; [ $rc -eq 2 ]; ok $? "--every without --timeline: usage error"
run "$V" replay "$T/anon.trace" --timeline "$T/tl0.csv" --every 0; [ $rc -eq 2 ] && has "$err" "--every: '0' is not a whole number from 1"
ok $? "--every 0 (no interval): usage error, not the default: $err"
run "$V" replay "$T/anon.trace" --maps-at 0; [ $rc -eq 2 ] && has "$err" "--maps-at: '0' is not a whole number from 1"
ok $? "--maps-at 0 (events count from 1): usage error, not silently ignored: $err"

# Bad input.
cat > "$T/segv.trace" <<'EOF'
1: mmap p 4K rw private,anon = 0x10000000
W 0x10000000 8
R 0x30000000 8
EOF
run "$V" replay "$T/segv.trace"; ok $rc "an access outside any mapping, last in the trace: replayed"
[ "$(fig SIGSEGV)" = 1 ]; ok $? "recorded as the SIGSEGV the program would take"
has "$out" "event 3: pid 1 (pid 1): R at 0x30000000: SIGSEGV"; ok $? "naming the event and address"
has "$out" "killed by SIGSEGV at event 3"; ok $? "the process was killed"
printf 'W 0x10000000 8\n' >> "$T/segv.trace"
run "$V" replay "$T/segv.trace"; [ $rc -eq 1 ]; ok $? "events after the SIGSEGV: exit 1"
has "$err" "vmlab: $T/segv.trace: event 4: pid 1 (pid 1) was killed by SIGSEGV at event 3"; ok $? "message: $err"
run "$V" replay --lenient "$T/segv.trace"; ok $rc "--lenient replays it"
[ "$(fig SIGSEGV)" = 0 ] && has "$out" "segv_skipped                                      1"; ok $? "skipping and counting the access"
printf '1: syscall 999 1 2 = 0\n' > "$T/unk.trace"
run "$V" replay "$T/unk.trace"; [ $rc -eq 1 ]; ok $? "an unknown system call: exit 1"
has "$err" "event 1: pid 1: system call 999 is not a memory call"; ok $? "message: $err"
run "$V" replay --lenient "$T/unk.trace"; ok $rc "--lenient counts it"
has "$out" "syscalls_unknown                                  1"; ok $? "as syscalls_unknown"
printf '1: syscall 149 0x10000000 4096 = 0\n' > "$T/mlock.trace"
run "$V" replay "$T/mlock.trace"; ok $rc "mlock (a memory call not modelled) is counted, not fatal"
has "$out" "syscalls_unmodelled                               1"; ok $? "as syscalls_unmodelled"
run "$V" convert "$T/anon.trace" "$T/a.vmt"
head -c 20 "$T/a.vmt" > "$T/cut.vmt"
run "$V" replay "$T/cut.vmt"; [ $rc -eq 1 ]; ok $? "a truncated vmt: exit 1"
has "$err" "vmlab: $T/cut.vmt: event 1: truncated"; ok $? "message: $err"
printf 'VMTR\002\000' > "$T/v2.vmt"
run "$V" replay "$T/v2.vmt"; [ $rc -eq 1 ] && has "$err" "version 2"; ok $? "a vmt of another version: $err"
printf '1: R 0x1000 zz\n' > "$T/bad.trace"
run "$V" replay "$T/bad.trace"; [ $rc -eq 1 ] && has "$err" "$T/bad.trace:1:"; ok $? "a malformed line: FILE:LINE: $err"
run "$V" replay "$T/nonexistent"; [ $rc -eq 2 ]; ok $? "a missing file: exit 2"
run "$V" replay; [ $rc -eq 2 ]; ok $? "no trace: usage error"
run "$V" replay "$T/anon.trace" --set phys=1T --set mode=data; ok $rc "mode=data works too"
[ "$(fig minor)" = 4 ]; ok $? "with the same faults"
printf '1: execve /nonexistent/prog\nR 0x1000 1\n' > "$T/exec.trace"
run "$V" replay "$T/exec.trace"; [ $rc -eq 1 ] && has "$err" "exec /nonexistent/prog: no map events follow it"
ok $? "an exec with neither maps nor a host file: $err"
printf '1: execve /bin/true\nexit 0\n' > "$T/exec2.trace"
run "$V" replay "$T/exec2.trace"; ok $rc "an exec without maps runs the host's file"
has "$out" "execs_from_host                                   1"; ok $? "and says so"

# The bundled real trace (examples/traces/README.md): ls -l /usr/bin took
# 253-257 minor faults and 2,744-3,004 KiB of peak RSS natively.
B=examples/traces/ls-l-usr-bin.vmt
run "$V" replay $B; ok $rc "the bundled trace replays"
m=$(fig minor)
[ "$m" -ge 200 ] && [ "$m" -le 300 ]; ok $? "its minor faults are within 20 % of the native 255: $m"
[ "$(fig SIGSEGV)" = 0 ]; ok $? "without a signal"
has "$out" "memory of pid 15935 (ls), exited 0"; ok $? "ls exited 0"
! has "$out" "memory pressure"; ok $? "enough memory: no memory-pressure section"

# The same trace in less memory than ls needs (its peak RSS is ~2.9 MiB):
# kswapd reclaims, anonymous pages go to swap and come back as major
# faults, and ls still exits 0 (no OOM kill: every anonymous page,
# private copies of file pages included, can be swapped).
run "$V" replay $B --set phys=2M --set swap=64M --set policy=clock
ok $rc "the bundled trace replays in phys=2M with swap"
has "$out" "memory pressure (docs/reclaim.md)"; ok $? "with a memory-pressure section"
[ "$(fig 'pages scanned by kswapd')" -gt 0 ] && [ "$(fig 'pages written to swap \(pswpout\)')" -gt 0 ] &&
	[ "$(fig 'pages read from swap \(pswpin\)')" -gt 0 ]; ok $? "kswapd scanned, pages went to swap and came back"
[ "$(fig major)" -gt 0 ] && [ "$(fig 'processes killed by the OOM killer')" = 0 ]; ok $? "major faults, no OOM kill"
has "$out" "memory of pid 15935 (ls), exited 0"; ok $? "ls still exited 0"
run "$V" replay $B --set phys=2M --set swap=64M --compare policy=clock,fifo
row=$(printf '%s\n' "$out" | grep -E '^pages written to swap ')
[ $rc -eq 0 ] && [ -n "$row" ] && printf '%s\n' "$row" | awk '{ exit !($5 + 0 > 0 && $6 + 0 > 0) }'
ok $? "--compare shows swap traffic per policy: $row"
# The page a swap-in fault reads is held by the fault while its readahead
# allocates (and may reclaim): it is not on the LRU yet (Linux's
# folio_add_lru batch), so reclaim never chooses it and puts it back.
run "$V" replay $B --set phys=2M --set swap=64M --set policy=linux
[ $rc -eq 0 ] && [ "$(fig 'chosen but could not go \(put back\)')" = 0 ]; ok $? "policy=linux in 2M: no page chosen and put back"
# The default policy balances anonymous against file pages as Linux's
# get_scan_count does: in 2M it takes about as many major faults as CLOCK
# (54 against 63).  When its balance stuck on one type it swapped the
# anonymous pages out as fast as they came back: 222,000 major faults.
run "$V" replay $B --set phys=2M --set swap=64M --compare policy=linux,clock
row=$(printf '%s\n' "$out" | grep -E '^major faults ')
[ $rc -eq 0 ] && printf '%s\n' "$row" | awk '{ gsub(",", ""); exit !($3 > 0 && $3 <= 2 * $4) }'
ok $? "policy=linux in 2M: at most twice CLOCK's major faults: $row"
run "$V" replay $B --set phys=2M --set swap=64M --set policy=clock --json
printf '%s' "$out" | perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $r = $d->{replay}{reclaim} // $d->{reclaim}; exit !($r && $r->{pswpout} > 0 && $r->{oom_kill} == 0)'
ok $? "--json: reclaim.pswpout > 0, reclaim.oom_kill == 0"

done_testing
