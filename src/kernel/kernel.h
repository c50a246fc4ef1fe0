/*
 * The kernel: processes, address spaces, files and the page cache on top of
 * the machine's frames and CPUs.  The hardware never calls into it; it calls
 * the page-table interface and the CPU's invalidation instructions, as
 * Linux calls its arch code.
 *
 * Frame reference rules (struct vm_page, see page.h):
 *   anonymous page:  refcount = mapcount = PTEs (or PMDs) mapping it
 *   page-cache page: refcount = 1 (the cache) + PTEs mapping it; mapcount = PTEs
 *   zero page:       VM_PG_RESERVED; mapping it changes no count (Linux's
 *                    special zero-page PTE), and it is never RSS
 *   page table:      VM_PG_PGTABLE, refcount 1
 * Counts change only through vm_page_get / vm_page_put and the rmap helpers.
 */
#ifndef VM_KERNEL_KERNEL_H
#define VM_KERNEL_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/stats.h>
#include <vmlab/types.h>

#include "base/host.h"
#include "base/list.h"
#include "base/rng.h"
#include "hw/cpu.h"
#include "hw/phys.h"
#include "hw/pt.h"
#include "kernel/buddy.h"
#include "kernel/mm.h"
#include "kernel/page.h"

struct vm_proc;
struct vm_settings;
struct vm_reclaim;
struct vm_swap;

enum vm_thp { VM_THP_NEVER, VM_THP_MADVISE, VM_THP_ALWAYS };

/* Settings the kernel honours, digested from the machine's settings. */
struct vm_kconfig {
	enum vm_thp thp;
	unsigned aslr;                /* randomize_va_space: 0, 1, 2 */
	uint64_t fault_around_pages;  /* fault_around_bytes >> 12, a power of two; 1 = off */
	bool pagecache_warm;          /* host files start cached */
	uint64_t max_map_count;
	uint64_t stack_rlimit;        /* RLIMIT_STACK soft limit, bytes */
	uint64_t stack_guard_gap;     /* bytes */
	uint64_t mmap_min_addr;       /* bytes */
	unsigned mmap_rnd_bits;
	unsigned va_bits;             /* 48, or 57 with LA57 */
	vm_vaddr task_size_max;       /* (1 << (va_bits - 1)) - 4096 */
	vm_vaddr map_window;          /* DEFAULT_MAP_WINDOW: (1 << 47) - 4096 */
};

struct vm_kernel {
	/* The machine's parts (not owned). */
	struct vm_host *host;
	struct vm_rng *rng;
	struct vm_phys *phys;
	struct vm_page *pages;
	struct vm_buddy *buddy;
	struct vm_cpu *cpus;
	unsigned ncpus;
	const struct vm_pt_type *pt_type;
	struct vm_frame_source table_src;   /* frames for page tables */
	struct vm_stats *stats;             /* the machine's kernel counters */

	struct vm_kconfig cfg;
	uint64_t zero_pfn;                  /* the shared zero page */
	struct vm_mm **cpu_mm;              /* [ncpus]: mm whose tables each CPU has loaded */
	struct vm_mm **cpu_pcid_mm;         /* [ncpus << 12]: on CPU c, entry c << 12 | pcid is
					     * the mm whose translations that PCID may still
					     * hold and that are still valid, or NULL: loading
					     * that PCID must flush it first */

	struct vm_proc **procs;             /* by slot; NULL = free slot */
	unsigned nprocs, procs_cap;
	int next_pid;                       /* pids count up from 1 */
	uint16_t next_pcid;                 /* PCIDs handed out round robin, 1..4095 */

	struct vm_list files;               /* every struct vm_file, by file->link */
	uint64_t last_ino;                  /* get_next_ino(): the last inode number given
					     * to an in-memory file (shmem, tmpfs) */
	uint64_t anon_vmas;                 /* live struct vm_anon_vma (anon_vma.c) */
	uint64_t anon_vma_serial;           /* anon_vmas ever created: their serial numbers */

