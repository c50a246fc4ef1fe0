/*
 * Page replacement policies behind one interface (DESIGN.md: struct
 * evict_ops).  One file per policy, one line each in the registry
 * (evict.c), listed by `vmlab list policies`.
 *
 * Vocabulary.  A *frame* is a slot of memory, a dense index in
 * [0, params.frames): the kernel passes pfns, the lab its own slots.  A
 * *key* is the identity of the page in the frame (a vpn, a file page, the
 * lab's page number); policies with a history of evicted pages (ARC, S3-FIFO,
 * Linux's shadow entries) remember keys after the frame is reused.  The
 * *driver* (the lab now, the kernel's reclaim later) owns frames, decides
 * when memory is full and calls the policy:
 *
 *   insert(frame, ref)   a page entered memory in frame (after a fault:
 *                        Linux's folio_add_lru)
 *   access(frame, ref)   a hit, for policies that see every access
 *                        (VM_EVICT_SEES_ACCESSES); never called for others
 *   choose(ref)          the frame to evict now; ref is the reference that
 *                        needs the frame, or NULL (background reclaim,
 *                        kswapd); choosing does not evict
 *   remove(frame, evicted)  the page left: evicted = true after choose (the
 *                        policy may keep a ghost of it), false when it was
 *                        freed for another reason (munmap, exit)
 *   tick()               a clock interrupt (VM_EVICT_TICKS: NRU, aging)
 *
 * Contract: after choose() returns a frame the driver calls remove(frame,
 * true) before any other call.  While `e->more` is non-zero the policy has
 * decided to free more frames than one (S3-FIFO's evictS can move a page to
 * its main queue and evict from it): the driver calls choose/remove again
 * before the next insert.  The driver sets `e->now` (virtual time:
 * references so far) before each call.
 *
 * Shadows (Linux's shadow entries, mm/workingset.c).  A policy with a
 * history of evicted pages must find a page's ghost when the page comes
 * back.  A driver that has a slot per key anyway (the lab's frame_of[]
 * by page id, as Linux has the page-cache slot) sets params.shadows: then
 * remove(frame, true) leaves in e->shadow a value for the driver to keep
 * in the evicted key's slot, and the driver hands it back in ref->shadow
 * at that key's next miss (0 when it holds none).  The policy then needs
 * no table of its own from keys to ghosts: the ghost is found with one
 * array read.  Without params.shadows (the kernel) e->shadow is ignored
 * and policies look keys up in their own hash table.  Either way the
 * decisions are the same: a shadow only says where to look; the ghost
 * found must still hold the key.
 *
 * What a policy may see.  A policy declares VM_EVICT_SEES_ACCESSES when it
 * needs every hit (exact LRU, LFU, MRU, OPT, ARC, S3-FIFO): no MMU tells an
 * operating system about hits, so these are simulations of ideal hardware.
 * The realistic ones (VM_EVICT_USES_ABITS: second chance, CLOCK, NRU,
 * WSClock, aging, SIEVE, Linux) see only the Accessed and Dirty bits the MMU
 * sets in page-table entries, through vm_evict_young/dirty/writeback below.
 * Those bits live either in an array the driver keeps (params.bits: the lab
 * sets A on every reference and D on every write, as an MMU would) or behind
 * struct vm_evict_hw_ops (the kernel: the functions walk the reverse map and
 * test-and-clear the bit in every PTE mapping the frame, flushing the TLB
 * entry when they clear it, as ptep_clear_flush_young() does).
 *
 * How the kernel will drive it (issue 5 §1): the fault path calls insert
 * for a page it maps; reclaim (kswapd between the low and high watermarks,
 * direct reclaim below min) calls choose(NULL) / remove(frame, true) until it
 * has freed enough; unmapping calls remove(frame, false); a periodic tick
 * calls tick for NRU and aging; the exact policies get access() from the
 * machine's access path (which is what makes them unrealistic, and slow).
 */
#ifndef VM_POLICY_EVICT_H
#define VM_POLICY_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/host.h"
#include "base/rng.h"

/* What a policy needs (ops->flags). */
#define VM_EVICT_SEES_ACCESSES 0x1u   /* access() on every hit */
#define VM_EVICT_USES_ABITS    0x2u   /* reads and clears Accessed/Dirty bits */
#define VM_EVICT_NEEDS_FUTURE  0x4u   /* ref->next: the time of the next use (OPT) */
#define VM_EVICT_TICKS         0x8u   /* tick() every params.tick references */

