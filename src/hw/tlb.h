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
 * Every array has an exact index: an open-addressed hash table from an
 * entry's tag to its slot, so that finding an entry costs one short probe
 * chain per page size whatever the associativity (a 72-way fully associative
 * set is not scanned).  Sets still decide where a fill may go and what it
 * evicts; the index only finds.  The access fast path (mmu.h) reads the home
 * slot of vpn << 2 in the pointer copy of the index that the L1 arrays keep,
 * then one cache line of the entry: a key compare, a rights test.
 */
#ifndef VM_HW_TLB_H
#define VM_HW_TLB_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmlab/types.h>

#include "base/host.h"
#include "base/rng.h"

#define VM_TLB_ARRAYS_MAX 3
#define VM_TLB_TAG_INVALID UINT64_MAX
/* The key of an entry the fast path must not use.  A key is otherwise a vpn,
 * va >> 12 < 2^52, so no vpn equals it. */
#define VM_TLB_KEY_NONE UINT64_MAX

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
	/* An access that a TLB entry refuses re-walks the tables before it
	 * faults, so an entry with fewer rights than its PTE (rights added
	 * without a flush) is refreshed silently: AMD's MMUs (FreeBSD's pmap
	 * relies on it, commit 6254027, "AMD's MMUs will transparently refresh
	 * a stale TLB entry").  Intel's may fault from the stale entry instead
	 * (SDM 4.10.4.3), which Linux takes as a spurious minor fault. */
	bool refresh_stale;
};

/* The registry: the i-th preset (NULL past the end), and lookup by name. */
const struct vm_tlb_preset *vm_tlb_preset_at(unsigned i);
const struct vm_tlb_preset *vm_tlb_preset_find(const char *name);

/*
 * One entry: 64 bytes, one cache line (arrays are 64-byte aligned).  The first
 * 28 bytes are all the fast path (mmu.h) reads and writes: key, delta, stamp,
 * pbit.  They are derived from the fields after them when the entry is filled,
 * and key again when the TLB's PCID changes (vm_tlb_set_pcid); vm_tlb_check
 * verifies them.
 */
struct vm_tlbe {
	uint64_t key;        /* vpn (va >> 12) of a valid 4 KiB entry in a fast array
			      * that is global or of the TLB's current PCID (struct
			      * vm_tlb pcid); else VM_TLB_KEY_NONE.  One compare then
			      * says "this entry translates vpn here" */
	uint64_t delta;      /* pbase - the va of the entry's page (mod 2^64), so a
			      * va in the page translates to va + delta */
	uint64_t stamp;      /* recency for LRU: the CPU's access clock at the last use;
			      * >= 1 if valid, 0 if empty (so empty ways are the oldest).
			      * Written by tlb.c, and by the fast path with a value above
			      * every stamp in the array (vm_tlb_touch) */
	uint32_t pbit;       /* 1u << perm, tested against the CPU's hit_ok[acc] */
	uint16_t pcid;
	uint16_t pcid_mask;  /* 0xfff, or 0 for a global entry (matches any PCID) */
	uint64_t tag;        /* (va >> page shift) << 2 | size; VM_TLB_TAG_INVALID if empty */
	uint64_t pbase;      /* physical base of the page this entry maps */
	uint8_t size;        /* enum vm_psize of the entry (after splintering) */
	uint8_t perm;        /* VM_PERM_* rights of the translation */
	uint8_t pkey;        /* protection key of the leaf */
	uint8_t psize;       /* enum vm_psize of the page as mapped; > size: a splinter */
	uint8_t pad[12];
};

static_assert(sizeof(struct vm_tlbe) == 64, "a TLB entry is one cache line");

struct vm_tlb_lru;      /* private to the TLB files (tlb_internal.h) */

