/*
 * vmlab policy --ostep: the command line and the output of OSTEP's
 * paging-policy.py (homework vm-beyondphys-policy), so that a course's
 * exercises give the same answers: the same options (parsed as Python's
 * optparse does), the same random addresses and choices for the same seed
 * (base/mt19937.h), the same lines.  The policies' semantics are in
 * policy/ostep.c; docs/policies.md lists where vmlab differs (only on
 * input that makes the script stop with a Python exception).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/mt19937.h"
#include "cli/cli.h"
#include "cli/policy_cli.h"
#include "policy/ostep.h"

enum { O_ADDRESSES, O_ADDRESSFILE, O_NUMADDRS, O_POLICY, O_CLOCKBITS, O_CACHESIZE, O_MAXPAGE,
       O_SEED, O_NOTRACE, O_COMPUTE, O_HELP, O_COUNT };

static const struct {
	char short_name;
	const char *long_name;
	bool value;                /* takes a value */
	const char *help;
} options[O_COUNT] = {
	[O_ADDRESSES] = { 'a', "addresses", true, "a set of comma-separated pages to access; -1 means randomly generate" },
	[O_ADDRESSFILE] = { 'f', "addressfile", true, "a file with a bunch of addresses in it" },
	[O_NUMADDRS] = { 'n', "numaddrs", true, "if -a (--addresses) is -1, this is the number of addrs to generate" },
	[O_POLICY] = { 'p', "policy", true, "replacement policy: FIFO, LRU, MRU, OPT, UNOPT, RAND, CLOCK" },
	[O_CLOCKBITS] = { 'b', "clockbits", true, "for CLOCK policy, how many clock bits to use" },
	[O_CACHESIZE] = { 'C', "cachesize", true, "size of the page cache, in pages" },
	[O_MAXPAGE] = { 'm', "maxpage", true, "if randomly generating page accesses, this is the max page number" },
	[O_SEED] = { 's', "seed", true, "random number seed" },
	[O_NOTRACE] = { 'N', "notrace", false, "do not print out a detailed trace" },
	[O_COMPUTE] = { 'c', "compute", false, "compute answers for me" },
	[O_HELP] = { 'h', "help", false, "show this help message and exit" },
};

struct ostep_args {
	const char *val[O_COUNT];  /* the strings as given (defaults as the script's) */
	bool notrace, compute, help;
	int64_t clockbits;
};

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "vmlab policy --ostep: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	return CLI_USAGE;
}

