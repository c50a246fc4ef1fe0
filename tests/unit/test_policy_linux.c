/*
 * The linux policy against the rules of Linux's mm/vmscan.c:
 *   - get_scan_count()'s SCAN_FRACT with equal costs: of the pages scanned,
 *     anonymous ones are the share swappiness * anon / (swappiness * anon +
 *     (200 - swappiness) * file); swappiness 0 scans file pages only;
 *   - folio_check_references(): a young page is kept once (PG_referenced)
 *     and activated at the second look, at once if more than one PTE was
 *     young or if it is a file page young in an executable mapping (the
 *     vm_flags folio_referenced() gathers), never for an anonymous one;
 *   - shrink_active_list(): a file page young in an executable mapping
 *     goes round the active list again, any other page is deactivated with
 *     PG_workingset.
 * The Accessed bits come from a fake page table (hw ops) that also says
 * which mappings are executable.
 */
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "policy/evict.h"
#include "tap.h"

#define FRAMES 512

/* The test cannot go on (no policy, a frame out of range): stop here. */
static void bail_out(const char *what, uint32_t n)
{
	printf("Bail out! %s %u\n", what, n);
	exit(1);
}

struct fake_ptes {
	int young[FRAMES];        /* young PTEs mapping the frame */
	int again[FRAMES];        /* young PTEs after a clear (used again since) */
	bool exec[FRAMES];        /* the mappings are VM_EXEC */
};

static int fake_referenced(void *ctx, uint32_t frame, bool clear, bool *exec)
{
	struct fake_ptes *m = ctx;
	int young = m->young[frame];

	if (exec)
		*exec = young && m->exec[frame];
	if (clear) {
		m->young[frame] = m->again[frame];
		m->again[frame] = 0;
	}
	return young;
}

static bool fake_dirty(void *ctx, uint32_t frame)
{
	(void)ctx;
	(void)frame;
	return false;
}

static void fake_writeback(void *ctx, uint32_t frame)
{
	(void)ctx;
	(void)frame;
}

static const struct vm_evict_hw_ops fake_hw = {
	.referenced = fake_referenced,
	.dirty = fake_dirty,
	.writeback = fake_writeback,
};

static struct vm_evict *make(struct fake_ptes *m, unsigned swappiness)
{
	struct vm_evict_params p = { .frames = FRAMES, .swappiness = swappiness,
				     .swappiness_set = true, .hw = &fake_hw, .hw_ctx = m };
	struct vm_evict *e = NULL;

	memset(m, 0, sizeof(*m));
	if (vm_evict_create(vm_evict_find("linux"), &p, &e) != 0)
		bail_out("cannot create the linux policy, frames", FRAMES);
	return e;
}

static uint64_t next_key = 1;

static void insert(struct vm_evict *e, uint32_t frame, bool anon)
{
	struct vm_evict_ref r = { .key = next_key++, .next = VM_EVICT_NEVER,
				  .flags = anon ? VM_EVICT_REF_ANON : 0 };
	vm_evict_insert(e, frame, &r);
}

/* Frames [0, anon) anonymous, [anon, anon + file) file, none young;
 * choose picks times, each victim replaced by a new page of its type (the
 * list sizes stay as they are); returns the anonymous victims. */
static unsigned anon_picks(unsigned swappiness, uint32_t anon, uint32_t file, unsigned picks)
{
	struct fake_ptes m;
	struct vm_evict *e = make(&m, swappiness);
	unsigned n = 0;

	for (uint32_t f = 0; f < anon + file; f++)
		insert(e, f, f < anon);
	for (unsigned i = 0; i < picks; i++) {
		uint32_t f = vm_evict_choose(e, NULL);
		if (f >= anon + file)
			bail_out("linux chose frame", f);
		n += f < anon;
		vm_evict_remove(e, f, true);
		insert(e, f, f < anon);
	}
	char msg[200] = "";
	ok(e->ops->check(e, msg, sizeof(msg)) == 0, "lists consistent after %u picks %s", picks, msg);
	vm_evict_destroy(e);
	return n;
}

static void scan_balance(void)
{
	/* 60 * 100 / (60 * 100 + 140 * 100) = 30 % */
	unsigned n = anon_picks(60, 100, 100, 1000);
	ok(n >= 299 && n <= 301, "swappiness 60, 100 anon, 100 file: 30 %% of 1000 victims anon (%u)",
	   n);
	/* 100 * 100 / (100 * 100 + 100 * 300) = 25 % */
	n = anon_picks(100, 100, 300, 1000);
	ok(n >= 249 && n <= 251, "swappiness 100, 100 anon, 300 file: 25 %% anon (%u)", n);
	/* 60 * 400 / (60 * 400 + 140 * 20) = 89.55 % */
	n = anon_picks(60, 400, 20, 2000);
	ok(n >= 1790 && n <= 1792, "swappiness 60, 400 anon, 20 file: 89.55 %% anon (%u)", n);
	is_u64(anon_picks(0, 100, 100, 500), 0, "swappiness 0: file pages only");
	is_u64(anon_picks(200, 100, 100, 500), 500, "swappiness 200: anonymous pages only");
	is_u64(anon_picks(60, 100, 0, 300), 300, "no file pages: anonymous ones");
}

