/*
 * vmlab — the named counters (DESIGN.md rule 6).
 *
 * One X-macro list feeds the struct, the text summary, JSON, CSV, `vmlab
 * stats --list` and the tests, so every figure has one name everywhere.
 * X(name, unit, help): name is a C identifier and the public spelling; unit
 * is what one count means; help is one line.
 *
 * TLB hits at L1 for 4 KiB pages are not counted on the fast path; they are
 * derived when a snapshot is taken (accesses minus everything else), which
 * keeps the hit path to one increment.
 */
#ifndef VMLAB_STATS_H
#define VMLAB_STATS_H

#include <vmlab/types.h>

#define VM_COUNTERS_HW(X) \
	X(acc_read,          "accesses", "data reads translated by the MMU") \
	X(acc_write,         "accesses", "data writes translated by the MMU") \
	X(acc_exec,          "accesses", "instruction fetches translated by the MMU") \
	X(tlb_l1i_hit_4k,    "accesses", "L1 instruction TLB hits on 4 KiB pages") \
	X(tlb_l1i_hit_2m,    "accesses", "L1 instruction TLB hits on 2 MiB pages") \
	X(tlb_l1i_hit_1g,    "accesses", "L1 instruction TLB hits on 1 GiB pages") \
	X(tlb_l1i_miss,      "accesses", "L1 instruction TLB misses") \
	X(tlb_l1d_hit_4k,    "accesses", "L1 data TLB hits on 4 KiB pages") \
	X(tlb_l1d_hit_2m,    "accesses", "L1 data TLB hits on 2 MiB pages") \
	X(tlb_l1d_hit_1g,    "accesses", "L1 data TLB hits on 1 GiB pages") \
	X(tlb_l1d_miss,      "accesses", "L1 data TLB misses") \
	X(tlb_l2_hit_4k,     "accesses", "L2 (STLB) hits on 4 KiB pages") \
	X(tlb_l2_hit_2m,     "accesses", "L2 (STLB) hits on 2 MiB pages") \
	X(tlb_l2_hit_1g,     "accesses", "L2 (STLB) hits on 1 GiB pages") \
	X(tlb_l2_miss,       "accesses", "L2 (STLB) misses, each followed by a page walk") \
	X(tlb_rights_rewalk, "accesses", "accesses a TLB entry refused, re-walked before faulting (AMD presets): a PTE with more rights refreshes the entry without a fault") \
	X(tlb_dirty_rewalk,  "accesses", "writes through a TLB entry with Dirty clear, re-walked to set D (SDM 4.8)") \
	X(tlb_fills,         "entries",  "TLB entries written after a successful walk or an L2 hit") \
	X(tlb_evictions,     "entries",  "valid TLB entries replaced to make room") \
	X(tlb_invalidated,   "entries",  "valid TLB entries dropped by INVLPG, INVPCID, CR3 or CR4 writes") \
	X(walks,             "walks",    "page walks (hardware page-table walks after an L2 miss)") \
	X(walk_refs,         "refs",     "memory references made by page walks (one per entry read)") \
	X(pwc_hit_pml4,      "walks",    "walks that started below the top level from a PML5-cache hit (LA57 only)") \
	X(pwc_hit_pdpt,      "walks",    "walks that started at the PDPT from a PML4-cache hit") \
	X(pwc_hit_pd,        "walks",    "walks that started at the page directory from a PDPTE-cache hit") \
	X(pwc_hit_pt,        "walks",    "walks that started at the page table from a PDE-cache hit") \
	X(pwc_miss,          "walks",    "walks that started at the root (no paging-structure-cache hit)") \
	X(pf,                "faults",   "page faults (#PF) raised by the MMU") \
	X(pf_not_present,    "faults",   "#PF with P=0: a not-present entry on the walk") \
	X(pf_protection,     "faults",   "#PF with P=1: a protection violation") \
	X(pf_write,          "faults",   "#PF on a write access (W/R=1)") \
	X(pf_user,           "faults",   "#PF on a user-mode access (U/S=1)") \
	X(pf_rsvd,           "faults",   "#PF with RSVD=1: a reserved bit set in an entry") \
	X(pf_instr,          "faults",   "#PF on an instruction fetch (I/D=1)") \
	X(pf_pk,             "faults",   "#PF with PK=1: a protection-key violation") \
	X(gp_noncanonical,   "faults",   "#GP: access to a non-canonical address") \
	X(invlpg,            "instrs",   "INVLPG instructions") \
	X(invpcid,           "instrs",   "INVPCID instructions") \
	X(cr3_writes,        "instrs",   "MOV to CR3 (address-space switches)") \
	X(cr3_noflush,       "instrs",   "MOV to CR3 with the no-flush bit (PCID kept)")

