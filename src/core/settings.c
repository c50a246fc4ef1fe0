/*
 * The settings namespace: parsing, validation and canonical text of every
 * key in VM_SETTINGS.
 */
#include <vmlab/settings.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/compiler.h"
#include "base/error.h"
#include "core/settings_table.h"
#include "kernel/swap_spec.h"

static const struct vm_setting_info table[VM_SET_COUNT] = {
#define VM_SETTING_INFO(id, key, kind, def, min, max, choices, help) \
	{ key, VM_SETTING_##kind, def, help, min, max, choices },
	VM_SETTINGS(VM_SETTING_INFO)
#undef VM_SETTING_INFO
};

size_t vmlab_settings_count(void)
{
	return VM_SET_COUNT;
}

const struct vm_setting_info *vmlab_setting_info(size_t i)
{
	return i < VM_SET_COUNT ? &table[i] : NULL;
}

static int find_key(const char *key)
{
	for (int i = 0; i < VM_SET_COUNT; i++)
		if (strcmp(table[i].key, key) == 0)
			return i;
	return -1;
}

/* Levenshtein distance of two short strings (for "did you mean"). */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 31 || lb > 31)
		return 99;
	unsigned row[32];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			best = VM_MIN(best, up + 1);
			best = VM_MIN(best, row[j - 1] + 1);
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_key(const char *key, struct vm_error *err)
{
	const char *best = NULL;
	unsigned best_d = 3;
	for (int i = 0; i < VM_SET_COUNT; i++) {
		unsigned d = edit_distance(key, table[i].key);
		if (d < best_d) {
			best_d = d;
			best = table[i].key;
		}
	}
	if (best)
		return vm_error_set(err, "unknown setting '%s' (did you mean '%s'?)", key, best);
	return vm_error_set(err, "unknown setting '%s' (vmlab config lists them)", key);
}

