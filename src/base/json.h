/*
 * A streaming JSON writer: objects and arrays nest, commas and indentation
 * are the writer's business, strings are escaped.  Output is deterministic
 * (keys in the order written).
 */
#ifndef VM_BASE_JSON_H
#define VM_BASE_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VM_JSON_DEPTH 32

struct vm_json {
	FILE *f;
	int depth;
	bool first[VM_JSON_DEPTH];   /* nothing written yet at this depth */
	bool after_key;              /* a key was written: the value follows it */
};

void vm_json_init(struct vm_json *j, FILE *f);

/* Containers; key is NULL inside arrays and at the top. */
void vm_json_begin_object(struct vm_json *j, const char *key);
void vm_json_end_object(struct vm_json *j);
void vm_json_begin_array(struct vm_json *j, const char *key);
void vm_json_end_array(struct vm_json *j);

/* Values; key is NULL inside arrays. */
void vm_json_str(struct vm_json *j, const char *key, const char *v);
void vm_json_u64(struct vm_json *j, const char *key, uint64_t v);
void vm_json_i64(struct vm_json *j, const char *key, int64_t v);
void vm_json_bool(struct vm_json *j, const char *key, bool v);
void vm_json_double(struct vm_json *j, const char *key, double v);   /* 6 significant digits */

/* Ends the document with a newline. */
void vm_json_finish(struct vm_json *j);

#endif