static void note(struct vm_evict *e, uint32_t f, char *buf, size_t len)
{
	e->ops->note(e, f, buf, len);
}

static void check_references(void)
{
	struct fake_ptes m;
	struct vm_evict *e = make(&m, 60);
	char b[4][24];

	/* Inactive file list, tail to head: 0 1 2 3; 4 anonymous. */
	for (uint32_t f = 0; f < 5; f++)
		insert(e, f, f == 4);
	m.young[0] = 1, m.exec[0] = true;     /* young once, in an executable mapping */
	m.young[1] = 1;                       /* young once */
	m.young[2] = 2;                       /* two young PTEs */
	is_u64(vm_evict_choose(e, NULL), 3, "file: the first page not young is the victim");
	note(e, 0, b[0], sizeof(b[0]));
	note(e, 1, b[1], sizeof(b[1]));
	note(e, 2, b[2], sizeof(b[2]));
	is_str(b[0], "act,ref", "young in an executable mapping: activated at the first look");
	is_str(b[1], "inact,ref", "young once: kept, PG_referenced");
	is_str(b[2], "act,ref", "two young PTEs: activated");
	m.young[1] = 1;
	vm_evict_remove(e, 3, true);
	insert(e, 3, false);
	m.young[3] = 1;
	/* Inactive tail to head: 1 3; active 0 2.  1 is activated at its
	 * second look; the inactive list is low, so the active tail, 0, no
	 * longer young, is deactivated; 3, young, kept; 0 taken. */
	is_u64(vm_evict_choose(e, NULL), 0, "1 anon against 4 file pages: a file page");
	note(e, 1, b[1], sizeof(b[1]));
	is_str(b[1], "act,ref", "young at the second look: activated");
	vm_evict_destroy(e);

	/* Anonymous pages: an executable mapping does not activate. */
	e = make(&m, 200);
	insert(e, 0, true);
	insert(e, 1, true);
	m.young[0] = 1, m.exec[0] = true;
	is_u64(vm_evict_choose(e, NULL), 1, "anon: the page not young is the victim");
	note(e, 0, b[0], sizeof(b[0]));
	is_str(b[0], "anon,inact,ref", "anon young in an executable mapping: kept, not activated");
	vm_evict_destroy(e);
}

/* Inactive tail to head: 0 1 2 (all of type anon or file); 0 and 1 have
 * two young PTEs and are used again after the first look, 0 in an
 * executable mapping.  Both are activated; then the inactive list is low
 * (1 < 2): the active tail, 0, is young again; then 1 is. */
static uint32_t active_tail(struct fake_ptes *m, bool anon, char (*b)[24], char *state)
{
	struct vm_evict *e = make(m, anon ? 200 : 0);
	uint32_t victim;

	for (uint32_t f = 0; f < 3; f++)
		insert(e, f, anon);
	m->young[0] = 2, m->again[0] = 1, m->exec[0] = true;
	m->young[1] = 2, m->again[1] = 1;
	victim = vm_evict_choose(e, NULL);
	note(e, 0, b[0], sizeof(b[0]));
	note(e, 1, b[1], sizeof(b[1]));
	e->ops->state(e, state, 400);
	vm_evict_destroy(e);
	return victim;
}

static void active_list(void)
{
	struct fake_ptes m;
	char b[2][24], state[400];

	is_u64(active_tail(&m, false, b, state), 2, "file: the page never young is the victim");
	is_str(b[0], "act,ref", "file young in an executable mapping: round the active list again");
	is_str(b[1], "inact,ref,ws", "file young, not executable: deactivated, PG_workingset");
	ok(strstr(state, " deactivations=1 ") != NULL, "file: one deactivation (%s)", state);
	is_u64(active_tail(&m, true, b, state), 2, "anon: the page never young is the victim");
	is_str(b[0], "anon,inact,ref,ws", "anon young in an executable mapping: deactivated");
	ok(strstr(state, " deactivations=1 ") != NULL, "anon: one deactivation (%s)", state);
}

int main(void)
{
	scan_balance();
	check_references();
	active_list();
	return done_testing();
}
