/*
 * Translation lookaside buffers: a configurable hierarchy of set-associative
 * arrays (SDM 4.10.2; the sizes of real CPUs in tlb_presets.c).
 *
 * A CPU has three levels: L1 instruction, L1 data, and a unified L2 (STLB).
 * Each level is up to VM_TLB_ARRAYS_MAX arrays; an array holds one or more
 * page sizes (Skylake's L1 DTLB has one array per size, Zen 4's a single
 * fully associative array for 4 KiB and 2 MiB).  A translation whose page
 * size no array of the level holds is splintered: the entry covers only the
 * largest held size's sub-page that contains the address (how Zen 4 "smashes"
 * 1 GiB pages into 2 MiB entries).
 *
 * Entries are tagged with their PCID; a global entry matches any PCID
 * (SDM 4.10.2.4).  Entries keep the effective rights of the walk that filled
 * them (VM_PERM_*), so a hit can be checked without touching memory.
 *
 * The access fast path (mmu.h) probes one entry of the L1 array that holds
 * 4 KiB pages through a direct-mapped hint table (last slot that held each
 * vpn), so a fully associative array costs one probe, not a scan; a stale
 * hint only sends the access to the full lookup.
 */
#ifndef VM_HW_TLB_H
#define VM_HW_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/types.h>

#include "base/host.h"
#include "base/rng.h"

#define VM_TLB_ARRAYS_MAX 3
#define VM_TLB_TAG_INVALID UINT64_MAX

enum vm_tlb_repl {
	VM_REPL_LRU,       /* least recently used (exact, by timestamps) */
	VM_REPL_PLRU,      /* tree pseudo-LRU; ways must be a power of two */
	VM_REPL_RANDOM,    /* random way, from the machine's RNG */
	VM_REPL_COUNT
};

struct vm_tlb_array_cfg {
	uint32_t entries;     /* 0 = no array */
	uint32_t ways;        /* entries / ways sets; ways == entries: fully associative */
	uint8_t sizes;        /* page sizes held: 1u << VM_PSIZE_* */
	uint8_t repl;         /* enum vm_tlb_repl */
};

struct vm_tlb_level_cfg {
	struct vm_tlb_array_cfg a[VM_TLB_ARRAYS_MAX];
};

/* A documented CPU (or a teaching configuration).  Every preset names its
 * source in tlb_presets.c. */
struct vm_tlb_preset {
	const char *name;
	const char *desc;      /* one line for `vmlab list tlbs` */
	struct vm_tlb_level_cfg l1i, l1d, l2;
	/* Paging-structure caches: entries caching non-leaf entries of level l
	 * (2 = PDE, 3 = PDPTE, 4 = PML4E, 5 = PML5E); 0 = none. */
	uint32_t pwc[6];
};

/* The registry: the i-th preset (NULL past the end), and lookup by name. */
const struct vm_tlb_preset *vm_tlb_preset_at(unsigned i);
const struct vm_tlb_preset *vm_tlb_preset_find(const char *name);

/* One entry: 32 bytes, the fields the hit path reads first. */
struct vm_tlbe {
	uint64_t tag;        /* (va >> page shift) << 2 | size; VM_TLB_TAG_INVALID if empty */
	uint64_t pbase;      /* physical base of the page this entry maps */
	uint64_t stamp;      /* recency for LRU: the CPU's access clock at the last hit */
	uint16_t pcid;
	uint16_t pcid_mask;  /* 0xfff, or 0 for a global entry (matches any PCID) */
	uint8_t size;        /* enum vm_psize of the entry (after splintering) */
	uint8_t perm;        /* VM_PERM_* rights of the translation */
	uint8_t pkey;        /* protection key of the leaf */
	uint8_t psize;       /* enum vm_psize of the page as mapped; > size: a splinter */
};

struct vm_tlb_array {
	struct vm_tlbe *e;      /* sets * ways entries, set-major */
	uint32_t *hint;         /* slot that last held a 4 KiB vpn, index vpn & hint_mask */
	uint64_t hint_mask;
	uint64_t *plru;         /* one tree of ways - 1 bits per set (PLRU only) */
	uint32_t sets, ways;
	uint32_t splinters;     /* valid entries with psize > size; while > 0 a one-page
				   flush scans every set, since a page's splinters
				   lie in the sets of their own page numbers */
	uint8_t sizes;          /* 1u << VM_PSIZE_* held */
	uint8_t repl;           /* enum vm_tlb_repl */
};

