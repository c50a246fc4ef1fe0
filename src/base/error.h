/*
 * Filling a struct vm_error (include/vmlab/types.h).
 */
#ifndef VM_BASE_ERROR_H
#define VM_BASE_ERROR_H

#include <stddef.h>

#include <vmlab/types.h>

#include "base/compiler.h"

/* Record file, line and a printf-style message in err (err may be NULL).
 * Returns -EINVAL so that parsers can `return vm_error_at(...)`. */
int vm_error_at(struct vm_error *err, const char *file, long line, const char *fmt, ...)
	VM_PRINTF(4, 5);

/* Same, with no location (a setting or an option names itself in fmt). */
int vm_error_set(struct vm_error *err, const char *fmt, ...) VM_PRINTF(2, 3);

/* Clear err to "no error". */
void vm_error_clear(struct vm_error *err);

/* For validators (vm_*_check): print a printf-style message into msg (len
 * bytes; msg may be NULL) and return -EUCLEAN, so that a check can
 * `return vm_check_fail(msg, len, ...)`. */
int vm_check_fail(char *msg, size_t len, const char *fmt, ...) VM_PRINTF(3, 4);

#endif
