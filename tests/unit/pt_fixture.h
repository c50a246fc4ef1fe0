/*
 * Fixture for the page-table tests: 64 MiB of simulated memory in data mode
 * and a frame source over its first frames that
 *   - counts live frames, so a leaked or doubly freed table frame shows;
 *   - poisons frames it hands out and takes back, so a table the code forgets
 *     to zero, or uses after freeing, shows;
 *   - fails the N-th allocation on request (fault injection, SQLite style).
 * Leaf frames in the tests are plain numbers (page-table code never touches
 * them), so they may lie anywhere, even beyond memory.
 */
#ifndef VMLAB_PT_FIXTURE_H
#define VMLAB_PT_FIXTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/access.h"
#include "hw/phys.h"
#include "hw/pt.h"
#include "hw/pte.h"

#define FX_PHYS        (UINT64_C(64) << 20)
#define FX_TABLE_FIRST 1u          /* table frames are [FX_TABLE_FIRST, FX_TABLE_END) */
#define FX_TABLE_END   8192u
#define FX_POISON_NEW  0xa5        /* 0xa5a5...: P = 1, so a non-zeroed table is visible */
#define FX_POISON_FREE 0x5a

struct fx_src {
	struct vm_phys *phys;
	uint64_t next;                     /* bump pointer, then the free stack */
	uint64_t stack[FX_TABLE_END];
	unsigned nstack;
	bool live_map[FX_TABLE_END];
	uint64_t live;                     /* frames handed out and not given back */
	uint64_t attempts;                 /* allocation attempts so far */
	uint64_t fail_at;                  /* fail attempt number fail_at; 0 = never */
	uint64_t bad_frees;                /* frees of frames not handed out */
};

struct fx {
	struct vm_host host;
	struct vm_phys phys;
	struct fx_src src;
	struct vm_frame_source fs;
	struct vm_pt pt;
	struct vm_paging_ctl ctl;
	char msg[200];
};

static int fx_alloc(void *ctx, uint64_t *pfn)
{
	struct fx_src *s = ctx;

	s->attempts++;
	if (s->fail_at && s->attempts == s->fail_at)
		return -ENOMEM;
	if (s->nstack)
		*pfn = s->stack[--s->nstack];
	else if (s->next < FX_TABLE_END)
		*pfn = s->next++;
	else
		return -ENOMEM;
	s->live_map[*pfn] = true;
	s->live++;
	memset(vm_phys_table(s->phys, *pfn), FX_POISON_NEW, VM_PAGE_SIZE);
	return 0;
}

static void fx_free(void *ctx, uint64_t pfn)
{
	struct fx_src *s = ctx;

	if (pfn < FX_TABLE_FIRST || pfn >= FX_TABLE_END || !s->live_map[pfn]) {
		s->bad_frees++;
		return;
	}
	s->live_map[pfn] = false;
	s->live--;
	memset(vm_phys_table(s->phys, pfn), FX_POISON_FREE, VM_PAGE_SIZE);
	s->stack[s->nstack++] = pfn;
}

/* A fixture with a page table of `type` (NULL: none yet), or NULL. */
static struct fx *fx_new(const char *type) __attribute__((unused));
static struct fx *fx_new(const char *type)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || vm_phys_init(&f->phys, &f->host, FX_PHYS, true)) {
		free(f);
		return NULL;
	}
	f->src.phys = &f->phys;
	f->src.next = FX_TABLE_FIRST;
	f->fs = (struct vm_frame_source){ .alloc = fx_alloc, .free = fx_free, .ctx = &f->src };
	f->ctl = (struct vm_paging_ctl){ .wp = true, .nxe = true, .maxphyaddr = 52 };
	if (type) {
		if (vm_pt_create(&f->pt, type, &f->phys, &f->fs)) {
			vm_phys_fini(&f->phys);
			free(f);
			return NULL;
		}
		f->ctl.va_bits = f->pt.va_bits;
	}
	return f;
}

static void fx_delete(struct fx *f) __attribute__((unused));
static void fx_delete(struct fx *f)
{
	if (!f)
		return;
	vm_pt_destroy(&f->pt);
	vm_phys_fini(&f->phys);
	free(f);
}

/* The validator, with its message as a TAP comment when it complains. */
static int fx_check(struct fx *f) __attribute__((unused));
static int fx_check(struct fx *f)
{
	int err = f->pt.ops->check(&f->pt, f->msg, sizeof(f->msg));
	if (err)
		diag("check: %s", f->msg);
	return err;
}

/* Structure valid, every table frame accounted for by the source. */
static int fx_sound(struct fx *f) __attribute__((unused));
static int fx_sound(struct fx *f)
{
	return fx_check(f) == 0 && f->src.live == f->pt.table_frames && f->src.bad_frees == 0;
}

/* Raw 64-bit word of simulated memory, read without the page-table code. */
static uint64_t fx_word(struct fx *f, uint64_t pa) __attribute__((unused));
static uint64_t fx_word(struct fx *f, uint64_t pa)
{
	uint64_t v = 0;
	vm_phys_read(&f->phys, (vm_paddr){ pa }, &v, sizeof(v));
	return v;
}

static void fx_set_word(struct fx *f, uint64_t pa, uint64_t v) __attribute__((unused));
static void fx_set_word(struct fx *f, uint64_t pa, uint64_t v)
{
	vm_phys_write(&f->phys, (vm_paddr){ pa }, &v, sizeof(v));
}

/* The entries a walk of va must read, worked out from raw memory with its
 * own index arithmetic (not vm_pt_index): the root frame, then each
 * present non-leaf entry's address field.  Returns how many. */
static unsigned fx_path(struct fx *f, vm_vaddr va, uint64_t pas[VM_LEVELS_MAX])
    __attribute__((unused));
static unsigned fx_path(struct fx *f, vm_vaddr va, uint64_t pas[VM_LEVELS_MAX])
{
	uint64_t tpfn = f->pt.root_pfn;
	unsigned n = 0;

	for (unsigned l = f->pt.levels; l >= 1; l--) {
		uint64_t idx = (va >> (3 + 9 * l)) % 512;
		pas[n] = tpfn * 4096 + idx * 8;
		uint64_t e = fx_word(f, pas[n++]);
		if (!(e & 1) || l == 1 || (l <= 3 && (e & 0x80)))
			break;
		tpfn = (e % (UINT64_C(1) << 52)) / 4096;
	}
	return n;
}

#endif
