/*
 * Mattson stack distances with a compacting Fenwick tree (mrc.h).
 */
#include "policy/mrc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define MIN_CAP 1024

void vm_mrc_lru_init(struct vm_mrc_lru *m, struct vm_host *host)
{
	memset(m, 0, sizeof(*m));
	m->host = host;
}

void vm_mrc_lru_fini(struct vm_mrc_lru *m)
{
	vm_host_free(m->host, m->last);
	vm_host_free(m->host, m->tree);
	vm_host_free(m->host, m->id_at);
	vm_host_free(m->host, m->hist);
	memset(m, 0, sizeof(*m));
}

static void fenwick_add(uint32_t *tree, uint64_t cap, uint64_t pos, int32_t v)
{
	for (; pos <= cap; pos += pos & (0 - pos))
		tree[pos - 1] = (uint32_t)((int64_t)tree[pos - 1] + v);
}

/* Marks in positions 1..pos. */
static uint64_t fenwick_sum(const uint32_t *tree, uint64_t pos)
{
	uint64_t s = 0;
	for (; pos; pos &= pos - 1)
		s += tree[pos - 1];
	return s;
}

/* Renumber the live marks 1..distinct in time order, into a tree with
 * room for twice as many as there may be after the next reference. */
static int compact(struct vm_mrc_lru *m)
{
	uint64_t cap = MIN_CAP;
	while (cap < 2 * (m->distinct + 1))
		cap *= 2;
	uint32_t *tree = vm_host_calloc(m->host, cap, sizeof(*tree));
	uint32_t *id_at = vm_host_calloc(m->host, cap, sizeof(*id_at));
	if (!tree || !id_at) {
		vm_host_free(m->host, tree);
		vm_host_free(m->host, id_at);
		return -ENOMEM;
	}
	uint64_t k = 0;
	for (uint64_t p = 1; p <= m->pos; p++) {
		uint32_t id = m->id_at[p - 1];
		if (m->last[id] != p)
			continue;               /* a stale position: the page moved on */
		id_at[k] = id;
		m->last[id] = ++k;
	}
	/* Linear Fenwick build: ones at 1..k, every node passes its sum up. */
	for (uint64_t p = 1; p <= cap; p++) {
		tree[p - 1] += p <= k;
		uint64_t parent = p + (p & (0 - p));
		if (parent <= cap)
			tree[parent - 1] += tree[p - 1];
	}
	vm_host_free(m->host, m->tree);
	vm_host_free(m->host, m->id_at);
	m->tree = tree;
	m->id_at = id_at;
	m->cap = cap;
	m->pos = k;
	return 0;
}

static int grow_u64(struct vm_host *host, uint64_t **p, uint64_t *cap, uint64_t want)
{
	if (want <= *cap)
		return 0;
	uint64_t n = *cap ? *cap : 256;
	while (n < want)
		n *= 2;
	uint64_t *a = vm_host_calloc(host, n, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (*p)
		memcpy(a, *p, *cap * sizeof(*a));
	vm_host_free(host, *p);
	*p = a;
	*cap = n;
	return 0;
}

int vm_mrc_lru_add(struct vm_mrc_lru *m, uint32_t id)
{
	int rc;
	if (id >= m->ids_cap) {
		uint64_t cap = m->ids_cap;
		if ((rc = grow_u64(m->host, &m->last, &cap, (uint64_t)id + 1)) != 0)
			return rc;
		m->ids_cap = (uint32_t)(cap < UINT32_MAX ? cap : UINT32_MAX);
	}
	bool first = m->last[id] == 0;
	if (first && (rc = grow_u64(m->host, &m->hist, &m->hist_cap, m->distinct + 1)) != 0)
		return rc;
	if (m->pos == m->cap && (rc = compact(m)) != 0)
		return rc;
	uint64_t t = ++m->pos;
	m->refs++;
	if (first) {
		m->cold++;
		m->distinct++;
	} else {
		uint64_t t0 = m->last[id];
		uint64_t d = 1 + fenwick_sum(m->tree, t - 1) - fenwick_sum(m->tree, t0);
		m->hist[d - 1]++;
		fenwick_add(m->tree, m->cap, t0, -1);
	}
	fenwick_add(m->tree, m->cap, t, 1);
	m->id_at[t - 1] = id;
	m->last[id] = t;
	return 0;
}

uint64_t vm_mrc_lru_misses(const struct vm_mrc_lru *m, uint64_t c)
{
	uint64_t misses = m->cold;
	for (uint64_t d = c + 1; d <= m->distinct; d++)
		misses += m->hist[d - 1];
	return misses;
}

void vm_mrc_lru_curve(const struct vm_mrc_lru *m, uint64_t *misses, uint64_t max)
{
	/* misses(c) = cold + sum_{d > c} hist[d]: a suffix sum, largest c first. */
	uint64_t above = 0;
	for (uint64_t d = m->distinct; d > max; d--)
		above += m->hist[d - 1];
	for (uint64_t c = max; c >= 1; c--) {
		misses[c - 1] = m->cold + above;
		if (c <= m->distinct)
			above += m->hist[c - 1];
	}
}
