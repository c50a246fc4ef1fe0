/*
 * vmlab policy: the policy laboratory.  A reference string through one or
 * more replacement policies on memories of N frames, side by side: hits,
 * misses, evictions and write-backs, and on request every step (the
 * reference, hit or miss, what was evicted, memory in the policy's own
 * order).  --mrc draws miss-ratio curves (policy_mrc.c); --ostep speaks
 * the OSTEP homework's paging-policy.py (policy_ostep.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/policy_cli.h"

static const char synopsis[] = "[FILE|-] [--refs LIST] --frames N[,N...] [--policy NAME[,NAME...]] [options]";
static const char about[] =
	"Run a reference string through page replacement policies on a memory of N\n"
	"frames and count hits and misses.  The references come from --refs (\"7,0,1,2\")\n"
	"or from FILE (\"-\" is standard input): numbers separated by commas or white\n"
	"space, decimal or 0x-hex, a trailing 'w' for a write, '#' comments.  They are\n"
	"page numbers, or byte addresses with --page-size.  'vmlab list policies'\n"
	"names the policies; opt reads its input twice, so it needs a file or --refs.\n"
	"\n"
	"  --mrc            miss-ratio curve of each policy for every memory size from 1\n"
	"                   frame to the footprint (--frames is not needed)\n"
	"  --ostep ARGS...  behave as OSTEP's paging-policy.py (-s -a -n -m -C -p -b -c\n"
	"                   -N -f); 'vmlab policy --ostep -h' lists its options";

int policy_open(const struct policy_opts *o, struct vm_ref_reader *r)
{
	struct vm_error err;
	if (o->refs && o->file) {
		cli_fail("policy", "give --refs or a file, not both");
		return CLI_USAGE;
	}
	if (!o->refs && !o->file) {
		cli_fail("policy", "no references: give --refs LIST or a file (- for standard input)");
		return CLI_USAGE;
	}
	if (o->refs) {
		vm_refs_open_text(r, "--refs", o->refs, strlen(o->refs), o->page_size);
		return 0;
	}
	if (vm_refs_open_file(r, o->file, o->page_size, &err) != 0) {
		cli_error(&err);
		return CLI_BADINPUT;
	}
	return 0;
}

int policy_read(struct vm_ref_reader *r, uint64_t *pages, bool *writes, size_t max, size_t *n)
{
	struct vm_error err;
	struct vm_ref ref;
	int rc = 0;

	*n = 0;
	while (*n < max && (rc = vm_refs_next(r, &ref, &err)) > 0) {
		pages[*n] = ref.page;
		writes[*n] = ref.write;
		(*n)++;
	}
	if (rc < 0) {
		cli_error(&err);
		return CLI_BADINPUT;
	}
	return 0;
}

int policy_future(struct vm_ref_reader *r, struct vm_lab *lab)
{
	uint64_t pages[POLICY_CHUNK];
	bool writes[POLICY_CHUNK];
	struct vm_error err;
	size_t n;
	int rc;

	if (!vm_refs_rewindable(r)) {
		cli_fail("policy", "%s: this needs the future (opt) or the footprint first, so the "
			 "input is read twice: give a file or --refs, not a pipe", r->name);
		return CLI_BADINPUT;
	}
	do {
		if ((rc = policy_read(r, pages, writes, POLICY_CHUNK, &n)) != 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (vm_lab_future_add(lab, pages[i]) != 0) {
				cli_fail("policy", "out of memory");
				return CLI_BADINPUT;
			}
	} while (n);
	vm_lab_future_done(lab);
	if (vm_refs_rewind(r, &err) != 0) {
		cli_error(&err);
		return CLI_BADINPUT;
	}
	return 0;
}

/* "3,4" -> o->frames[].  0 or CLI_USAGE. */
static int parse_frames(const char *list, struct policy_opts *o)
{
	const char *p = list;
	o->nframes = 0;
	while (*p) {
		char *end;
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno || v == 0 || v > POLICY_FRAMES_LIMIT || (*end && *end != ','))
			goto bad;
		if (o->nframes == POLICY_MAX_FRAMES) {
			cli_fail("policy", "--frames: at most %d sizes", POLICY_MAX_FRAMES);
			return CLI_USAGE;
		}
		o->frames[o->nframes++] = (uint32_t)v;
		p = *end ? end + 1 : end;
	}
	if (o->nframes)
		return 0;