/* Bits of params.bits[frame], set by the driver as the MMU sets PTE bits. */
#define VM_EVICT_A 0x1u               /* Accessed */
#define VM_EVICT_D 0x2u               /* Dirty */

/* ref->flags */
#define VM_EVICT_REF_WRITE 0x1u
#define VM_EVICT_REF_ANON  0x2u       /* anonymous (swap-backed) page; else file */

#define VM_EVICT_NONE   UINT32_MAX    /* no frame */
#define VM_EVICT_NEVER  UINT64_MAX    /* ref->next: not used again */

/* One reference as the driver hands it over. */
struct vm_evict_ref {
	uint64_t key;              /* the page's identity */
	uint64_t next;             /* NEEDS_FUTURE: time of the next reference to key, or NEVER */
	unsigned flags;            /* VM_EVICT_REF_* */
	uint32_t shadow;           /* params.shadows: what e->shadow was when key was
	                            * last evicted, 0 = none (see "Shadows" above) */
};

/* Accessed/Dirty bits kept in page tables (the kernel's case). */
struct vm_evict_hw_ops {
	/* Young mappings of the frame (0 if none); clear their A bits when
	 * clear is true (with TLB invalidation): Linux's folio_referenced().
	 * When exec is not NULL, *exec tells whether a young mapping is
	 * executable (the vm_flags folio_referenced() gathers). */
	int (*referenced)(void *ctx, uint32_t frame, bool clear, bool *exec);
	/* Is any mapping of the frame dirty? */
	bool (*dirty)(void *ctx, uint32_t frame);
	/* Write the page back and clear its Dirty bits. */
	void (*writeback)(void *ctx, uint32_t frame);
};

struct vm_evict_params {
	uint32_t frames;           /* frame indexes are < frames; > 0 */
	uint32_t capacity;         /* pages memory holds (ARC's c, S3-FIFO's sizes); 0 = frames */
	uint64_t seed;             /* random choices (random, NRU) */
	uint64_t tau;              /* WSClock's window, in references; 0 = frames */
	uint64_t tick;             /* references between clock ticks (NRU, aging); 0 = frames */
	unsigned swappiness;       /* linux: 0..200 (vm.swappiness); default 60 */
	bool swappiness_set;       /* swappiness was given (0 is a valid value) */
	bool shadows;              /* the driver keeps e->shadow per key (see above) */
	uint8_t *bits;             /* A/D bits per frame kept by the driver, or NULL ... */
	const struct vm_evict_hw_ops *hw;   /* ... and these functions instead */
	void *hw_ctx;
	struct vm_host *host;      /* allocations; NULL: the policy counts its own */
};

struct vm_evict_stats {
	uint64_t scanned;          /* Accessed-bit tests by the policy */
	uint64_t writebacks;       /* dirty pages the policy wrote back while scanning */
};

/* The part every policy shares; a policy's own struct begins with it. */
struct vm_evict {
	const struct vm_evict_ops *ops;
	uint32_t frames;           /* == params.frames */
	uint32_t capacity;         /* == params.capacity or frames */
	uint32_t used;             /* resident pages: inserts - removes */
	uint32_t more;             /* victims still to free before the next insert */
	uint64_t now;              /* virtual time, set by the driver */
	bool shadows;              /* == params.shadows */
	uint32_t shadow;           /* set by remove(frame, true): the evicted key's shadow, 0 = none */
	uint64_t tau, tick;
	unsigned swappiness;
	uint8_t *bits;
	const struct vm_evict_hw_ops *hw;
	void *hw_ctx;
	struct vm_host *host;
	struct vm_host own_host;
	struct vm_rng rng;
	struct vm_evict_stats stats;
};

struct vm_evict_ops {
	const char *name;
	const char *desc;          /* one line for `vmlab list policies` */
	const char *order_desc;    /* what order() lists: "LRU -> MRU" */
	unsigned flags;            /* VM_EVICT_* */
	size_t size;               /* of the policy's struct (begins with struct vm_evict) */
	int (*init)(struct vm_evict *e);              /* 0 or -ENOMEM; allocations via e->host */
	void (*fini)(struct vm_evict *e);
	void (*insert)(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r);
	void (*access)(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r);
	uint32_t (*choose)(struct vm_evict *e, const struct vm_evict_ref *r);
	void (*remove)(struct vm_evict *e, uint32_t frame, bool evicted);
	void (*tick)(struct vm_evict *e);
	/* Resident frames in the policy's order (order_desc) into frames[],
	 * which has room for e->used; returns how many. */
	uint32_t (*order)(const struct vm_evict *e, uint32_t *frames);
	/* Optional: a short mark for a frame ("A", "f=2", "active"), "" for none. */
	void (*note)(const struct vm_evict *e, uint32_t frame, char *buf, size_t len);
	/* Optional: the policy's own state in a line ("p=2 B1=[5] B2=[]"). */
	void (*state)(const struct vm_evict *e, char *buf, size_t len);
	/* Validate the policy's structures: 0 or -EUCLEAN with msg. */
	int (*check)(const struct vm_evict *e, char *msg, size_t len);
	/* Optional, for speed only: a reference to key (resident in frame, or
	 * VM_EVICT_NONE with the driver's shadow for key, 0 for none) comes
	 * soon; start loading what access() or a miss will touch
	 * (__builtin_prefetch).  Must not change any state. */
	void (*prefetch)(const struct vm_evict *e, uint32_t frame, uint64_t key, uint32_t shadow);
};