/*
 * The index of an array: ix[] has a power of two of at least 4 * sets * ways
 * slots; a slot holds 0 (empty) or 1 + the slot in e[] of a valid entry.
 * Linear probing from the home slot vm_tlb_home(a, tag), backward-shift
 * deletion, so that for every valid entry x:
 *   exactly one index slot i holds 1 + (x - e), and no slot in the cyclic
 *   range [vm_tlb_home(a, x->tag), i] is empty;
 * and no index slot names an empty entry.  Entries of one tag under several
 * PCIDs have one index slot each.  ent = e - 1, so ent[ix[i]] is always a
 * readable entry: an empty index slot names ent[0], the sentinel, which stays
 * empty for ever.  A fast array (the 4 KiB array of an L1 level, which the
 * fast path probes) also keeps fx[i] == &ent[ix[i]] for every i, so that the
 * fast path loads the entry's address instead of computing it.
 * vm_tlb_check() verifies all of this.
 */
struct vm_tlb_array {
	struct vm_tlbe **fx;    /* fast arrays: the index as entry pointers; else NULL */
	uint32_t ix_mask;
	uint32_t ix_shift;      /* 64 - log2(ix_mask + 1), for vm_tlb_home() */
	uint64_t *plru;         /* one tree of ways - 1 bits per set (PLRU only) */
	uint64_t *plru_path;    /* PLRU, for each way w: [2w] the tree bits a use of w
				   changes, [2w + 1] their new values */
	uint32_t ways_shift;    /* log2(ways) when ways is a power of two */
	struct vm_tlbe *e;      /* sets * ways entries, set-major: e[set * ways + way] */
	struct vm_tlbe *ent;    /* e - 1: ent[0] the sentinel, ent[1 + slot] == e[slot] */
	uint32_t *ix;           /* the index, ix_mask + 1 slots */
	struct vm_tlb_lru *lru; /* LRU victim candidates per set (LRU, many ways only) */
	void *ent_mem;          /* the allocation ent lies in (aligned up to 64 bytes) */
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
	uint16_t pcid;             /* the owning CPU's current PCID, for the entries'
				      keys (vm_tlb_set_pcid); 0 after init */
	bool refresh_stale;        /* the preset's: see struct vm_tlb_preset */
	uint64_t fills, evictions, invalidated;   /* see stats.h */
};

/* Entries of one array at the most (so that its index fits uint32_t slots). */
#define VM_TLB_ENTRIES_MAX (UINT32_C(1) << 24)

/* Build the arrays of a preset; an array of 0 entries is none.  repl_override
 * < 0 keeps each array's own policy.  Returns 0, -EINVAL (p NULL,
 * repl_override not a policy, an array's ways are 0 or do not divide its
 * entries, more than VM_TLB_ENTRIES_MAX entries, PLRU with ways not a power
 * of two or above 64, no page size, VM_REPL_RANDOM with rng NULL), -ENOMEM.
 * On failure nothing stays allocated and t is zeroed, so vm_tlb_fini(t) is
 * still harmless. */
int vm_tlb_init(struct vm_tlb *t, const struct vm_tlb_preset *p, int repl_override,
		struct vm_host *host, struct vm_rng *rng);
/* Free the arrays and zero t (a second fini does nothing). */
void vm_tlb_fini(struct vm_tlb *t, struct vm_host *host);

/* The array of a level that holds 4 KiB pages, or a shared always-missing
 * array when none does: what the fast path probes. */
struct vm_tlb_array *vm_tlb_fast_array(struct vm_tlb_level *lv);

/* Home slot of tag in a's index: Fibonacci hashing (Knuth 6.4), the top bits
 * of tag * 2^64 / phi, so that consecutive pages scatter over the index. */
static inline uint32_t vm_tlb_home(const struct vm_tlb_array *a, uint64_t tag)
{
	return (uint32_t)((tag * UINT64_C(0x9E3779B97F4A7C15)) >> a->ix_shift);
}

/* The one entry the inline fast path checks for 4 KiB page vpn: the entry
 * named by the home slot of tag vpn << 2, always a valid pointer to read (the
 * sentinel when that slot is empty; never written through unless its tag and
 * PCID match).  A miss here only means "ask vm_tlb_lookup": the entry may sit
 * further along the probe chain after a collision. */
static inline struct vm_tlbe *vm_tlb_fast_probe(const struct vm_tlb_array *a, uint64_t vpn)
{
	return &a->ent[a->ix[vm_tlb_home(a, vpn << 2)]];
}