bad:
	cli_fail("policy", "--frames: '%s' is not a list of frame counts from 1 to %u", list,
		 (unsigned)POLICY_FRAMES_LIMIT);
	return CLI_USAGE;
}

/* "lru,opt" -> o->policies[].  0 or CLI_USAGE. */
static int parse_policies(const char *list, struct policy_opts *o)
{
	char buf[512];
	size_t len = strlen(list);
	/* strtok_r would skip empty names ("lru,,opt"): refuse them as --frames does. */
	if (len >= sizeof(buf) || !len || list[0] == ',' || list[len - 1] == ',' || strstr(list, ",,")) {
		cli_fail("policy", "--policy: '%s' is not a list of policies", list);
		return CLI_USAGE;
	}
	strcpy(buf, list);
	o->npolicies = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct vm_evict_ops *ops = vm_evict_find(tok);
		if (!ops) {
			cli_fail("policy", "--policy: %s: unknown policy ('vmlab list policies' names them)",
				 tok);
			return CLI_USAGE;
		}
		if (o->npolicies == POLICY_MAX_POLICIES) {
			cli_fail("policy", "--policy: at most %d policies", POLICY_MAX_POLICIES);
			return CLI_USAGE;
		}
		o->policies[o->npolicies++] = ops;
		o->need_future |= (ops->flags & VM_EVICT_NEEDS_FUTURE) != 0;
	}
	if (o->npolicies == 0) {
		cli_fail("policy", "--policy: empty list");
		return CLI_USAGE;
	}
	return 0;
}

/* Make one sim per (policy, frames) in order. */
static int add_sims(const struct policy_opts *o, struct vm_lab *lab, struct vm_host *host)
{
	for (unsigned p = 0; p < o->npolicies; p++)
		for (unsigned f = 0; f < o->nframes; f++) {
			struct vm_lab_sim *s;
			int rc = vm_lab_sim_create(o->policies[p], o->frames[f], &o->params, host, &s);
			if (rc == 0 && (rc = vm_lab_add(lab, s)) != 0)
				vm_lab_sim_destroy(s);
			if (rc) {
				cli_fail("policy", "%s with %u frames: %s", o->policies[p]->name,
					 o->frames[f], rc == -ENOMEM ? "out of memory" : "cannot be made");
				return CLI_BADINPUT;
			}
		}
	return 0;
}

