/*
 * Paging-structure caches (SDM 4.10.3): one small fully associative LRU
 * array per level 2..5.  Only walks that missed the TLB come here, so the
 * arrays are scanned linearly; nothing is allocated after init.
 */
#include "hw/pwc.h"

#include <errno.h>

#include "base/compiler.h"
#include "hw/pte.h"

#define PWC_EMPTY UINT64_MAX    /* a key va >> 21 (or more) can never take */

static void level_clear(struct vm_pwc_level *lv)
{
	for (uint32_t i = 0; i < lv->n; i++)
		lv->e[i].key = PWC_EMPTY;
}

int vm_pwc_init(struct vm_pwc *c, const uint32_t sizes[6], struct vm_host *host)
{
	*c = (struct vm_pwc){ .clock = 0 };
	for (unsigned l = 2; l <= VM_LEVELS_MAX; l++) {
		if (!sizes[l])
			continue;
		c->lvl[l].e = vm_host_calloc(host, sizes[l], sizeof(struct vm_pwce));
		if (!c->lvl[l].e) {
			vm_pwc_fini(c, host);
			return -ENOMEM;
		}
		c->lvl[l].n = sizes[l];
		level_clear(&c->lvl[l]);
	}
	return 0;
}

void vm_pwc_fini(struct vm_pwc *c, struct vm_host *host)
{
	for (unsigned l = 2; l <= VM_LEVELS_MAX; l++) {
		vm_host_free(host, c->lvl[l].e);
		c->lvl[l] = (struct vm_pwc_level){ .e = NULL, .n = 0 };
	}
}

/* The entry of one level that holds (pcid, key), or NULL. */
static struct vm_pwce *level_find(struct vm_pwc_level *lv, uint16_t pcid, uint64_t key)
{
	for (uint32_t i = 0; i < lv->n; i++) {
		struct vm_pwce *e = &lv->e[i];
		if (e->key == key && e->pcid == pcid)
			return e;
	}
	return NULL;
}

unsigned vm_pwc_lookup(struct vm_pwc *c, uint16_t pcid, vm_vaddr va, unsigned top_level,
		       uint64_t *table_pfn, unsigned *perm)
{
	unsigned top = VM_MIN(top_level, VM_LEVELS_MAX);

	/* Deepest first: a PDE hit leaves one reference, a PML4E hit three
	 * (SDM 4.10.3.2). */
	for (unsigned l = 2; l <= top; l++) {
		struct vm_pwce *e = level_find(&c->lvl[l], pcid, va >> vm_level_shift(l));
		if (e) {
			e->stamp = ++c->clock;
			*table_pfn = e->next_pfn;
			*perm = e->perm;
			return l - 1;
		}
	}
	return 0;
}

/* An empty slot, else the least recently used one.  n > 0. */
static struct vm_pwce *level_victim(struct vm_pwc_level *lv)
{
	struct vm_pwce *v = &lv->e[0];
	for (uint32_t i = 0; i < lv->n; i++) {
		if (lv->e[i].key == PWC_EMPTY)
			return &lv->e[i];
		if (lv->e[i].stamp < v->stamp)
			v = &lv->e[i];
	}
	return v;
}

void vm_pwc_fill(struct vm_pwc *c, uint16_t pcid, vm_vaddr va, unsigned level,
		 uint64_t next_pfn, unsigned perm)
{
	if (level < 2 || level > VM_LEVELS_MAX || !c->lvl[level].n)
		return;
	struct vm_pwc_level *lv = &c->lvl[level];
	uint64_t key = va >> vm_level_shift(level);
	/* A refill of a key already cached replaces it: two entries for one
	 * key could disagree after the tables changed. */
	struct vm_pwce *e = level_find(lv, pcid, key);
	if (!e)
		e = level_victim(lv);
	*e = (struct vm_pwce){ .key = key, .next_pfn = next_pfn, .stamp = ++c->clock,
			       .pcid = pcid, .perm = (uint8_t)perm };
}

void vm_pwc_flush_va(struct vm_pwc *c, uint16_t pcid, vm_vaddr va)
{
	for (unsigned l = 2; l <= VM_LEVELS_MAX; l++) {
		struct vm_pwce *e = level_find(&c->lvl[l], pcid, va >> vm_level_shift(l));
		if (e)
			e->key = PWC_EMPTY;
	}
}

void vm_pwc_flush_pcid(struct vm_pwc *c, uint16_t pcid)
{
	for (unsigned l = 2; l <= VM_LEVELS_MAX; l++) {
		struct vm_pwc_level *lv = &c->lvl[l];
		for (uint32_t i = 0; i < lv->n; i++)
			if (lv->e[i].pcid == pcid)
				lv->e[i].key = PWC_EMPTY;
	}
}

void vm_pwc_flush_all(struct vm_pwc *c)
{
	for (unsigned l = 2; l <= VM_LEVELS_MAX; l++)
		level_clear(&c->lvl[l]);
}