/* optparse's int type: 0x.. hex, 0b.. binary, 0.. octal, else decimal. */
static int optparse_int(const char *s, int64_t *out)
{
	int base = 10;
	const char *p = s;
	char *end;
	if ((p[0] == '0') && (p[1] == 'x' || p[1] == 'X'))
		base = 16;
	else if ((p[0] == '0') && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
		if (!*p)
			p = "0";
	} else if (p[0] == '0')
		base = 8;
	errno = 0;
	long long v = strtoll(p, &end, base);
	if (errno || end == p || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* One option with its value (NULL for flags). */
static int store(struct ostep_args *a, int o, const char *v, const char *shown)
{
	switch (o) {
	case O_NOTRACE:
		a->notrace = true;
		return 0;
	case O_COMPUTE:
		a->compute = true;
		return 0;
	case O_HELP:
		a->help = true;
		return 0;
	case O_CLOCKBITS:
		if (optparse_int(v, &a->clockbits) != 0)
			return usage_error("option %s: invalid integer value: '%s'", shown, v);
		return 0;
	default:
		a->val[o] = v;
		return 0;
	}
}

/* optparse's _match_abbrev: an exact long name or a unique prefix. */
static int match_long(const char *name, size_t len)
{
	int found = -1, count = 0;
	for (int o = 0; o < O_COUNT; o++) {
		if (strlen(options[o].long_name) == len && strncmp(options[o].long_name, name, len) == 0)
			return o;
		if (strncmp(options[o].long_name, name, len) == 0) {
			found = o;
			count++;
		}
	}
	return count == 1 ? found : count > 1 ? -2 : -1;
}

/* An option that takes a value: v as attached ("--seed=3", "-s3"), or
 * NULL to take the next argument (optparse's nargs=1); *i moves past it. */
static int store_value(struct ostep_args *a, int o, const char *v, int argc, char **argv, int *i,
		       const char *shown)
{
	if (!v && *i + 1 >= argc)
		return usage_error("%s option requires 1 argument%s", shown, "");
	if (!v)
		v = argv[++*i];
	return store(a, o, v, shown) != 0 ? CLI_USAGE : 0;
}

static int parse(int argc, char **argv, struct ostep_args *a)
{
	a->val[O_ADDRESSES] = "-1";
	a->val[O_ADDRESSFILE] = "";
	a->val[O_NUMADDRS] = "10";
	a->val[O_POLICY] = "FIFO";
	a->val[O_CACHESIZE] = "3";
	a->val[O_MAXPAGE] = "10";
	a->val[O_SEED] = "0";
	a->clockbits = 2;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--") == 0)
			break;                 /* the rest are positional: the script ignores them */
		if (strncmp(arg, "--", 2) == 0) {
			const char *name = arg + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			int o = match_long(name, len);
			char shown[80];
			snprintf(shown, sizeof(shown), "--%.*s", (int)len, name);
			if (o == -1)
				return usage_error("no such option: %s%s", shown, "");
			if (o == -2)
				return usage_error("ambiguous option: %s%s", shown, "");
			snprintf(shown, sizeof(shown), "--%s", options[o].long_name);
			if (!options[o].value) {
				if (eq)
					return usage_error("%s option does not take a value%s", shown, "");
				store(a, o, NULL, shown);
				continue;
			}
			int rc = store_value(a, o, eq ? eq + 1 : NULL, argc, argv, &i, shown);
			if (rc)
				return rc;
			continue;
		}
		if (arg[0] != '-' || arg[1] == '\0')
			continue;                  /* positional */
		for (size_t k = 1; arg[k]; k++) {
			int o;
			char shown[3] = { '-', arg[k], '\0' };
			for (o = 0; o < O_COUNT && options[o].short_name != arg[k]; o++)
				;
			if (o == O_COUNT)
				return usage_error("no such option: %s%s", shown, "");
			if (!options[o].value) {
				store(a, o, NULL, shown);
				continue;
			}
			int rc = store_value(a, o, arg[k + 1] ? arg + k + 1 : NULL, argc, argv, &i, shown);
			if (rc)
				return rc;
			break;
		}
	}
	return 0;
}

static void help(void)
{
	printf("usage: vmlab policy --ostep [options]\n\n"
	       "OSTEP's paging-policy.py (vm-beyondphys-policy), the same options and output:\n\n");
	for (int o = 0; o < O_COUNT; o++) {
		char left[48];
		snprintf(left, sizeof(left), "-%c%s, --%s%s", options[o].short_name,
			 options[o].value ? " X" : "", options[o].long_name, options[o].value ? "=X" : "");
		printf("  %-28s %s\n", left, options[o].help);
	}
}

static bool py_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Python's int(text) of [s, s + n), within 64 bits: 0 or -EINVAL. */
static int py_int(const char *s, size_t n, int64_t *out)
{
	size_t i = 0, digits = 0;
	bool neg = false;
	uint64_t v = 0;

	while (i < n && py_space(s[i]))
		i++;
	while (n > i && py_space(s[n - 1]))
		n--;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (; i < n; i++) {
		if (s[i] == '_' && digits && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
			continue;
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		digits++;
		if (v > (UINT64_C(1) << 63) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > (UINT64_C(1) << 63) - !neg)
			return -ERANGE;
	}
	if (!digits)
		return -EINVAL;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* A value the script turns into an int; report as Python would stop. */
static int want_int(const char *what, const char *text, int64_t *out)
{
	int rc = py_int(text, strlen(text), out);
	if (rc == 0)
		return 0;
	fprintf(stderr, "vmlab policy --ostep: %s: %s '%s' (paging-policy.py stops here with a "
		"ValueError)\n", what, rc == -ERANGE ? "vmlab handles 64-bit integers, not" :
		"invalid literal for int() with base 10:", text);
	return CLI_BADINPUT;
}

struct addrs {
	int64_t *v;
	size_t n, cap;
};

static int push(struct addrs *a, int64_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		int64_t *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	return 0;
}

/* The reference list as the script builds it. */
static int build_addrs(const struct ostep_args *a, int64_t numaddrs, int64_t maxpage,
		       struct vm_mt *mt, struct addrs *out)
{
	const char *file = a->val[O_ADDRESSFILE], *list = a->val[O_ADDRESSES];

	if (file[0]) {
		FILE *f = fopen(file, "rb");
		char *text = NULL;
		size_t len = 0, cap = 0, got;
		int rc = 0;
		if (!f) {
			fprintf(stderr, "vmlab policy --ostep: %s: cannot open: %s\n", file, strerror(errno));
			return CLI_BADINPUT;
		}
		do {
			if (len + 4096 > cap) {
				char *t = realloc(text, cap = cap ? 2 * cap : 65536);
				if (!t) {
					free(text);
					fclose(f);
					return CLI_BADINPUT;
				}
				text = t;
			}
			got = fread(text + len, 1, cap - len, f);
			len += got;
		} while (got);
		fclose(f);
		/* `for line in fd: int(line)`: lines end at \n, \r\n or \r (text mode). */
		long lineno = 0;
		for (size_t start = 0, i = 0; rc == 0 && start < len; start = i) {
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			size_t end = i;
			if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
			if (i < len)
				i++;
			int64_t x;
			lineno++;
			if (py_int(text + start, end - start, &x) != 0) {
				fprintf(stderr, "vmlab: %s:%ld: not an integer (paging-policy.py stops here "
					"with a ValueError)\n", file, lineno);
				rc = CLI_BADINPUT;
			} else if (push(out, x) != 0) {
				rc = CLI_BADINPUT;
			}
		}
		free(text);
		return rc;
	}
	if (strcmp(list, "-1") == 0) {
		for (int64_t i = 0; i < numaddrs; i++)
			if (push(out, (int64_t)((double)maxpage * vm_mt_random(mt))) != 0)
				return CLI_BADINPUT;
		return 0;
	}
	for (const char *p = list;; ) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		int64_t x;
		if (py_int(p, n, &x) != 0) {
			fprintf(stderr, "vmlab policy --ostep: -a: '%.*s' is not an integer "
				"(paging-policy.py stops there with a ValueError)\n", (int)n, p);
			return CLI_BADINPUT;
		}
		if (push(out, x) != 0)
			return CLI_BADINPUT;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* str(list) of the memory: "[1, 2, 3]". */
static void list_text(const struct vm_ostep *o, char *buf, size_t len)
{
	size_t n = 0;
	n += (size_t)snprintf(buf, len, "[");
	for (size_t i = 0; i < o->count && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%" PRId64, i ? ", " : "", o->memory[i]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

static int solve(const struct ostep_args *a, int policy, int64_t cachesize, struct vm_mt *mt,
		 const struct addrs *list)
{
	static const char *const left[] = { [VM_OSTEP_FIFO] = "FirstIn", [VM_OSTEP_LRU] = "LRU",
					    [VM_OSTEP_MRU] = "LRU",      [VM_OSTEP_OPT] = "Left ",
					    [VM_OSTEP_UNOPT] = "Left ",  [VM_OSTEP_RAND] = "Left ",
					    [VM_OSTEP_CLOCK] = "Left " };
	static const char *const right[] = { [VM_OSTEP_FIFO] = "Lastin ", [VM_OSTEP_LRU] = "MRU",
					     [VM_OSTEP_MRU] = "MRU",      [VM_OSTEP_OPT] = "Right",
					     [VM_OSTEP_UNOPT] = "Right",  [VM_OSTEP_RAND] = "Right",
					     [VM_OSTEP_CLOCK] = "Right" };
	struct vm_host host = { 0 };
	struct vm_ostep o;
	size_t cap = 24 * (list->n + 2);
	char *mem = malloc(cap);
	int rc = 0;

	if (!mem || vm_ostep_init(&o, &host, (enum vm_ostep_policy)policy, cachesize, a->clockbits,
				  list->v, list->n, mt) != 0) {
		free(mem);
		cli_fail("policy", "out of memory");
		return CLI_BADINPUT;
	}
	for (size_t i = 0; i < list->n; i++) {
		bool hit;
		int64_t victim;
		rc = vm_ostep_step(&o, &hit, &victim);
		if (rc) {
			fflush(stdout);
			fprintf(stderr, "vmlab policy --ostep: %s (paging-policy.py stops here with an "
				"IndexError)\n", rc == -ERANGE ? "a cache of 0 pages cannot hold the page"
							      : "out of memory");
			rc = CLI_BADINPUT;
			break;
		}
		if (a->notrace)
			continue;
		char victim_text[32] = "-";
		if (victim != -1)
			snprintf(victim_text, sizeof(victim_text), "%" PRId64, victim);
		list_text(&o, mem, cap);
		printf("Access: %" PRId64 "  %s %s -> %12s <- %s Replaced:%s [Hits:%" PRIu64
		       " Misses:%" PRIu64 "]\n",
		       list->v[i], hit ? "HIT " : "MISS", left[policy], mem, right[policy], victim_text,
		       o.hits, o.misses);
	}
	if (rc == 0) {
		printf("\n");
		if (o.hits + o.misses == 0) {
			fflush(stdout);
			fprintf(stderr, "vmlab policy --ostep: no references: no hit rate "
				"(paging-policy.py stops here with a ZeroDivisionError)\n");
			rc = CLI_BADINPUT;
		} else {
			printf("FINALSTATS hits %" PRIu64 "   misses %" PRIu64 "   hitrate %.2f\n\n", o.hits,
			       o.misses, 100.0 * (double)o.hits / ((double)o.hits + (double)o.misses));
		}
	}
	vm_ostep_fini(&o);
	free(mem);
	return rc;
}

int policy_ostep(int argc, char **argv)
{
	struct ostep_args a = { 0 };
	struct addrs list = { 0 };
	struct vm_mt mt;
	int64_t numaddrs, cachesize, maxpage, seed_check;
	int rc = parse(argc, argv, &a);

	if (rc)
		return rc;
	if (a.help) {
		help();
		return 0;
	}
	printf("ARG addresses %s\n", a.val[O_ADDRESSES]);
	printf("ARG addressfile %s\n", a.val[O_ADDRESSFILE]);
	printf("ARG numaddrs %s\n", a.val[O_NUMADDRS]);
	printf("ARG policy %s\n", a.val[O_POLICY]);
	printf("ARG clockbits %" PRId64 "\n", a.clockbits);
	printf("ARG cachesize %s\n", a.val[O_CACHESIZE]);
	printf("ARG maxpage %s\n", a.val[O_MAXPAGE]);
	printf("ARG seed %s\n", a.val[O_SEED]);
	printf("ARG notrace %s\n\n", a.notrace ? "True" : "False");
	fflush(stdout);

	/* The script's conversions, in its order. */
	if ((rc = want_int("-n", a.val[O_NUMADDRS], &numaddrs)) != 0 ||
	    (rc = want_int("-C", a.val[O_CACHESIZE], &cachesize)) != 0)
		return rc;
	if (vm_mt_seed_decimal(&mt, a.val[O_SEED]) != 0) {
		want_int("-s", a.val[O_SEED], &seed_check);      /* says why */
		return CLI_BADINPUT;
	}
	if ((rc = want_int("-m", a.val[O_MAXPAGE], &maxpage)) != 0)
		return rc;
	if ((rc = build_addrs(&a, numaddrs, maxpage, &mt, &list)) != 0)
		goto out;

	if (!a.compute) {
		printf("Assuming a replacement policy of %s, and a cache of size %" PRId64 " pages,\n",
		       a.val[O_POLICY], cachesize);
		printf("figure out whether each of the following page references hit or miss\n");
		printf("in the page cache.\n\n");
		for (size_t i = 0; i < list.n; i++)
			printf("Access: %" PRId64 "  Hit/Miss?  State of Memory?\n", list.v[i]);
		printf("\n");
		goto out;
	}
	if (!a.notrace)
		printf("Solving...\n\n");
	int policy = vm_ostep_policy_find(a.val[O_POLICY]);
	if (policy < 0) {
		/* The script's line on stdout (scripts compare it), then ours naming the option. */
		printf("Policy %s is not yet implemented\n", a.val[O_POLICY]);
		fflush(stdout);
		fprintf(stderr, "vmlab policy --ostep: -p/--policy: '%s' is not a policy of "
			"paging-policy.py (FIFO, LRU, MRU, OPT, UNOPT, RAND, CLOCK)\n", a.val[O_POLICY]);
		rc = 1;                 /* the script's exit(1) */
		goto out;
	}
	rc = solve(&a, policy, cachesize, &mt, &list);
out:
	free(list.v);
	return rc;
}
