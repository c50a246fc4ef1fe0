/*
 * Helpers the text reader and writer share (text.c, text_write.c).
 */
#ifndef VM_TRACE_TEXT_H
#define VM_TRACE_TEXT_H

#include <stddef.h>

/* A hex digit's value, or -1. */
int vm_text_hexval(char c);
/* A path word as written (bytes outside 0x21..0x7e, '#', '\' and a
 * leading '[' as \xHH) back to the path: 0, -EINVAL (a bad or \x00
 * escape), -E2BIG (longer than cap - 1). */
int vm_text_unescape(const char *s, char *out, size_t cap);
/* The reverse, into out (cap >= 4 * strlen(path) + 1). */
void vm_text_escape(const char *path, char *out, size_t cap);

#endif
