/*
 * Ghost lists (ghost.h).
 */
#include "policy/ghost.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "policy/evict.h"

#define HEAD(g, l)  ((g)->cap + (uint32_t)(l))
#define FREE(g)     ((g)->cap + VM_GHOST_LISTS)
#define TOP32       (~UINT64_C(0xffffffff))

/* Fibonacci hashing (keys are often dense page numbers): the top half
 * picks the home slot and is kept in the slot. */
static inline uint64_t hash64(uint64_t key)
{
	return key * UINT64_C(0x9e3779b97f4a7c15);
}

static inline uint32_t home_of(const struct vm_ghost *g, uint64_t slot_or_hash)
{
	return (uint32_t)(slot_or_hash >> 32) >> g->hshift;
}

static inline uint32_t slot_node(uint64_t s)
{
	return (uint32_t)s - 1u;
}

int vm_ghost_init(struct vm_ghost *g, struct vm_host *host, uint32_t cap, bool hashed)
{
	uint64_t slots = 8;

	memset(g, 0, sizeof(*g));
	if (cap == 0 || (!hashed && cap >= INT32_MAX))
		return -EINVAL;
	while (slots < (uint64_t)cap * 2)
		slots <<= 1;
	g->cap = cap;
	g->hmask = (uint32_t)(slots - 1);
	g->hshift = 32 - (unsigned)__builtin_ctzll(slots);
	g->node = vm_host_calloc(host, (size_t)cap + VM_GHOST_LISTS + 1, sizeof(*g->node));
	if (hashed)
		g->slot = vm_host_calloc(host, slots, sizeof(*g->slot));
	else
		g->tag = vm_host_calloc(host, cap, sizeof(*g->tag));
	vm_host_hugepages(g->node, ((size_t)cap + VM_GHOST_LISTS + 1) * sizeof(*g->node));
	vm_host_hugepages(g->slot, slots * sizeof(*g->slot));
	if (!g->node || (hashed ? !g->slot : !g->tag)) {
		vm_ghost_fini(g, host);
		return -ENOMEM;
	}
	for (unsigned l = 0; l <= VM_GHOST_LISTS; l++) {
		g->node[cap + l].next = g->node[cap + l].prev = cap + l;
		g->node[cap + l].list = l;
	}
	for (uint32_t n = 0; n < cap; n++) {
		g->node[n].list = VM_GHOST_LISTS;
		if (g->tag)
			g->tag[n] = 1;            /* free, key 0 */
		vm_ghost_link_after(g, n, FREE(g));
	}
	return 0;
}

void vm_ghost_fini(struct vm_ghost *g, struct vm_host *host)
{
	vm_host_free(host, g->node);
	vm_host_free(host, g->slot);
	vm_host_free(host, g->tag);
	memset(g, 0, sizeof(*g));
}

uint32_t vm_ghost_find_hashed(const struct vm_ghost *g, uint64_t key)
{
	uint64_t h = hash64(key), fp = h & TOP32;
	for (uint32_t i = home_of(g, h);; i = (i + 1) & g->hmask) {
		uint64_t s = g->slot[i];
		if (s == 0)
			return VM_GHOST_NONE;
		if ((s & TOP32) == fp && g->node[slot_node(s)].key == key)
			return slot_node(s);
	}
}

void vm_ghost_hash_del(struct vm_ghost *g, uint32_t i)
{
	/* Backward shift: move later entries of the probe run into the hole
	 * when their home slot is not cyclically in (hole, j]. */
	for (uint32_t j = (i + 1) & g->hmask;; j = (j + 1) & g->hmask) {
		uint64_t s = g->slot[j];
		if (s == 0)
			break;
		uint32_t home = home_of(g, s);
		if (((j - home) & g->hmask) >= ((j - i) & g->hmask)) {
			g->slot[i] = s;
			g->node[slot_node(s)].slot = i;
			i = j;
		}
	}
	g->slot[i] = 0;
}

void vm_ghost_hash_add(struct vm_ghost *g, uint64_t key, uint32_t node)
{
	uint64_t h = hash64(key);
	uint32_t i = home_of(g, h);
	while (g->slot[i])
		i = (i + 1) & g->hmask;
	g->slot[i] = (h & TOP32) | (node + 1u);
	g->node[node].slot = i;
}

void vm_ghost_format(const struct vm_ghost *g, unsigned list, char *buf, size_t len)
{
	size_t o;
	int w = snprintf(buf, len, "[");
	o = w > 0 ? (size_t)w : 0;
	for (uint32_t n = g->node[HEAD(g, list)].prev; n < g->cap && o < len; n = g->node[n].prev) {
		if (o + 24 >= len) {
			snprintf(buf + o, len - o, "...");
			return;
		}
		w = snprintf(buf + o, len - o, "%s%" PRIu64, o > 1 ? " " : "", g->node[n].key);
		o += w > 0 ? (size_t)w : 0;
	}
	if (o < len)
		snprintf(buf + o, len - o, "]");
}

int vm_ghost_check(const struct vm_ghost *g, char *msg, size_t len)
{
	uint32_t total = 0, hashed = 0;
	for (unsigned l = 0; l < VM_GHOST_LISTS; l++) {
		uint32_t count = 0, prev = HEAD(g, l);
		for (uint32_t n = g->node[HEAD(g, l)].next; n != HEAD(g, l); n = g->node[n].next) {
			if (n >= g->cap || g->node[n].prev != prev || ++count > g->cap)
				return vm_check_fail(msg, len, "ghost list %u is broken at node %u", l, n);
			if (g->node[n].list != l)
				return vm_check_fail(msg, len, "ghost node %u on list %u says %u", n, l,
						     g->node[n].list);
			if (vm_ghost_find(g, g->node[n].key, vm_ghost_shadow(n)) != n)
				return vm_check_fail(msg, len, "ghost key %" PRIu64 " not found",
						     g->node[n].key);
			if (g->slot && slot_node(g->slot[g->node[n].slot]) != n)
				return vm_check_fail(msg, len, "ghost node %u: slot %u holds another", n,
						     g->node[n].slot);
			prev = n;
		}
		if (count != g->len[l])
			return vm_check_fail(msg, len, "ghost list %u has %u nodes, len %u", l, count,
					     g->len[l]);
		total += count;
	}
	for (uint32_t i = 0; g->slot && i <= g->hmask; i++)
		hashed += g->slot[i] != 0;
	if (!g->slot)
		hashed = total;
	if (total != g->used || hashed != g->used)
		return vm_check_fail(msg, len, "ghosts: %u on lists, %u hashed, used %u", total, hashed,
				     g->used);
	return 0;
}
