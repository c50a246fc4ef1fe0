/*
 * The table of settings (DESIGN.md rule 7): one X-macro line per key.
 *
 * X(ID, key, kind, default, min, max, choices, help)
 *   kind      SIZE, UINT, BOOL, CHOICE or LIST (enum vm_setting_kind without prefix)
 *   min, max  inclusive range for SIZE and UINT
 *   choices   for CHOICE: a function returning the i-th name, NULL past the end
 *
 * A setting is listed here only once the model honours it; later layers add
 * their lines (thp, aslr, policy, swap, ...).
 */
#ifndef VM_CORE_SETTINGS_TABLE_H
#define VM_CORE_SETTINGS_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/settings.h>

#include "hw/phys.h"

const char *vm_choice_mode(unsigned i);
const char *vm_choice_tlb(unsigned i);
const char *vm_choice_tlb_repl(unsigned i);
const char *vm_choice_pt(unsigned i);
const char *vm_choice_thp(unsigned i);
const char *vm_choice_pagecache(unsigned i);
const char *vm_choice_policy(unsigned i);

#define VM_SETTINGS(X) \
	X(PHYS, "phys", SIZE, "1G", VM_PHYS_MIN, VM_PHYS_MAX, NULL, \
	  "physical memory, 64K to 1T") \
	X(MODE, "mode", CHOICE, "data", 0, 0, vm_choice_mode, \
	  "data: frames hold real bytes; meta: frames carry no bytes (fast replay)") \
	X(CPUS, "cpus", UINT, "1", 1, 64, NULL, \
	  "CPUs, each with its own TLBs and paging-structure caches") \
	X(TLB, "tlb", CHOICE, "zen4", 0, 0, vm_choice_tlb, \
	  "TLB preset of a documented CPU (vmlab list tlbs)") \
	X(TLB_REPL, "tlb_repl", CHOICE, "preset", 0, 0, vm_choice_tlb_repl, \
	  "TLB replacement: preset (each array's own), lru, plru or random") \
	X(PT, "pt", CHOICE, "radix4", 0, 0, vm_choice_pt, \
	  "page-table organisation (vmlab list pts); radix5 turns on LA57") \
	X(SEED, "seed", UINT, "1", 0, UINT64_MAX, NULL, \
	  "seed of the machine's random numbers (same seed, same output)") \
	X(PCID, "pcid", BOOL, "on", 0, 1, NULL, \
	  "CR4.PCIDE: TLB entries carry a PCID, so address-space switches need not flush") \
	X(PGE, "pge", BOOL, "on", 0, 1, NULL, \
	  "CR4.PGE: entries with G set are global and survive CR3 writes") \
	X(NX, "nx", BOOL, "on", 0, 1, NULL, \
	  "EFER.NXE: the XD bit forbids instruction fetches (else it is reserved)") \
	X(SMEP, "smep", BOOL, "on", 0, 1, NULL, \
	  "CR4.SMEP: supervisor-mode fetches from user pages fault") \
	X(SMAP, "smap", BOOL, "on", 0, 1, NULL, \
	  "CR4.SMAP: supervisor-mode data accesses to user pages fault unless EFLAGS.AC") \
	X(WP, "wp", BOOL, "on", 0, 1, NULL, \
	  "CR0.WP: supervisor-mode writes honour read-only pages") \
	X(PKE, "pke", BOOL, "off", 0, 1, NULL, \
	  "CR4.PKE: protection keys in bits 59-62 of user pages, checked against PKRU") \
	X(PHYS_BITS, "phys_bits", UINT, "52", 36, 52, NULL, \
	  "MAXPHYADDR: entry address bits at or above it are reserved (RSVD faults)") \
	X(THP, "thp", CHOICE, "madvise", 0, 0, vm_choice_thp, \
	  "transparent huge pages: never, madvise (MADV_HUGEPAGE regions) or always") \
	X(ASLR, "aslr", UINT, "2", 0, 2, NULL, \
	  "randomize_va_space: 0 off, 1 mmap base/stack/vdso/PIE, 2 also the heap (brk)") \
	X(FAULT_AROUND, "fault_around", SIZE, "64K", 4096, 2097152, NULL, \
	  "fault_around_bytes: cached file pages mapped around a read fault (4K = off)") \
	X(PAGECACHE, "pagecache", CHOICE, "warm", 0, 0, vm_choice_pagecache, \
	  "files start warm (all pages cached: minor faults) or cold (first touch is a major fault)") \
	X(POLICY, "policy", CHOICE, "linux", 0, 0, vm_choice_policy, \
	  "page replacement policy reclaim uses (vmlab list policies)") \
	X(SWAP, "swap", LIST, "0", 0, UINT64_C(1) << 36, NULL, \
	  "swap areas size[:priority],... (0 = none; each at least 8K, priority -1..32767 " \
	  "as swapon -p), up to 27 areas and 64G in all") \
	X(PAGE_CLUSTER, "page_cluster", UINT, "3", 0, 10, NULL, \
	  "vm.page-cluster: swap readahead reads 2^N slots (0 = the faulting page only)") \
	X(SWAPPINESS, "swappiness", UINT, "60", 0, 200, NULL, \
	  "vm.swappiness: the linux policy's preference for anonymous over file pages") \
	X(WATERMARK_SCALE_FACTOR, "watermark_scale_factor", UINT, "10", 1, 3000, NULL, \
	  "vm.watermark_scale_factor: low/high watermark distance in 1/10000 of memory") \
	X(MAX_MAP_COUNT, "max_map_count", UINT, "65530", 1, 2147483647, NULL, \
	  "vm.max_map_count: most VMAs a process may have (mmap then fails with ENOMEM)") \
	X(STACK_LIMIT, "stack_limit", SIZE, "8M", 65536, UINT64_C(1) << 40, NULL, \
	  "RLIMIT_STACK soft limit: how far the stack may grow; also sizes the mmap gap") \
	X(STACK_GUARD_GAP, "stack_guard_gap", SIZE, "1M", 0, UINT64_C(1) << 32, NULL, \
	  "stack_guard_gap: space kept free below a growing stack (256 pages)") \
	X(MMAP_MIN_ADDR, "mmap_min_addr", SIZE, "4K", 0, UINT64_C(1) << 32, NULL, \
	  "vm.mmap_min_addr: lowest address mmap may map") \
	X(MMAP_RND_BITS, "mmap_rnd_bits", UINT, "28", 28, 32, NULL, \
	  "vm.mmap_rnd_bits: bits of page-granular randomness in the mmap base") \
	VM_SETTINGS_COST(X)