static double rate(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

static uint64_t writebacks(const struct vm_lab_sim *s)
{
	return s->n.writebacks + s->e->stats.writebacks;
}

static void summary_text(const struct policy_opts *o, const struct vm_lab *lab, const char *source)
{
	char a[32], b[32], c[32], d[32];
	printf("%s references, %s distinct pages (%s)%s\n\n", cli_group(lab->time, a, sizeof(a)),
	       cli_group(lab->ids.n, b, sizeof(b)), source,
	       o->page_size ? ", numbers are addresses" : "");
	printf("%-14s %8s %12s %12s %9s %12s %11s\n", "policy", "frames", "hits", "misses", "hit rate",
	       "evictions", "writebacks");
	for (unsigned i = 0; i < lab->nsims; i++) {
		const struct vm_lab_sim *s = lab->sims[i];
		printf("%-14s %8u %12s %12s %8.2f%% %12s %11s\n", s->ops->name, s->frames,
		       cli_group(vm_lab_sim_hits(s), a, sizeof(a)), cli_group(s->n.misses, b, sizeof(b)),
		       100.0 * rate(vm_lab_sim_hits(s), vm_lab_sim_refs(s)), cli_group(s->n.evictions, c, sizeof(c)),
		       cli_group(writebacks(s), d, sizeof(d)));
	}
}

static void result_name_json(struct vm_json *j, const struct vm_lab_sim *s)
{
	vm_json_str(j, "policy", s->ops->name);
	vm_json_u64(j, "frames", s->frames);
	vm_json_bool(j, "sees_every_access", s->ops->flags & VM_EVICT_SEES_ACCESSES);
	vm_json_bool(j, "uses_accessed_bits", s->ops->flags & VM_EVICT_USES_ABITS);
}

static void result_totals_json(struct vm_json *j, const struct vm_lab_sim *s)
{
	vm_json_u64(j, "references", vm_lab_sim_refs(s));
	vm_json_u64(j, "hits", vm_lab_sim_hits(s));
	vm_json_u64(j, "misses", s->n.misses);
	vm_json_double(j, "hit_rate", rate(vm_lab_sim_hits(s), vm_lab_sim_refs(s)));
	vm_json_u64(j, "evictions", s->n.evictions);
	vm_json_u64(j, "writebacks", writebacks(s));
	vm_json_u64(j, "accessed_bit_tests", s->e->stats.scanned);
}

/* Stream the input through every sim at once. */
static int run_streaming(struct vm_ref_reader *r, struct vm_lab *lab)
{
	static uint64_t pages[POLICY_CHUNK];
	static bool writes[POLICY_CHUNK];
	size_t n;
	int rc;

	do {
		if ((rc = policy_read(r, pages, writes, POLICY_CHUNK, &n)) != 0)
			return rc;
		if (n && (rc = vm_lab_feed(lab, pages, writes, n)) != 0) {
			cli_fail("policy", "%s", rc == -ENOMEM ? "out of memory" : "too many pages");
			return CLI_BADINPUT;
		}
	} while (n);
	return 0;
}

/* The memory of a sim after a step as text: "7 0(A) 1". */
static void memory_text(const struct vm_lab_sim *s, const struct vm_lab_ids *ids, uint32_t *order,
			char *buf, size_t len)
{
	uint32_t n = vm_lab_sim_contents(s, order);
	size_t o = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n && o + 64 < len; i++) {
		char note[48] = "";
		if (s->ops->note)
			s->ops->note(s->e, s->frame_of[order[i]] - 1, note, sizeof(note));
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu64 "%s%s%s", i ? " " : "",
				      ids->page[order[i]], note[0] ? "(" : "", note, note[0] ? ")" : "");
	}
	if (n && o + 64 >= len)
		snprintf(buf + o, len - o, " ...");
}

/* All references in memory (steps are for short strings): 0 or CLI_BADINPUT;
 * *pages and *writes are the caller's to free() either way. */
static int read_all(struct vm_ref_reader *r, uint64_t **pages, bool **writes, size_t *n)
{
	size_t cap = 0, got;
	int rc;

	*pages = NULL;
	*writes = NULL;
	*n = 0;
	do {
		if (*n + POLICY_CHUNK > cap) {
			cap = cap ? 2 * cap : 4 * POLICY_CHUNK;
			uint64_t *np = realloc(*pages, cap * sizeof(**pages));
			if (np)
				*pages = np;
			bool *nw = np ? realloc(*writes, cap * sizeof(**writes)) : NULL;
			if (nw)
				*writes = nw;
			if (!np || !nw) {
				cli_fail("policy", "out of memory");
				return CLI_BADINPUT;
			}
		}
		if ((rc = policy_read(r, *pages + *n, *writes + *n, POLICY_CHUNK, &got)) != 0)
			return rc;
		*n += got;
	} while (got);
	return 0;
}

/* --steps: each sim on its own, one reference at a time. */
static int run_steps(const uint64_t *pages, const bool *writes, size_t n, struct vm_lab *lab,
		     struct vm_json *j)
{
	int rc = 0;