	/* The CPU the current kernel entry (a fault, a user access, a system
	 * call) runs on, or -1: the flushes it makes count shootdowns for the
	 * other CPUs.  Entry points set it and restore it on return. */
	int cur_cpu;

	struct vm_reclaim *reclaim;         /* the LRU, watermarks (reclaim.h); NULL = none */
	struct vm_swap *swap;               /* the swap area (swap.h); NULL = no swap */
};

/* Build the kernel on a machine's parts: the caller sets host, rng, phys,
 * pages, buddy, cpus, ncpus, pt_type, table_src and stats (the rest of *k is
 * ignored and set here); init digests the settings, reserves the zero page
 * and allocates the per-CPU tables.  0, -EINVAL (a part missing), -ENOMEM
 * (then nothing is held). */
int vm_kernel_init(struct vm_kernel *k, const struct vm_settings *s);
/* Kill every process and free every frame the kernel holds. */
void vm_kernel_fini(struct vm_kernel *k);

/* Frames for data.  alloc: a zeroed (data mode) block of 2^order, refcount 1,
 * owner none; -ENOMEM, -EINVAL (order).  get/put: one reference more/less on
 * the block at pfn (its head); at 0 the block returns to the buddy.  The
 * zero page (VM_PG_RESERVED) is never counted: get and put do nothing. */
int vm_page_alloc(struct vm_kernel *k, unsigned order, uint64_t *pfn);
void vm_page_get(struct vm_kernel *k, uint64_t pfn);
void vm_page_put(struct vm_kernel *k, uint64_t pfn);

/* TLB maintenance for an address space, as Linux's flush_tlb_mm_range:
 * every CPU that has mm loaded invalidates [start, end) (INVLPG per page up
 * to 33 pages, else its whole PCID); CPUs other than `self` count a
 * shootdown IPI; CPUs that ran mm before and may still cache its PCID drop
 * it before they load it again.  self may be -1 (no current CPU). */
void vm_flush_tlb_range(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end,
			int self);
void vm_flush_tlb_mm(struct vm_kernel *k, struct vm_mm *mm, int self);
/* The same with entries of 2^shift bytes (Linux's stride_shift): a range of
 * 2 MiB pages needs one INVLPG per 2 MiB.  shift is 12, 21 or 30. */
void vm_flush_tlb_range_stride(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start,
			       vm_vaddr end, unsigned shift, int self);

/* Load mm's tables on CPU cpu (switch_mm: CR3 with the mm's PCID; no flush
 * when the CPU still holds valid entries of that PCID). */
void vm_switch_mm(struct vm_kernel *k, unsigned cpu, struct vm_mm *mm);

/* mm is about to be freed (Linux: leave_mm on the CPUs in its cpumask):
 * every CPU that has it loaded loads no tables (CR3 without a table; its
 * accesses fault until the next switch), and no CPU keeps its PCID's
 * entries valid, so that a later mm with the same PCID, or at the same
 * address, starts from a flushed PCID.  Call before vm_pt_destroy. */
void vm_leave_mm(struct vm_kernel *k, struct vm_mm *mm);

/* Create an empty address space with the x86-64 layout of
 * arch_pick_mmap_layout (randomised per cfg.aslr from the machine's RNG),
 * its page tables, and a PCID.  0, -ENOMEM. */
int vm_mm_create(struct vm_kernel *k, struct vm_mm **out);
/* The same without a layout (no random draw): fork copies the parent's. */
int vm_mm_alloc(struct vm_kernel *k, struct vm_mm **out);
/* Drop a user; at 0 unmap everything, free the tables and the mm. */
void vm_mm_put(struct vm_kernel *k, struct vm_mm *mm);

/* Cross-check everything (vm_check): page tables against VMAs, frame
 * reference and map counts against the mappings that hold them, RSS
 * counters against present pages, free frames against the buddy.  0 or
 * -EUCLEAN with the first broken invariant in msg. */
int vm_kernel_check(struct vm_kernel *k, char *msg, size_t len);

#endif