/* The registry. */
const struct vm_evict_ops *vm_evict_at(unsigned i);          /* NULL past the end */
const struct vm_evict_ops *vm_evict_find(const char *name);   /* NULL if unknown */

/* A policy instance: 0, -EINVAL (no ops, frames == 0, capacity > frames,
 * swappiness > 200, neither or both of bits/hw for a policy that uses
 * Accessed bits) or -ENOMEM. */
int vm_evict_create(const struct vm_evict_ops *ops, const struct vm_evict_params *p,
		    struct vm_evict **out);
void vm_evict_destroy(struct vm_evict *e);       /* NULL is fine */

/* Calls through the ops, keeping e->used.  Preconditions (the driver's
 * business, checked in debug builds): insert a frame not resident; access,
 * remove a resident frame; choose with used > 0. */
static inline void vm_evict_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	e->used++;
	e->ops->insert(e, frame, r);
}

static inline void vm_evict_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	e->ops->access(e, frame, r);
}

static inline uint32_t vm_evict_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	return e->ops->choose(e, r);
}

static inline void vm_evict_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	e->shadow = 0;
	e->ops->remove(e, frame, evicted);
	e->used--;
}

/* For policies: the Accessed bit of frame, cleared when clear is true
 * (counted in stats.scanned). */
static inline bool vm_evict_young(struct vm_evict *e, uint32_t frame, bool clear)
{
	e->stats.scanned++;
	if (e->bits) {
		bool young = e->bits[frame] & VM_EVICT_A;
		if (clear)
			e->bits[frame] &= (uint8_t)~VM_EVICT_A;
		return young;
	}
	return e->hw->referenced(e->hw_ctx, frame, clear, NULL) > 0;
}

/* Linux's folio_referenced(): the number of young mappings, cleared;
 * *exec (when not NULL) whether one of them is executable (never with
 * bits: the lab's pages have no mappings). */
static inline int vm_evict_referenced_exec(struct vm_evict *e, uint32_t frame, bool *exec)
{
	if (exec)
		*exec = false;
	if (e->bits)
		return vm_evict_young(e, frame, true) ? 1 : 0;
	e->stats.scanned++;
	return e->hw->referenced(e->hw_ctx, frame, true, exec);
}

static inline int vm_evict_referenced(struct vm_evict *e, uint32_t frame)
{
	return vm_evict_referenced_exec(e, frame, NULL);
}

static inline bool vm_evict_dirty(const struct vm_evict *e, uint32_t frame)
{
	if (e->bits)
		return e->bits[frame] & VM_EVICT_D;
	return e->hw->dirty(e->hw_ctx, frame);
}

/* The A and D bits of frame for display (VM_EVICT_A | VM_EVICT_D), read
 * without clearing and without counting a scan. */
static inline unsigned vm_evict_peek(const struct vm_evict *e, uint32_t frame)
{
	if (e->bits)
		return e->bits[frame];
	return (e->hw->referenced(e->hw_ctx, frame, false, NULL) > 0 ? VM_EVICT_A : 0) |
	       (e->hw->dirty(e->hw_ctx, frame) ? VM_EVICT_D : 0);
}

/* Write a dirty page back (WSClock cleans while it scans). */
static inline void vm_evict_writeback(struct vm_evict *e, uint32_t frame)
{
	e->stats.writebacks++;
	if (e->bits)
		e->bits[frame] &= (uint8_t)~VM_EVICT_D;
	else
		e->hw->writeback(e->hw_ctx, frame);
}

/* Allocation helpers for policies' init (zeroed, on 2 MiB pages where
 * large; freed by vm_evict_free). */
void *vm_evict_alloc(struct vm_evict *e, size_t count, size_t size);
void vm_evict_free(struct vm_evict *e, void *p);

#endif
