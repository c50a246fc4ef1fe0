/*
 * vmlab — one configuration namespace (DESIGN.md rule 7).
 *
 * Every knob of a machine is a `key=value` setting with a default and a line
 * of help.  The same names serve `--set key=value` on the command line,
 * `set` lines in scenarios, config files and this API; `vmlab config` prints
 * them all.  The table itself is VM_SETTINGS in src/core/settings_table.h.
 */
#ifndef VMLAB_SETTINGS_H
#define VMLAB_SETTINGS_H

#include <vmlab/types.h>

enum vm_setting_kind {
	VM_SETTING_SIZE,     /* bytes, written with K/M/G/T suffixes (powers of 1024) */
	VM_SETTING_UINT,     /* unsigned integer, decimal or 0x hex */
	VM_SETTING_BOOL,     /* on/off, yes/no, true/false, 1/0 */
	VM_SETTING_CHOICE,   /* one name out of a list (presets, modes, ...) */
	VM_SETTING_LIST,     /* comma-separated items of the key's own form (swap:
			      * size[:priority],...); the value is their total bytes */
};

/* What a caller may know about one setting. */
struct vm_setting_info {
	const char *key;
	enum vm_setting_kind kind;
	const char *def;          /* default, as text */
	const char *help;         /* one line */
	uint64_t min, max;        /* inclusive range for SIZE and UINT */
	const char *(*choice)(unsigned i);  /* CHOICE: the i-th name, NULL past the end */
};

/* Create a settings object holding every default.  Returns NULL when the
 * host is out of memory.  Destroy(NULL) does nothing. */
struct vm_settings *vmlab_settings_create(void);
void vmlab_settings_destroy(struct vm_settings *s);
struct vm_settings *vmlab_settings_clone(const struct vm_settings *s);

/* Set key to value.  Returns 0, or -EINVAL with err->msg naming the key and
 * what is wrong (unknown key, with a suggestion; malformed value; out of
 * range; unknown choice, with the list).  err may be NULL. */
int vmlab_settings_set(struct vm_settings *s, const char *key, const char *value,
		       struct vm_error *err);

/* Parse one "key=value" word (as given to --set).  Same errors as set(). */
int vmlab_settings_parse(struct vm_settings *s, const char *word, struct vm_error *err);

/* Apply a config file's text: one `key = value` a line, `#` comments, blank
 * lines.  name is used in errors (err->file/err->line).  Stops at the first
 * error and returns -EINVAL; settings before it stay applied. */
int vmlab_settings_load_text(struct vm_settings *s, const char *name, const char *text,
			     size_t len, struct vm_error *err);

/* Read and apply the config file at path: -errno if it cannot be read. */
int vmlab_settings_load_file(struct vm_settings *s, const char *path, struct vm_error *err);

/* The canonical text of a setting's value ("1G", "on", "zen4"), or NULL for
 * an unknown key.  The string lives as long as s, until the next set. */
const char *vmlab_settings_get(const struct vm_settings *s, const char *key);

/* The value as a number: bytes for SIZE, the value for UINT, 0/1 for BOOL,
 * the choice's index for CHOICE, the total bytes for LIST.  Unknown key: returns 0 and sets *ok false. */
uint64_t vmlab_settings_value(const struct vm_settings *s, const char *key, bool *ok);

/* True if the key was set explicitly (not left at its default). */
bool vmlab_settings_is_set(const struct vm_settings *s, const char *key);

/* The table: count and the i-th entry (NULL past the end). */
size_t vmlab_settings_count(void);
const struct vm_setting_info *vmlab_setting_info(size_t i);

/* Parse a size such as "64K", "1G", "4096", "0x1000", "2MiB" into bytes.
 * Returns 0 or -EINVAL (syntax) / -ERANGE (overflow). */
int vmlab_parse_size(const char *text, uint64_t *bytes);

/* Format bytes as the shortest exact form ("1G", "12K", "4097") into buf. */
void vmlab_format_size(uint64_t bytes, char *buf, size_t len);

#endif