/* vm_tlb_fast_probe for a fast array (one vm_tlb_fast_array returns): the
 * same entry, one load shorter.  It answers the fast path for an access to
 * vpn iff e->key == vpn (and the rights allow the access: e->pbit). */
static inline struct vm_tlbe *vm_tlb_fast_entry(const struct vm_tlb_array *a, uint64_t vpn)
{
	/* vm_tlb_home(a, vpn << 2), with the shift folded into the multiplier
	 * (mod 2^64 they are the same product) and no narrowing to 32 bits,
	 * which would cost an instruction on the hit path. */
	return a->fx[(vpn * (UINT64_C(0x9E3779B97F4A7C15) << 2)) >> a->ix_shift];
}

/* Tree pseudo-LRU: mark way e of its set most recently used, by setting the
 * bits on its path to point away from it (plru_path, built by tlb_init.c).
 * a->plru != NULL; a PLRU array's ways are a power of two. */
static inline void vm_tlb_touch_plru(const struct vm_tlb_array *a, const struct vm_tlbe *e)
{
	uint32_t slot = (uint32_t)(e - a->e);
	uint64_t *tree = &a->plru[slot >> a->ways_shift];
	const uint64_t *path = &a->plru_path[2 * (slot & (a->ways - 1))];
	*tree = (*tree & ~path[0]) | path[1];
}

/* Find the entry translating va for pcid in any array of the level, any
 * page size; mark it used at time now (>= 1).  The first array in level order
 * that holds one wins, within it the smallest page size, and among entries
 * of one tag (a global one and another PCID's non-global one) the lowest way.
 * NULL on a miss. */
struct vm_tlbe *vm_tlb_lookup(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
			      uint16_t pcid, uint64_t now);

/* Mark a hit entry most recently used at time now (>= 1).  The fast path
 * may instead write e->stamp = now itself, and call vm_tlb_touch_plru for a
 * PLRU array, but only with a now above every stamp the array holds (a clock
 * incremented for each use, as the CPU's is): the LRU victim choice relies on
 * it to skip rescanning a large set.  Any now is fine through this call. */
void vm_tlb_touch(struct vm_tlb_array *a, struct vm_tlbe *e, uint64_t now);

/* The owning CPU's PCID is now pcid (CR3 or CR4 written): re-key the fast
 * arrays' entries, so that the fast path's one key compare is also the PCID
 * check.  Costs a pass over the fast arrays when pcid changes. */
void vm_tlb_set_pcid(struct vm_tlb *t, uint16_t pcid);

/* Put the translation of va into the level at time now (>= 1), splintering
 * when no array holds f->size.  The entry a lookup of va under f->pcid would
 * use in the chosen array, if any, is overwritten rather than a second one
 * added; else a victim chosen by the array's policy is replaced (the lowest
 * empty way first). */
void vm_tlb_fill(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		 const struct vm_tlb_fill *f, uint64_t now);

/* vm_tlb_fill without the search for an entry to overwrite.  The caller
 * guarantees that vm_tlb_lookup(t, lv, va, f->pcid, ...) would miss, as it
 * does right after that lookup missed; the result is then exactly that of
 * vm_tlb_fill.  (Breaking the promise leaves a second entry for the
 * translation where vm_tlb_fill would have overwritten the first; debug
 * builds assert.) */
void vm_tlb_insert(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		   const struct vm_tlb_fill *f, uint64_t now);

/* Drop one entry of t (after a fault raised from it, SDM 4.10.4.2).  NULL, an
 * empty entry or a pointer into no array of t does nothing. */
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

/* Validate every array of t: valid entries well formed and in their set,
 * empty entries (and the sentinel) with stamp 0, and the index exact (see
 * struct vm_tlb_array).  Returns 0 (msg set to "") or -EUCLEAN with the first
 * problem in msg (msg may be NULL, len bytes).  Costs O(index slots + entries
 * * probe chain length). */
int vm_tlb_check(const struct vm_tlb *t, char *msg, size_t len);

#endif
