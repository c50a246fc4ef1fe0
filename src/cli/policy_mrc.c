/*
 * vmlab policy --mrc: miss-ratio curves.  Exact LRU in one pass (Mattson's
 * stack distances, policy/mrc.h) at every size; every other policy by
 * simulating each size side by side in one lab, the input read once more
 * after a first pass has counted the footprint (and, for OPT, seen the
 * future).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/policy_cli.h"
#include "policy/mrc.h"
#include "report/curves.h"

/* Page-id entries the sweeps may hold in all (frame_of arrays). */
#define SWEEP_LIMIT (UINT64_C(1) << 27)

/* Count the footprint: ids for every page, then rewind.  0 or CLI_BADINPUT. */
static int count_pages(struct vm_ref_reader *r, struct vm_lab *lab)
{
	uint64_t pages[POLICY_CHUNK];
	bool writes[POLICY_CHUNK];
	struct vm_error err;
	size_t n;
	int rc;
	uint32_t id;

	if (!vm_refs_rewindable(r)) {
		cli_fail("policy", "%s: --mrc of a policy other than lru reads its input twice (the "
			 "footprint first): give a file or --refs, not a pipe", r->name);
		return CLI_BADINPUT;
	}
	do {
		if ((rc = policy_read(r, pages, writes, POLICY_CHUNK, &n)) != 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (vm_lab_ids_get(&lab->ids, pages[i], &id) != 0) {
				cli_fail("policy", "out of memory");
				return CLI_BADINPUT;
			}
	} while (n);
	if (vm_refs_rewind(r, &err) != 0) {
		cli_error(&err);
		return CLI_BADINPUT;
	}
	return 0;
}

static void print_text(const struct policy_opts *o, const uint64_t *sizes, size_t nsizes,
		       const struct vm_curve *c, uint64_t refs, uint64_t footprint, const char *src)
{
	char a[32], b[32];
	size_t every = nsizes > 40 ? (nsizes + 31) / 32 : 1;
	printf("miss-ratio curves: %s references, footprint %s pages (%s)\n",
	       cli_group(refs, a, sizeof(a)), cli_group(footprint, b, sizeof(b)), src);
	if (every > 1)
		printf("%zu sizes; every %zu-th shown%s\n", nsizes, every,
		       o->csv ? " (all of them in the CSV)" : " (--csv FILE writes them all)");
	printf("\n%8s", "frames");
	for (unsigned k = 0; k < o->npolicies; k++)
		printf(" %14s", c[k].name);
	printf("   (misses, miss ratio)\n");
	for (size_t i = 0; i < nsizes; i++) {
		if (i % every && i + 1 != nsizes)
			continue;
		printf("%8" PRIu64, sizes[i]);
		for (unsigned k = 0; k < o->npolicies; k++)
			printf(" %7" PRIu64 " %.4f", c[k].misses[i], (double)c[k].misses[i] / (double)refs);
		printf("\n");
	}
}

static void print_json(const struct policy_opts *o, const uint64_t *sizes, size_t nsizes,
		       const struct vm_curve *c, uint64_t refs, uint64_t footprint, const char *src)
{
	struct vm_json j;
	vm_json_init(&j, stdout);
	vm_json_begin_object(&j, NULL);
	vm_json_str(&j, "source", src);
	vm_json_u64(&j, "references", refs);
	vm_json_u64(&j, "footprint", footprint);
	vm_json_begin_array(&j, "sizes");
	for (size_t i = 0; i < nsizes; i++)
		vm_json_u64(&j, NULL, sizes[i]);
	vm_json_end_array(&j);
	vm_json_begin_array(&j, "curves");
	for (unsigned k = 0; k < o->npolicies; k++) {
		vm_json_begin_object(&j, NULL);
		vm_json_str(&j, "policy", c[k].name);
		vm_json_str(&j, "method", strcmp(c[k].name, "lru") == 0 ? "stack distances" : "simulation");
		vm_json_begin_array(&j, "misses");
		for (size_t i = 0; i < nsizes; i++)
			vm_json_u64(&j, NULL, c[k].misses[i]);
		vm_json_end_array(&j);
		vm_json_end_object(&j);
	}
	vm_json_end_array(&j);
	vm_json_end_object(&j);
	vm_json_finish(&j);
}

static int write_file(const char *path, const char *what, const uint64_t *sizes, size_t nsizes,
		      const struct vm_curve *c, unsigned nc, uint64_t refs, const char *src)
{
	FILE *f = fopen(path, "w");
	char title[256];
	if (!f) {
		cli_fail("policy", "--%s: %s: cannot create: %s", what, path, strerror(errno));
		return CLI_BADINPUT;
	}
	snprintf(title, sizeof(title), "miss-ratio curves: %s", src);
	int rc = strcmp(what, "csv") == 0 ? vm_curves_csv(f, sizes, nsizes, c, nc, refs)
					   : vm_curves_svg(f, title, sizes, nsizes, c, nc, refs);
	if (fclose(f) != 0 || rc) {
		cli_fail("policy", "--%s: %s: cannot write", what, path);
		return CLI_BADINPUT;
	}
	return 0;
}

/* The memory sizes a curve is drawn at: 1, 1 + step, 1 + 2 step, ... and
 * max itself; sizes_room() of them at the most (max >= 1, step >= 1). */
static size_t sizes_room(uint64_t max, uint64_t step)
{
	return (size_t)((max - 1) / step + 2);      /* room for max too */
}

/* The sizes in a new array (free() it), their count in *n; NULL: no memory. */
static uint64_t *sizes_make(uint64_t max, uint64_t step, size_t *n)
{
	uint64_t *sizes = calloc(sizes_room(max, step), sizeof(*sizes));
	size_t k = 0;
	if (!sizes)
		return NULL;
	for (uint64_t s = 1; s <= max; s += step)
		sizes[k++] = s;
	if (sizes[k - 1] != max)
		sizes[k++] = max;
	*n = k;
	return sizes;
}

int policy_mrc(const struct policy_opts *o)
{
	struct vm_ref_reader r;
	struct vm_host host = { 0 };
	struct vm_lab lab;
	struct vm_mrc_lru m;
	uint64_t *sizes = NULL, *misses = NULL;
	struct vm_curve curves[POLICY_MAX_POLICIES];
	uint64_t pages[POLICY_CHUNK];
	bool writes[POLICY_CHUNK];
	bool lru_only = true;
	size_t nsizes = 0, n;
	int rc;

	/* Before any reading: the LRU-only pass would otherwise clamp it silently. */
	if (o->mrc_max > POLICY_FRAMES_LIMIT) {
		cli_fail("policy", "--mrc-max: %" PRIu64 " is more than %u frames", o->mrc_max,
			 (unsigned)POLICY_FRAMES_LIMIT);
		return CLI_USAGE;
	}
	for (unsigned k = 0; k < o->npolicies; k++)
		lru_only &= strcmp(o->policies[k]->name, "lru") == 0;
	if ((rc = policy_open(o, &r)) != 0)
		return rc;
	vm_lab_init(&lab, &host);
	vm_mrc_lru_init(&m, &host);
	if (!lru_only) {
		rc = o->need_future ? policy_future(&r, &lab) : count_pages(&r, &lab);
		if (rc)
			goto out;
		if (lab.ids.n == 0) {
			cli_fail("policy", "%s: no references", r.name);
			rc = CLI_BADINPUT;
			goto out;
		}
	}

	/* With LRU only, the one pass is this one: sizes come at the end. */
	uint64_t refs = 0;
	bool sims_made = false;
	for (;;) {
		if (!lru_only && !sims_made) {
			uint64_t max = o->mrc_max ? o->mrc_max : lab.ids.n;
			uint64_t step = o->mrc_step ? o->mrc_step : 1;
			if (max > POLICY_FRAMES_LIMIT) {
				cli_fail("policy", "--mrc-max: at most %u frames", (unsigned)POLICY_FRAMES_LIMIT);
				rc = CLI_USAGE;
				goto out;
			}
			size_t count = sizes_room(max, step);
			unsigned simulated = 0;
			for (unsigned k = 0; k < o->npolicies; k++)
				simulated += strcmp(o->policies[k]->name, "lru") != 0;
			if ((uint64_t)count * simulated * (lab.ids.n + (uint64_t)max) > SWEEP_LIMIT) {
				cli_fail("policy", "--mrc: %zu sizes of %u simulated policies over %u pages "
					 "is too big a sweep: use --mrc-step or --mrc-max", count, simulated,
					 lab.ids.n);
				rc = CLI_USAGE;
				goto out;
			}
			if (!(sizes = sizes_make(max, step, &nsizes)))
				goto oom;
			for (unsigned k = 0; k < o->npolicies; k++) {
				if (strcmp(o->policies[k]->name, "lru") == 0)
					continue;
				for (size_t i = 0; i < nsizes; i++) {
					struct vm_lab_sim *s;
					if (vm_lab_sim_create(o->policies[k], (uint32_t)sizes[i], &o->params,
							      &host, &s) != 0)
						goto oom;
					if (vm_lab_add(&lab, s) != 0) {
						vm_lab_sim_destroy(s);
						goto oom;
					}
				}
			}
			sims_made = true;
		}
		if ((rc = policy_read(&r, pages, writes, POLICY_CHUNK, &n)) != 0)
			goto out;
		if (n == 0)
			break;
		refs += n;
		if (!lru_only && vm_lab_feed(&lab, pages, writes, n) != 0)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			uint32_t id;
			if (vm_lab_ids_get(&lab.ids, pages[i], &id) != 0 || vm_mrc_lru_add(&m, id) != 0)
				goto oom;
		}
	}
	if (refs == 0) {
		cli_fail("policy", "%s: no references", r.name);
		rc = CLI_BADINPUT;
		goto out;
	}
	if (lru_only) {
		uint64_t max = o->mrc_max ? o->mrc_max : m.distinct;
		uint64_t step = o->mrc_step ? o->mrc_step : 1;
		if (max > POLICY_FRAMES_LIMIT)
			max = POLICY_FRAMES_LIMIT;      /* a footprint past the limit: --mrc-max was checked */
		if (!(sizes = sizes_make(max, step, &nsizes)))
			goto oom;
	}
	misses = calloc((size_t)o->npolicies * nsizes, sizeof(*misses));
	uint64_t *lru_curve = calloc((size_t)sizes[nsizes - 1], sizeof(*lru_curve));
	if (!misses || !lru_curve) {
		free(lru_curve);
		goto oom;
	}
	vm_mrc_lru_curve(&m, lru_curve, sizes[nsizes - 1]);
	unsigned sim = 0;
	for (unsigned k = 0; k < o->npolicies; k++) {
		curves[k].name = o->policies[k]->name;
		curves[k].misses = misses + (size_t)k * nsizes;
		bool lru = strcmp(o->policies[k]->name, "lru") == 0;
		for (size_t i = 0; i < nsizes; i++)
			misses[(size_t)k * nsizes + i] = lru ? lru_curve[sizes[i] - 1]
							     : lab.sims[sim++]->n.misses;
	}
	free(lru_curve);
	if (o->json)
		print_json(o, sizes, nsizes, curves, refs, m.distinct, r.name);
	else
		print_text(o, sizes, nsizes, curves, refs, m.distinct, r.name);
	if (o->csv && (rc = write_file(o->csv, "csv", sizes, nsizes, curves, o->npolicies, refs, r.name)))
		goto out;
	if (o->svg && (rc = write_file(o->svg, "svg", sizes, nsizes, curves, o->npolicies, refs, r.name)))
		goto out;
	rc = 0;
	goto out;
oom:
	cli_fail("policy", "out of memory");
	rc = CLI_BADINPUT;
out:
	free(sizes);
	free(misses);
	vm_mrc_lru_fini(&m);
	vm_lab_fini(&lab);
	vm_refs_close(&r);
	return rc;
}