/* The cost model of replay's estimated time (docs/replay.md justifies each
 * default; bench/bench_costs.c measures the host's own). */
#define VM_SETTINGS_COST(X) \
	X(COST_ACCESS, "cost_access", UINT, "4", 0, 1000000, NULL, \
	  "cost model: cycles of an access the L1 TLB translates (an L1D hit; Zen 4: 4)") \
	X(COST_TLB_HIT, "cost_tlb_hit", UINT, "8", 0, 1000000, NULL, \
	  "cost model: cycles an L2 TLB (STLB) hit adds (Skylake 9, Golden Cove 8)") \
	X(COST_WALK_REF, "cost_walk_ref", UINT, "36", 0, 1000000, NULL, \
	  "cost model: cycles per memory reference of a page walk (measured, tables in cache)") \
	X(COST_MINOR_FAULT, "cost_minor_fault", UINT, "3800", 0, UINT64_C(1) << 32, NULL, \
	  "cost model: cycles the kernel spends on a minor fault (measured: 1.45 us)") \
	X(COST_MAJOR_FAULT, "cost_major_fault", UINT, "62000", 0, UINT64_C(1) << 40, NULL, \
	  "cost model: nanoseconds a major fault waits for the device (measured: 62 us)") \
	X(COST_WRITEBACK, "cost_writeback", UINT, "800", 0, UINT64_C(1) << 40, NULL, \
	  "cost model: nanoseconds to write one dirty page back (measured: 0.8 us)") \
	X(CPU_MHZ, "cpu_mhz", UINT, "2600", 1, 100000, NULL, \
	  "cost model: CPU clock that turns cycles into time, MHz")

enum vm_setting_id {
#define VM_SETTING_ID(id, key, kind, def, min, max, choices, help) VM_SET_##id,
	VM_SETTINGS(VM_SETTING_ID)
#undef VM_SETTING_ID
	VM_SET_COUNT
};

/* Room for the longest canonical text: a LIST of swap areas, 27 items of
 * at most 16 characters ("16777215K:32767,"). */
#define VM_SETTING_TEXT 448

struct vm_settings {
	uint64_t val[VM_SET_COUNT];             /* bytes, number, 0/1, choice index, or a
						 * LIST's total bytes */
	bool explicit_set[VM_SET_COUNT];        /* set by the user, not the default */
	char text[VM_SET_COUNT][VM_SETTING_TEXT];   /* canonical text of val */
};

/* Typed access for the library's own use (no name lookup). */
uint64_t vm_settings_u64(const struct vm_settings *s, enum vm_setting_id id);
const char *vm_settings_text(const struct vm_settings *s, enum vm_setting_id id);

#endif
