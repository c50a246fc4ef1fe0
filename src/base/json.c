#include "base/json.h"

#include <inttypes.h>
#include <math.h>

void vm_json_init(struct vm_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
	j->after_key = false;
}

static void indent(struct vm_json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Separator, newline, indentation and key before a value. */
static void start_value(struct vm_json *j, const char *key)
{
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		indent(j);
	}
	j->first[j->depth] = false;
	if (key) {
		put_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void open_container(struct vm_json *j, const char *key, char c)
{
	start_value(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < VM_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_container(struct vm_json *j, char c)
{
	bool empty = j->first[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (!empty)
		indent(j);
	fputc(c, j->f);
}

void vm_json_begin_object(struct vm_json *j, const char *key) { open_container(j, key, '{'); }
void vm_json_end_object(struct vm_json *j) { close_container(j, '}'); }
void vm_json_begin_array(struct vm_json *j, const char *key) { open_container(j, key, '['); }
void vm_json_end_array(struct vm_json *j) { close_container(j, ']'); }

void vm_json_str(struct vm_json *j, const char *key, const char *v)
{
	start_value(j, key);
	if (v)
		put_string(j->f, v);
	else
		fputs("null", j->f);
}

void vm_json_u64(struct vm_json *j, const char *key, uint64_t v)
{
	start_value(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void vm_json_i64(struct vm_json *j, const char *key, int64_t v)
{
	start_value(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void vm_json_bool(struct vm_json *j, const char *key, bool v)
{
	start_value(j, key);
	fputs(v ? "true" : "false", j->f);
}

void vm_json_double(struct vm_json *j, const char *key, double v)
{
	start_value(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void vm_json_finish(struct vm_json *j)
{
	fputc('\n', j->f);
}
