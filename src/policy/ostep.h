/*
 * The semantics of OSTEP's paging simulator (Arpaci-Dusseau, "Operating
 * Systems: Three Easy Pieces", homework vm-beyondphys-policy,
 * paging-policy.py), reimplemented so that `vmlab policy --ostep` gives
 * the same answers for the same options and seed.
 *
 * Its memory is a Python list and its policies act on list positions:
 *   a hit leaves the list alone, except LRU and MRU move the page to the end;
 *   a miss with the list full removes a victim, then appends the page;
 *   FIFO and LRU remove position 0, MRU the last position;
 *   RAND removes position int(random() * count);
 *   OPT removes the page whose next use is furthest (never used again counts
 *     as the end of the string); ties go to the LAST such page in the list;
 *   UNOPT removes the page used soonest; ties go to the FIRST;
 *   CLOCK keeps a counter per page (set to 1 when the page first enters,
 *     incremented by each later access up to clockbits); on a miss it picks
 *     positions at random, int(random() * count), decrementing the counter of
 *     each page it picks, until it picks one whose counter is 0.
 * The random numbers are Python's (base/mt19937.h).
 */
#ifndef VM_POLICY_OSTEP_H
#define VM_POLICY_OSTEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/host.h"
#include "base/mt19937.h"
#include "base/u64map.h"

enum vm_ostep_policy {
	VM_OSTEP_FIFO,
	VM_OSTEP_LRU,
	VM_OSTEP_MRU,
	VM_OSTEP_OPT,
	VM_OSTEP_UNOPT,
	VM_OSTEP_RAND,
	VM_OSTEP_CLOCK,
};

struct vm_ostep {
	struct vm_host *host;
	enum vm_ostep_policy policy;
	int64_t cachesize;         /* as given; a negative size never fills */
	int64_t clockbits;
	const int64_t *addrs;      /* the whole reference string (OPT reads ahead) */
	size_t naddrs;
	size_t index;              /* the next reference */
	struct vm_mt *mt;
	int64_t *memory;           /* the list, memory[0..count) */
	size_t count;
	struct vm_u64map ref;      /* CLOCK's counters: page -> counter (as uint64) */
	uint64_t hits, misses;
};

/* The policy named name exactly as paging-policy.py spells it ("FIFO",
 * "LRU", "MRU", "OPT", "UNOPT", "RAND", "CLOCK"), or -1. */
int vm_ostep_policy_find(const char *name);

/* Ready to run addrs[0..n) (kept by pointer).  0 or -ENOMEM. */
int vm_ostep_init(struct vm_ostep *o, struct vm_host *host, enum vm_ostep_policy policy,
		  int64_t cachesize, int64_t clockbits, const int64_t *addrs, size_t n,
		  struct vm_mt *mt);
void vm_ostep_fini(struct vm_ostep *o);

/* The next reference: *hit, and *victim (-1 for none, as the script
 * prints it).  0; -ERANGE when the cache size is 0 (the script fails:
 * it pops from an empty list); -ENOMEM; -EINVAL past the end. */
int vm_ostep_step(struct vm_ostep *o, bool *hit, int64_t *victim);

#endif