struct vm_tlb_level {
	unsigned n;                              /* arrays in use */
	struct vm_tlb_array a[VM_TLB_ARRAYS_MAX];
};

/* What a successful walk puts in the TLB. */
struct vm_tlb_fill {
	uint64_t pbase;      /* physical base of the page (or of the piece) */
	uint8_t size;        /* enum vm_psize of the page as mapped, or of a piece of it */
	uint8_t psize;       /* enum vm_psize of the page as mapped when size is a piece
				(an L2 splinter refilling L1); below size (0): size */
	uint8_t perm;        /* VM_PERM_* */
	uint8_t pkey;
	bool global;
	uint16_t pcid;
};

/* Which entries a flush drops (SDM 4.10.4.1). */
enum vm_tlb_match {
	VM_MATCH_PCID_NONGLOBAL,   /* the PCID's non-global entries (CR3 write, INVPCID 0/1) */
	VM_MATCH_PCID_OR_GLOBAL,   /* the PCID's entries and global ones of any PCID (INVLPG) */
	VM_MATCH_NONGLOBAL,        /* every non-global entry (INVPCID 3) */
	VM_MATCH_ALL,              /* everything (INVPCID 2, CR4.PGE toggle) */
};

struct vm_tlb {
	struct vm_tlb_level l1i, l1d, l2;
	struct vm_rng *rng;        /* the machine's, for VM_REPL_RANDOM */
	uint64_t fills, evictions, invalidated;   /* see stats.h */
};

/* Build the arrays of a preset; an array of 0 entries is none.  repl_override
 * < 0 keeps each array's own policy.  Returns 0, -EINVAL (p NULL,
 * repl_override not a policy, an array's ways are 0 or do not divide its
 * entries, PLRU with ways not a power of two or above 64, no page size,
 * VM_REPL_RANDOM with rng NULL), -ENOMEM.  On failure nothing stays
 * allocated and t is zeroed, so vm_tlb_fini(t) is still harmless. */
int vm_tlb_init(struct vm_tlb *t, const struct vm_tlb_preset *p, int repl_override,
		struct vm_host *host, struct vm_rng *rng);
/* Free the arrays and zero t (a second fini does nothing). */
void vm_tlb_fini(struct vm_tlb *t, struct vm_host *host);

/* The array of a level that holds 4 KiB pages, or a shared always-missing
 * array when none does: what the fast path probes. */
struct vm_tlb_array *vm_tlb_fast_array(struct vm_tlb_level *lv);

/* The one entry the inline fast path checks for 4 KiB page vpn: always a
 * valid pointer into a->e (never written through unless its tag and PCID
 * match); a miss here only means "ask vm_tlb_lookup". */
static inline struct vm_tlbe *vm_tlb_fast_probe(const struct vm_tlb_array *a, uint64_t vpn)
{
	return &a->e[a->hint[vpn & a->hint_mask]];
}

/* Find the entry translating va for pcid in any array of the level, any
 * page size; mark it used at time now.  NULL on a miss. */
struct vm_tlbe *vm_tlb_lookup(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
			      uint16_t pcid, uint64_t now);

/* Mark a hit entry most recently used (the fast path calls this for PLRU
 * arrays; LRU needs only e->stamp = now). */
void vm_tlb_touch(struct vm_tlb_array *a, struct vm_tlbe *e, uint64_t now);

/* Insert the translation of va into the level, splintering when no array
 * holds f->size, replacing a victim chosen by the array's policy. */
void vm_tlb_fill(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		 const struct vm_tlb_fill *f, uint64_t now);

/* Drop one entry (after a fault raised from it, SDM 4.10.4.2). */
void vm_tlb_drop(struct vm_tlb *t, struct vm_tlbe *e);

/* Drop every entry of all three levels that matches m (with pcid), and, if
 * one_va, that also belongs to the page containing va: for a splintered
 * entry that is the whole large page it came from, so every splinter of the
 * page goes (SDM 4.10.2.3: INVLPG, INVPCID type 0 and page faults
 * invalidate all TLB entries for a large page cached as smaller ones). */
void vm_tlb_flush(struct vm_tlb *t, enum vm_tlb_match m, uint16_t pcid, bool one_va,
		  vm_vaddr va);

/* Valid entries in a level (for tests and reports). */
uint64_t vm_tlb_count(const struct vm_tlb_level *lv);

#endif