#define VM_COUNTERS_MEM(X) \
	X(frames_total,      "frames",   "frames of simulated physical memory") \
	X(frames_free,       "frames",   "frames free in the buddy allocator now") \
	X(frames_pt,         "frames",   "frames holding page tables now") \
	X(buddy_allocs,      "calls",    "successful buddy allocations (any order)") \
	X(buddy_alloc_fails, "calls",    "buddy allocations refused with -ENOMEM") \
	X(buddy_frees,       "calls",    "buddy frees (any order)") \
	X(buddy_splits,      "blocks",   "blocks split in two to serve a smaller order") \
	X(buddy_merges,      "blocks",   "blocks merged with their free buddy on free")

#define VM_COUNTERS_KERNEL(X) \
	X(syscalls,          "calls",    "memory system calls made (mmap, munmap, mprotect, brk, mremap, madvise, msync, ...)") \
	X(pgfault,           "faults",   "page faults handled by the kernel (Linux's pgfault in /proc/vmstat)") \
	X(minflt,            "faults",   "minor faults: resolved without I/O (Linux min_flt)") \
	X(majflt,            "faults",   "major faults: needed I/O, e.g. a file page not in the page cache (Linux maj_flt)") \
	X(flt_zero_page,     "faults",   "anonymous read faults answered with the shared zero page") \
	X(flt_anon,          "faults",   "anonymous pages allocated and zeroed by write faults (do_anonymous_page)") \
	X(flt_file,          "faults",   "page-cache pages mapped by faults (do_read_fault, do_shared_fault)") \
	X(flt_cow,           "faults",   "private copies made by write faults (do_cow_fault, wp_page_copy)") \
	X(flt_wp_reuse,      "faults",   "write faults that made a page writable without a copy (wp_page_reuse)") \
	X(flt_spurious,      "faults",   "faults already resolved when handled (a stale TLB entry)") \
	X(flt_thp,           "faults",   "2 MiB anonymous pages mapped by a THP fault") \
	X(flt_thp_fallback,  "faults",   "THP faults that fell back to 4 KiB pages (no free 2 MiB block)") \
	X(thp_split_pmd,     "splits",   "PMD mappings of THPs split into 512 PTEs (Linux thp_split_pmd)") \
	X(thp_split_page,    "splits",   "THPs split into 4 KiB pages by reclaim (Linux thp_split_page)") \
	X(thp_split_page_failed, "splits", "THP splits reclaim tried that failed (Linux thp_split_page_failed)") \
	X(thp_swpout_fallback, "THPs",   "THPs split to be swapped out as 4 KiB pages: no THP_SWAP (Linux thp_swpout_fallback)") \
	X(flt_stack_grow,    "faults",   "faults that grew a stack VMA downwards") \
	X(fault_around,      "pages",    "file pages mapped ahead of a read fault by fault-around") \
	X(sig_segv,          "signals",  "SIGSEGV raised by faults (SEGV_MAPERR, SEGV_ACCERR)") \
	X(sig_bus,           "signals",  "SIGBUS raised by faults (access beyond the end of a file)") \
	X(pagecache_reads,   "pages",    "pages read into the page cache from a file") \
	X(pages_zapped,      "pages",    "pages unmapped by munmap, madvise, mremap or exit (4 KiB units)") \
	X(tlb_flush_range,   "flushes",  "kernel TLB flushes of an address range (INVLPG each page, up to 33)") \
	X(tlb_flush_mm,      "flushes",  "kernel TLB flushes of a whole address space (its PCID)") \
	X(tlb_shootdowns,    "IPIs",     "TLB shootdown interrupts sent to other CPUs") \
	X(nr_dirtied,        "pages",    "file pages that became dirty (a write to a shared mapping; Linux nr_dirtied)") \
	X(nr_written,        "pages",    "dirty file pages written back (msync MS_SYNC, reclaim; Linux nr_written)") \
	X(pgscan_kswapd,     "pages",    "pages kswapd took off the LRU to reclaim (Linux pgscan_kswapd)") \
	X(pgsteal_kswapd,    "pages",    "pages kswapd freed (Linux pgsteal_kswapd)") \
	X(pgscan_direct,     "pages",    "pages direct reclaim took off the LRU (Linux pgscan_direct)") \
	X(pgsteal_direct,    "pages",    "pages direct reclaim freed (Linux pgsteal_direct)") \
	X(pageoutrun,        "runs",     "kswapd wakeups: an allocation found free memory below the low watermark") \
	X(allocstall,        "passes",   "direct reclaim passes: free memory below the min watermark (Linux allocstall)") \
	X(lru_putback,       "pages",    "pages reclaim chose but could not free, put back on the LRU") \
	X(pte_young_cleared, "entries",  "Accessed bits cleared by reclaim's scans, each with a TLB flush of the page") \
	X(pswpin,            "pages",    "pages read from swap (Linux pswpin)") \
	X(pswpout,           "pages",    "pages written to swap (Linux pswpout)") \
	X(swap_ra,           "pages",    "pages read ahead from swap around a swap-in (Linux swap_ra)") \
	X(swap_ra_hit,       "faults",   "swap faults answered from the swap cache (Linux swap_ra_hit)") \
	X(shmem_swpout,      "pages",    "shmem pages written to swap, part of pswpout (Linux counts no event of its own)") \
	X(oom_kill,          "kills",    "processes killed by the OOM killer (Linux oom_kill)") \
	X(ctx_switches,      "switches", "address-space switches: a CPU loads another mm's tables (switch_mm)") \
	X(forks,             "calls",    "processes and threads created by fork, vfork and clone") \
	X(fork_ptes,         "entries",  "page-table entries copied into children by fork (copy_page_range)") \
	X(fork_cow,          "pages",    "writable private pages fork write-protected in parent and child (copy-on-write)")

#define VM_COUNTERS(X) VM_COUNTERS_HW(X) VM_COUNTERS_MEM(X) VM_COUNTERS_KERNEL(X)

struct vm_stats {
#define VM_STATS_FIELD(name, unit, help) uint64_t name;
	VM_COUNTERS(VM_STATS_FIELD)
#undef VM_STATS_FIELD
};

enum vm_counter_id {
#define VM_STATS_ID(name, unit, help) VM_CNT_##name,
	VM_COUNTERS(VM_STATS_ID)
#undef VM_STATS_ID
	VM_CNT_COUNT
};

/* Name, unit and help of counter i (NULL past the end). */
const char *vmlab_counter_name(unsigned i);
const char *vmlab_counter_unit(unsigned i);
const char *vmlab_counter_help(unsigned i);

/* Counter i of a snapshot, by index. */
uint64_t vmlab_counter_get(const struct vm_stats *s, unsigned i);

/* Index of the counter called name, or -1. */
int vmlab_counter_find(const char *name);

/* Take a snapshot of every counter of the machine (all CPUs summed, derived
 * figures filled in). */
void vmlab_machine_stats(const struct vm_machine *m, struct vm_stats *out);

#endif