	for (unsigned k = 0; k < lab->nsims; k++) {
		struct vm_lab_sim *s = lab->sims[k];
		uint32_t *order = calloc(s->frames, sizeof(*order));
		char *mem = malloc(65536);
		if (!order || !mem) {
			free(order);
			free(mem);
			cli_fail("policy", "out of memory");
			return CLI_BADINPUT;
		}
		if (j) {
			vm_json_begin_object(j, NULL);
			result_name_json(j, s);
			vm_json_str(j, "order", s->ops->order_desc);
			vm_json_begin_array(j, "steps");
		} else {
			printf("%s%s, %u frames (memory: %s)\n", k ? "\n" : "", s->ops->name, s->frames,
			       s->ops->order_desc);
			printf("%6s %9s  %-6s %-12s %s\n", "ref", "page", "result", "evicted", "memory");
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t misses = s->n.misses;
			if ((rc = vm_lab_step(lab, k, i, pages[i], writes[i])) != 0) {
				cli_fail("policy", "out of memory");
				rc = CLI_BADINPUT;
				break;
			}
			bool miss = s->n.misses != misses;
			uint32_t nv = miss ? s->nvictims : 0;
			memory_text(s, &lab->ids, order, mem, 65536);
			char state[512] = "";
			if (s->ops->state)
				s->ops->state(s->e, state, sizeof(state));
			if (j) {
				vm_json_begin_object(j, NULL);
				vm_json_u64(j, "ref", i + 1);
				vm_json_u64(j, "page", pages[i]);
				vm_json_bool(j, "write", writes[i]);
				vm_json_bool(j, "hit", !miss);
				vm_json_begin_array(j, "evicted");
				for (uint32_t v = 0; v < nv; v++)
					vm_json_u64(j, NULL, lab->ids.page[s->victims[v]]);
				vm_json_end_array(j);
				vm_json_str(j, "memory", mem);
				if (state[0])
					vm_json_str(j, "state", state);
				vm_json_end_object(j);
			} else {
				char ev[64] = "-";
				size_t eo = 0;
				for (uint32_t v = 0; v < nv && eo + 24 < sizeof(ev); v++)
					eo += (size_t)snprintf(ev + eo, sizeof(ev) - eo, "%s%" PRIu64,
							       v ? "," : "", lab->ids.page[s->victims[v]]);
				printf("%6zu %9" PRIu64 "%s %-6s %-12s %s%s%s\n", i + 1, pages[i],
				       writes[i] ? "w" : " ", miss ? "miss" : "hit", ev, mem,
				       state[0] ? "  " : "", state);
			}
		}
		if (j) {
			vm_json_end_array(j);
			result_totals_json(j, s);
			vm_json_end_object(j);
		} else {
			printf("%s, %u frames: %" PRIu64 " references, %" PRIu64 " hits, %" PRIu64
			       " misses, hit rate %.2f%%, %" PRIu64 " evictions, %" PRIu64 " writebacks\n",
			       s->ops->name, s->frames, vm_lab_sim_refs(s), vm_lab_sim_hits(s), s->n.misses,
			       100.0 * rate(vm_lab_sim_hits(s), vm_lab_sim_refs(s)), s->n.evictions, writebacks(s));
		}
		free(order);
		free(mem);
		if (rc)
			break;
	}
	lab->time = n;
	return rc;
}