int vmlab_parse_size(const char *text, uint64_t *bytes)
{
	const char *p = text;
	uint64_t n = 0;
	int base = 10;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!isxdigit((unsigned char)*p) || (base == 10 && !isdigit((unsigned char)*p)))
		return -EINVAL;
	for (; *p; p++) {
		int d;
		if (isdigit((unsigned char)*p))
			d = *p - '0';
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = tolower((unsigned char)*p) - 'a' + 10;
		else
			break;
		if (n > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return -ERANGE;
		n = n * (uint64_t)base + (uint64_t)d;
	}
	unsigned shift = 0;
	if (*p && base == 10) {
		static const char units[] = "KMGTP";
		const char *u = strchr(units, toupper((unsigned char)*p));
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (p[0] == 'i' && p[1] == 'B')
			p += 2;
		else if (p[0] == 'B')
			p++;
	}
	if (*p)
		return -EINVAL;
	if (shift && n > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = n << shift;
	return 0;
}

void vmlab_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	int u = -1;
	uint64_t n = bytes;
	while (n && (n & 1023) == 0 && u < 4) {
		n >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else
		snprintf(buf, len, "%" PRIu64 "%c", n, units[u]);
}

static int parse_uint(const char *text, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *text, uint64_t *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	for (size_t i = 0; i < VM_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_choice(const struct vm_setting_info *t, const char *text, uint64_t *out)
{
	const char *name;
	for (unsigned i = 0; (name = t->choice(i)) != NULL; i++) {
		if (strcasecmp(text, name) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int bad_choice(const struct vm_setting_info *t, const char *value, struct vm_error *err)
{
	char list[120] = "";
	size_t used = 0;
	const char *name;
	for (unsigned i = 0; (name = t->choice(i)) != NULL && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", name);
	return vm_error_set(err, "%s=%s: unknown value (one of: %s)", t->key, value, list);
}

static void format_value(const struct vm_setting_info *t, uint64_t v, char *buf, size_t len)
{
	switch (t->kind) {
	case VM_SETTING_SIZE:
		vmlab_format_size(v, buf, len);
		break;
	case VM_SETTING_UINT:
		snprintf(buf, len, "%" PRIu64, v);
		break;
	case VM_SETTING_BOOL:
		snprintf(buf, len, "%s", v ? "on" : "off");
		break;
	case VM_SETTING_CHOICE:
		snprintf(buf, len, "%s", t->choice((unsigned)v));
		break;
	case VM_SETTING_LIST:
		break;      /* its text is not a function of the total: parse_value gives it */
	}
}

/* A LIST: the swap areas (the only list so far).  *v is their total, canon
 * the canonical text. */
static int parse_list(const struct vm_setting_info *t, const char *value, uint64_t *v,
		      char *canon, struct vm_error *err)
{
	struct vm_swap_spec spec;
	char why[160];

	if (vm_swap_spec_parse(value, &spec, why, sizeof(why)))
		return vm_error_set(err, "%s=%s: %s", t->key, value, why);
	if (vm_swap_spec_format(&spec, canon, VM_SETTING_TEXT))
		return vm_error_set(err, "%s=%s: too long", t->key, value);
	*v = vm_swap_spec_bytes(&spec);
	return 0;
}

/* Parse value for setting t into *v (and a LIST's canonical text into
 * canon, VM_SETTING_TEXT bytes); fill err on failure. */
static int parse_value(const struct vm_setting_info *t, const char *value, uint64_t *v,
		       char *canon, struct vm_error *err)
{
	int rc = -EINVAL;
	switch (t->kind) {
	case VM_SETTING_SIZE:
		rc = vmlab_parse_size(value, v);
		if (rc)
			return vm_error_set(err, "%s=%s: not a size (a number with K, M, G or T)",
					    t->key, value);
		break;
	case VM_SETTING_UINT:
		rc = parse_uint(value, v);
		if (rc)
			return vm_error_set(err, "%s=%s: not a whole number", t->key, value);
		break;
	case VM_SETTING_BOOL:
		rc = parse_bool(value, v);
		if (rc)
			return vm_error_set(err, "%s=%s: not on or off", t->key, value);
		break;
	case VM_SETTING_CHOICE:
		rc = parse_choice(t, value, v);
		if (rc)
			return bad_choice(t, value, err);
		break;
	case VM_SETTING_LIST:
		return parse_list(t, value, v, canon, err);
	}
	if ((t->kind == VM_SETTING_SIZE || t->kind == VM_SETTING_UINT) && (*v < t->min || *v > t->max)) {
		char lo[24], hi[24];
		format_value(t, t->min, lo, sizeof(lo));
		format_value(t, t->max, hi, sizeof(hi));
		return vm_error_set(err, "%s=%s: out of range (%s to %s)", t->key, value, lo, hi);
	}
	if (t->kind == VM_SETTING_SIZE && !VM_IS_ALIGNED(*v, VM_PAGE_SIZE) && t->min >= VM_PAGE_SIZE)
		return vm_error_set(err, "%s=%s: not a multiple of 4K", t->key, value);
	return 0;
}

static void store(struct vm_settings *s, int i, uint64_t v, bool explicit_set, const char *canon)
{
	s->val[i] = v;
	s->explicit_set[i] = explicit_set;
	if (table[i].kind == VM_SETTING_LIST)
		snprintf(s->text[i], sizeof(s->text[i]), "%s", canon);
	else
		format_value(&table[i], v, s->text[i], sizeof(s->text[i]));
}

struct vm_settings *vmlab_settings_create(void)
{
	struct vm_settings *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (int i = 0; i < VM_SET_COUNT; i++) {
		uint64_t v = 0;
		char canon[VM_SETTING_TEXT] = "";
		/* The defaults are ours: a failure here is a bug in the table,
		 * which test_settings checks. */
		if (parse_value(&table[i], table[i].def, &v, canon, NULL) != 0)
			v = 0;
		store(s, i, v, false, canon);
	}
	return s;
}

struct vm_settings *vmlab_settings_clone(const struct vm_settings *s)
{
	struct vm_settings *c = malloc(sizeof(*c));
	if (c)
		memcpy(c, s, sizeof(*c));
	return c;
}

void vmlab_settings_destroy(struct vm_settings *s)
{
	free(s);
}

int vmlab_settings_set(struct vm_settings *s, const char *key, const char *value,
		       struct vm_error *err)
{
	int i = find_key(key);
	if (i < 0)
		return unknown_key(key, err);
	if (!*value)
		return vm_error_set(err, "%s: empty value", key);
	uint64_t v;
	char canon[VM_SETTING_TEXT];
	int rc = parse_value(&table[i], value, &v, canon, err);
	if (rc)
		return rc;
	store(s, i, v, true, canon);
	return 0;
}

int vmlab_settings_parse(struct vm_settings *s, const char *word, struct vm_error *err)
{
	const char *eq = strchr(word, '=');
	char key[64];
	if (!eq || eq == word)
		return vm_error_set(err, "'%s': expected key=value", word);
	size_t n = (size_t)(eq - word);
	if (n >= sizeof(key))
		return vm_error_set(err, "'%.40s...': key too long", word);
	memcpy(key, word, n);
	key[n] = '\0';
	return vmlab_settings_set(s, key, eq + 1, err);
}

static const char *trim(char *a, char *b)   /* trims [a, b) in place; returns start */
{
	while (a < b && isspace((unsigned char)*a))
		a++;
	while (b > a && isspace((unsigned char)b[-1]))
		b--;
	*b = '\0';
	return a;
}

/* One config line (already without its newline); line numbers from 1. */
static int load_line(struct vm_settings *s, const char *name, long lineno, char *line,
		     struct vm_error *err)
{
	char *hash = strchr(line, '#');
	char *end = hash ? hash : line + strlen(line);
	char *eq = memchr(line, '=', (size_t)(end - line));
	if (!eq) {
		if (*trim(line, end))
			return vm_error_at(err, name, lineno, "expected key = value");
		return 0;
	}
	const char *key = trim(line, eq);
	const char *value = trim(eq + 1, end);
	if (!*key)
		return vm_error_at(err, name, lineno, "missing key before '='");
	struct vm_error e;
	if (vmlab_settings_set(s, key, value, &e))
		return vm_error_at(err, name, lineno, "%s", e.msg);
	return 0;
}

int vmlab_settings_load_text(struct vm_settings *s, const char *name, const char *text,
			     size_t len, struct vm_error *err)
{
	char line[512];
	long lineno = 0;
	size_t i = 0;
	while (i < len) {
		size_t n = 0;
		lineno++;
		while (i < len && text[i] != '\n') {
			if (text[i] == '\0')
				return vm_error_at(err, name, lineno, "NUL byte in a text file");
			if (n + 1 >= sizeof(line))
				return vm_error_at(err, name, lineno, "line longer than %zu bytes",
						   sizeof(line) - 1);
			line[n++] = text[i++];
		}
		i++;    /* the newline */
		line[n] = '\0';
		int rc = load_line(s, name, lineno, line, err);
		if (rc)
			return rc;
	}
	return 0;
}

int vmlab_settings_load_file(struct vm_settings *s, const char *path, struct vm_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		vm_error_at(err, path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nbuf = ncap <= (size_t)1 << 24 ? realloc(buf, ncap) : NULL;
			if (!nbuf) {
				rc = vm_error_at(err, path, 0, "config file too large (over 16 MiB)");
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f))
				rc = vm_error_at(err, path, 0, "read error");
			break;
		}
	}
	fclose(f);
	if (rc == 0)
		rc = vmlab_settings_load_text(s, path, buf, len, err);
	free(buf);
	return rc;
}

const char *vmlab_settings_get(const struct vm_settings *s, const char *key)
{
	int i = find_key(key);
	return i < 0 ? NULL : s->text[i];
}

uint64_t vmlab_settings_value(const struct vm_settings *s, const char *key, bool *ok)
{
	int i = find_key(key);
	if (ok)
		*ok = i >= 0;
	return i < 0 ? 0 : s->val[i];
}

bool vmlab_settings_is_set(const struct vm_settings *s, const char *key)
{
	int i = find_key(key);
	return i >= 0 && s->explicit_set[i];
}

uint64_t vm_settings_u64(const struct vm_settings *s, enum vm_setting_id id)
{
	return s->val[id];
}

const char *vm_settings_text(const struct vm_settings *s, enum vm_setting_id id)
{
	return s->text[id];
}
