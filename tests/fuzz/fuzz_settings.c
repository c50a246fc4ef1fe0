/*
 * Fuzz target: the config-file parser (vmlab_settings_load_text) and the
 * --set word parser, on arbitrary bytes.  Whatever the input, the parser
 * must return 0 or -EINVAL with a message, and the settings must stay
 * printable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/settings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err = { 0 };
	if (!s)
		return 0;
	int rc = vmlab_settings_load_text(s, "fuzz.conf", (const char *)data, size, &err);
	if (rc != 0 && (rc != -EINVAL || err.msg[0] == '\0' || err.line < 1))
		abort();
	/* The same bytes as one --set word (up to the first NUL). */
	char word[256];
	size_t n = size < sizeof(word) - 1 ? size : sizeof(word) - 1;
	memcpy(word, data, n);
	word[n] = '\0';
	rc = vmlab_settings_parse(s, word, &err);
	if (rc != 0 && (rc != -EINVAL || err.msg[0] == '\0'))
		abort();
	for (size_t i = 0; i < vmlab_settings_count(); i++)
		if (!vmlab_settings_get(s, vmlab_setting_info(i)->key))
			abort();
	vmlab_settings_destroy(s);
	return 0;
}