int cmd_policy(int argc, char **argv)
{
	struct policy_opts o = { 0 };
	const char *frames = NULL, *policies = "linux";
	uint64_t swappiness = UINT64_MAX;
	bool ostep = false;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--ostep") == 0)
			ostep = true;
	if (ostep) {
		/* Everything else is paging-policy.py's: hand it over without --ostep. */
		int k = 1;
		for (int i = 1; i < argc; i++)
			if (strcmp(argv[i], "--ostep") != 0)
				argv[k++] = argv[i];
		return policy_ostep(k, argv);
	}

	const struct cli_opt opts[] = {
		{ "refs", CLI_STR, &o.refs, "LIST", "the reference string: \"7,0,1,2,0w\"" },
		{ "frames", CLI_STR, &frames, "N[,N...]", "memory sizes in frames (several: side by side)" },
		{ "policy", CLI_STR, &policies, "NAME[,...]", "policies (default linux; vmlab list policies)" },
		{ "page-size", CLI_SIZE, &o.page_size, "SIZE", "the numbers are byte addresses; pages of SIZE" },
		{ "steps", CLI_FLAG, &o.steps, NULL, "print every reference: hit/miss, evicted, memory" },
		{ "json", CLI_FLAG, &o.json, NULL, "print JSON" },
		{ "seed", CLI_U64, &o.params.seed, "N", "seed of random choices (random, nru); default 0" },
		{ "tau", CLI_U64, &o.params.tau, "N", "wsclock's window in references (default: frames)" },
		{ "tick", CLI_U64, &o.params.tick, "N", "references per clock tick (nru, aging; default: frames)" },
		{ "swappiness", CLI_U64, &swappiness, "N", "linux: anon against file, 0..200 (default 60)" },
		{ "mrc", CLI_FLAG, &o.mrc, NULL, "miss-ratio curves over memory sizes 1..footprint" },
		{ "mrc-max", CLI_COUNT, &o.mrc_max, "N", "--mrc: largest size (default: the footprint)" },
		{ "mrc-step", CLI_COUNT, &o.mrc_step, "N", "--mrc: simulate every N-th size (default 1)" },
		{ "csv", CLI_STR, &o.csv, "FILE", "--mrc: write the curves as CSV" },
		{ "svg", CLI_STR, &o.svg, "FILE", "--mrc: draw the curves as SVG" },
		{ "ostep", CLI_FLAG, &ostep, NULL, "OSTEP paging-policy.py options follow (see above)" },
		{ 0 },
	};
	int first, rc = cli_parse("policy", argc, argv, opts, &first, synopsis, about);
	if (rc)
		return rc;
	if (argc - first > 1) {
		cli_fail("policy", "one input file, not several");
		return CLI_USAGE;
	}
	if (argc - first == 1)
		o.file = argv[first];
	if (swappiness != UINT64_MAX) {
		if (swappiness > 200) {
			cli_fail("policy", "--swappiness: %" PRIu64 " is not in 0..200", swappiness);
			return CLI_USAGE;
		}
		o.params.swappiness = (unsigned)swappiness;
		o.params.swappiness_set = true;
	}
	if ((rc = parse_policies(policies, &o)) != 0)
		return rc;
	if (o.mrc) {
		if (frames || o.steps) {
			cli_fail("policy", "--mrc covers every size: no --frames or --steps with it");
			return CLI_USAGE;
		}
		return policy_mrc(&o);
	}
	if (o.csv || o.svg || o.mrc_max || o.mrc_step) {
		cli_fail("policy", "--csv, --svg, --mrc-max and --mrc-step go with --mrc");
		return CLI_USAGE;
	}
	if (!frames) {
		cli_fail("policy", "--frames: how many frames of memory? (or --mrc for every size)");
		return CLI_USAGE;
	}
	if ((rc = parse_frames(frames, &o)) != 0)
		return rc;

	struct vm_ref_reader r;
	struct vm_host host = { 0 };
	struct vm_lab lab;
	struct vm_json j;
	uint64_t *pages = NULL;
	bool *writes = NULL;
	size_t n = 0;
	if ((rc = policy_open(&o, &r)) != 0)
		return rc;
	vm_lab_init(&lab, &host);
	if (o.need_future && (rc = policy_future(&r, &lab)) != 0)
		goto out;
	if ((rc = add_sims(&o, &lab, &host)) != 0)
		goto out;
	/* --steps reads everything first: empty input is refused before output begins. */
	if (o.steps && (rc = read_all(&r, &pages, &writes, &n)) != 0)
		goto out;
	if (o.steps && n == 0) {
		cli_fail("policy", "%s: no references", r.name);
		rc = CLI_BADINPUT;
		goto out;
	}
	if (o.json) {
		vm_json_init(&j, stdout);
		vm_json_begin_object(&j, NULL);
		vm_json_str(&j, "source", r.name);
		vm_json_u64(&j, "page_size", o.page_size);
		if (o.steps)
			vm_json_begin_array(&j, "results");
	}
	rc = o.steps ? run_steps(pages, writes, n, &lab, o.json ? &j : NULL) : run_streaming(&r, &lab);
	if (rc == 0 && lab.time == 0) {
		/* Nothing was printed yet: --steps checked before opening its document. */
		cli_fail("policy", "%s: no references", r.name);
		rc = CLI_BADINPUT;
	}
	if (rc)
		goto out;
	if (o.json) {
		if (o.steps)
			vm_json_end_array(&j);
		vm_json_u64(&j, "references", lab.time);
		vm_json_u64(&j, "distinct_pages", lab.ids.n);
		if (!o.steps) {
			vm_json_begin_array(&j, "results");
			for (unsigned i = 0; i < lab.nsims; i++) {
				vm_json_begin_object(&j, NULL);
				result_name_json(&j, lab.sims[i]);
				result_totals_json(&j, lab.sims[i]);
				vm_json_end_object(&j);
			}
			vm_json_end_array(&j);
		}
		vm_json_end_object(&j);
		vm_json_finish(&j);
	} else if (!o.steps) {
		summary_text(&o, &lab, r.name);
	}
out:
	free(pages);
	free(writes);
	vm_lab_fini(&lab);
	vm_refs_close(&r);
	return rc;
}
