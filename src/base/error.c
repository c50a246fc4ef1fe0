#include "base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static void vformat(struct vm_error *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int vm_error_at(struct vm_error *err, const char *file, long line, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->file = file;
		err->line = line;
		va_start(ap, fmt);
		vformat(err, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int vm_error_set(struct vm_error *err, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->file = NULL;
		err->line = 0;
		va_start(ap, fmt);
		vformat(err, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void vm_error_clear(struct vm_error *err)
{
	if (err) {
		err->file = NULL;
		err->line = 0;
		err->msg[0] = '\0';
	}
}

int vm_check_fail(char *msg, size_t len, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}
