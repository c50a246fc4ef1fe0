/*
 * A u64 -> u64 hash map with open addressing (linear probing, deletion by
 * backward shift, so there are no tombstones and a lookup stops at the
 * first empty slot).  The table is a power of two of slots, at most 3/4
 * full; it allocates only when it grows, through the machine's struct
 * vm_host, so lookups, updates of existing keys and deletions never
 * allocate.  Every u64 is a valid key: UINT64_MAX, the empty-slot marker,
 * lives in a slot of its own beside the table.
 *
 * Used for the page cache (page index -> frame) and anywhere else a sparse
 * index needs O(1) lookups.
 */
#ifndef VM_BASE_U64MAP_H
#define VM_BASE_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/host.h"

struct vm_u64map_slot {
	uint64_t key;             /* UINT64_MAX = empty */
	uint64_t val;
};

struct vm_u64map {
	struct vm_host *host;
	struct vm_u64map_slot *slots;   /* cap slots, or NULL before the first insert */
	uint64_t cap;             /* 0 or a power of two >= 8 */
	uint64_t count;           /* keys in slots[] (not the UINT64_MAX key); <= cap * 3/4 */
	bool has_max;             /* the key UINT64_MAX is present, with value max_val */
	uint64_t max_val;
};

/* An empty map that will allocate through host.  Allocates nothing. */
void vm_u64map_init(struct vm_u64map *m, struct vm_host *host);
/* Free the table; the map is empty afterwards and may be reused. */
void vm_u64map_fini(struct vm_u64map *m);

/* splitmix64's finaliser: keys that differ in any bit land far apart, so
 * sequential page indexes do not form long probe runs. */
static inline uint64_t vm_u64map_hash(uint64_t k)
{
	k ^= k >> 30;
	k *= UINT64_C(0xbf58476d1ce4e5b9);
	k ^= k >> 27;
	k *= UINT64_C(0x94d049bb133111eb);
	k ^= k >> 31;
	return k;
}

/* For speed only, changing nothing: start loading the slot a lookup of key
 * reads first.  A loop over many keys of a map larger than the caches
 * calls it some keys ahead, so that the misses overlap. */
static inline void vm_u64map_prefetch(const struct vm_u64map *m, uint64_t key)
{
	if (m->slots)
		__builtin_prefetch(&m->slots[vm_u64map_hash(key) & (m->cap - 1)]);
}

/* Keys in the map. */
static inline uint64_t vm_u64map_count(const struct vm_u64map *m)
{
	return m->count + (m->has_max ? 1 : 0);
}

/* Make room for n keys in total so that inserting up to n allocates
 * nothing more.  0 or -ENOMEM (the map is unchanged). */
int vm_u64map_reserve(struct vm_u64map *m, uint64_t n);

/* Insert key or replace its value.  0, or -ENOMEM when the table had to
 * grow and could not (the map is unchanged). */
int vm_u64map_put(struct vm_u64map *m, uint64_t key, uint64_t val);

/* The slot holding key, or the empty slot where it would go (a table
 * with slots; key not UINT64_MAX): linear probing from the key's home. */
static inline uint64_t vm_u64map_probe(const struct vm_u64map *m, uint64_t key)
{
	uint64_t mask = m->cap - 1, i = vm_u64map_hash(key) & mask;

	while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key)
		i = (i + 1) & mask;
	return i;
}

/* The value of key: true and *val (val may be NULL), or false.  Inline:
 * lookups are the hot part of the page cache and the policy lab's ids. */
static inline bool vm_u64map_get(const struct vm_u64map *m, uint64_t key, uint64_t *val)
{
	if (key == UINT64_MAX) {
		if (m->has_max && val)
			*val = m->max_val;
		return m->has_max;
	}
	if (!m->cap)
		return false;
	uint64_t i = vm_u64map_probe(m, key);
	if (m->slots[i].key != key)
		return false;
	if (val)
		*val = m->slots[i].val;
	return true;
}

/* Remove key: true and its value in *val (val may be NULL), or false when
 * it was not there.  Never allocates or shrinks. */
bool vm_u64map_del(struct vm_u64map *m, uint64_t key, uint64_t *val);

/* Iterate: start with *pos = 0; each call returns true with the next key
 * and value, false at the end.  The order is the table's, not the keys'.
 * The map must not change during an iteration except by deleting the key
 * just returned and then calling vm_u64map_next_after_del: deletion shifts
 * later keys back, possibly into the slot just visited, and this makes the
 * next call look at that slot again.  No key is skipped; a key may be
 * returned twice when a shift wraps around the end of the table, so a
 * deleting loop must use a test that is false for the keys it keeps. */
bool vm_u64map_next(const struct vm_u64map *m, uint64_t *pos, uint64_t *key, uint64_t *val);
void vm_u64map_next_after_del(uint64_t *pos);

/* Validate: every key reachable from its home slot without crossing an
 * empty slot, count right, load within bounds.  0 or -EUCLEAN with msg. */
int vm_u64map_check(const struct vm_u64map *m, char *msg, size_t len);

#endif
