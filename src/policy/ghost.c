/*
 * Ghost lists (ghost.h).
 */
#include "policy/ghost.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

#define HEAD(g, l)  ((g)->cap + (uint32_t)(l))
#define FREE(g)     ((g)->cap + VM_GHOST_LISTS)

static inline uint32_t hash_key(const struct vm_ghost *g, uint64_t key)
{
	/* Fibonacci hashing: keys are often dense page numbers. */
	return (uint32_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & g->hmask;
}

int vm_ghost_init(struct vm_ghost *g, struct vm_host *host, uint32_t cap)
{
	uint64_t slots = 8;

	memset(g, 0, sizeof(*g));
	if (cap == 0)
		return -EINVAL;
	while (slots < (uint64_t)cap * 2)
		slots <<= 1;
	g->cap = cap;
	g->hmask = (uint32_t)(slots - 1);
	g->key = vm_host_calloc(host, cap, sizeof(*g->key));
	g->val = vm_host_calloc(host, cap, sizeof(*g->val));
	g->list = vm_host_calloc(host, cap, sizeof(*g->list));
	g->link = vm_host_calloc(host, (size_t)cap + VM_GHOST_LISTS + 1, sizeof(*g->link));
	g->slot = vm_host_calloc(host, slots, sizeof(*g->slot));
	if (!g->key || !g->val || !g->list || !g->link || !g->slot) {
		vm_ghost_fini(g, host);
		return -ENOMEM;
	}
	for (unsigned l = 0; l <= VM_GHOST_LISTS; l++)
		vm_ilist_init(g->link, cap + l);
	for (uint32_t n = 0; n < cap; n++)
		vm_ilist_add_tail(g->link, n, FREE(g));
	return 0;
}

void vm_ghost_fini(struct vm_ghost *g, struct vm_host *host)
{
	vm_host_free(host, g->key);
	vm_host_free(host, g->val);
	vm_host_free(host, g->list);
	vm_host_free(host, g->link);
	vm_host_free(host, g->slot);
	memset(g, 0, sizeof(*g));
}

uint32_t vm_ghost_find(const struct vm_ghost *g, uint64_t key)
{
	for (uint32_t i = hash_key(g, key);; i = (i + 1) & g->hmask) {
		uint32_t s = g->slot[i];
		if (s == 0)
			return VM_GHOST_NONE;
		if (g->key[s - 1] == key)
			return s - 1;
	}
}

static void hash_del(struct vm_ghost *g, uint32_t node)
{
	uint32_t i = hash_key(g, g->key[node]);
	while (g->slot[i] != node + 1)
		i = (i + 1) & g->hmask;
	/* Backward shift: move later entries of the probe run into the hole
	 * when their home slot is not cyclically in (hole, j]. */
	for (uint32_t j = (i + 1) & g->hmask;; j = (j + 1) & g->hmask) {
		uint32_t s = g->slot[j];
		if (s == 0)
			break;
		uint32_t home = hash_key(g, g->key[s - 1]);
		if (((j - home) & g->hmask) >= ((j - i) & g->hmask)) {
			g->slot[i] = s;
			i = j;
		}
	}
	g->slot[i] = 0;
}

void vm_ghost_del(struct vm_ghost *g, uint32_t node)
{
	hash_del(g, node);
	g->len[g->list[node]]--;
	g->used--;
	vm_ilist_del(g->link, node);
	vm_ilist_add(g->link, node, FREE(g));
}

uint32_t vm_ghost_push(struct vm_ghost *g, unsigned list, uint64_t key, uint64_t val)
{
	if (vm_ilist_empty(g->link, FREE(g))) {
		unsigned from = g->len[list] ? list : (unsigned)(list ^ 1);
		vm_ghost_del(g, vm_ilist_last(g->link, HEAD(g, from)));
	}
	uint32_t n = vm_ilist_first(g->link, FREE(g));
	vm_ilist_del(g->link, n);
	g->key[n] = key;
	g->val[n] = val;
	g->list[n] = (uint8_t)list;
	vm_ilist_add(g->link, n, HEAD(g, list));
	g->len[list]++;
	g->used++;
	uint32_t i = hash_key(g, key);
	while (g->slot[i])
		i = (i + 1) & g->hmask;
	g->slot[i] = n + 1;
	return n;
}

uint32_t vm_ghost_oldest(const struct vm_ghost *g, unsigned list)
{
	return g->len[list] ? vm_ilist_last(g->link, HEAD(g, list)) : VM_GHOST_NONE;
}

uint32_t vm_ghost_newest(const struct vm_ghost *g, unsigned list)
{
	return g->len[list] ? vm_ilist_first(g->link, HEAD(g, list)) : VM_GHOST_NONE;
}

uint32_t vm_ghost_older(const struct vm_ghost *g, uint32_t node)
{
	uint32_t n = g->link[node].next;
	return n >= g->cap ? VM_GHOST_NONE : n;
}

void vm_ghost_format(const struct vm_ghost *g, unsigned list, char *buf, size_t len)
{
	size_t o = 0;
	int w = snprintf(buf, len, "[");
	o = w > 0 ? (size_t)w : 0;
	for (uint32_t n = vm_ilist_last(g->link, HEAD(g, list)); n < g->cap && o < len;
	     n = g->link[n].prev) {
		if (o + 24 >= len) {
			snprintf(buf + o, len - o, "...");
			return;
		}
		w = snprintf(buf + o, len - o, "%s%" PRIu64, o > 1 ? " " : "", g->key[n]);
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
		for (uint32_t n = g->link[HEAD(g, l)].next; n != HEAD(g, l); n = g->link[n].next) {
			if (n >= g->cap || g->link[n].prev != prev || ++count > g->cap)
				return vm_check_fail(msg, len, "ghost list %u is broken at node %u", l, n);
			if (g->list[n] != l)
				return vm_check_fail(msg, len, "ghost node %u on list %u says %u", n, l,
						     g->list[n]);
			if (vm_ghost_find(g, g->key[n]) != n)
				return vm_check_fail(msg, len, "ghost key %" PRIu64 " not found",
						     g->key[n]);
			prev = n;
		}
		if (count != g->len[l])
			return vm_check_fail(msg, len, "ghost list %u has %u nodes, len %u", l, count,
					     g->len[l]);
		total += count;
	}
	for (uint32_t i = 0; i <= g->hmask; i++)
		hashed += g->slot[i] != 0;
	if (total != g->used || hashed != g->used)
		return vm_check_fail(msg, len, "ghosts: %u on lists, %u hashed, used %u", total, hashed,
				     g->used);
	return 0;
}
