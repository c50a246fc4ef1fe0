/*
 * vmlab config: every setting, its value (after --set and --config), its
 * default and its meaning.
 */
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"

static void print_choices(const struct vm_setting_info *t)
{
	const char *name;
	printf("  %-12s   one of:", "");
	for (unsigned i = 0; (name = t->choice(i)) != NULL; i++)
		printf(" %s", name);
	printf("\n");
}

int cmd_config(int argc, char **argv)
{
	struct vm_settings *s = vmlab_settings_create();
	bool json = false;
	if (!s) {
		cli_fail("config", "out of memory");
		return CLI_BADINPUT;
	}
	const struct cli_opt opts[] = {
		{ "set", CLI_SET, s, "KEY=VALUE", "change a setting (repeatable)" },
		{ "config", CLI_CONFIG, s, "FILE", "read settings from a file of key = value lines" },
		{ "json", CLI_FLAG, &json, NULL, "print JSON" },
		{ 0 },
	};
	int first, rc = cli_parse("config", argc, argv, opts, &first, "[--set KEY=VALUE]... [--json]",
				  "Print every setting: its current value, its default and what it means.\n"
				  "The same keys work with --set on every command, in config files and in\n"
				  "scenarios.");
	if (rc == 0 && first < argc) {
		cli_fail("config", "%s: unexpected argument", argv[first]);
		rc = CLI_USAGE;
	}
	if (rc) {
		vmlab_settings_destroy(s);
		return rc;
	}
	struct vm_json j;
	if (json) {
		vm_json_init(&j, stdout);
		vm_json_begin_object(&j, NULL);
	}
	for (size_t i = 0; i < vmlab_settings_count(); i++) {
		const struct vm_setting_info *t = vmlab_setting_info(i);
		const char *v = vmlab_settings_get(s, t->key);
		if (json) {
			vm_json_begin_object(&j, t->key);
			vm_json_str(&j, "value", v);
			vm_json_str(&j, "default", t->def);
			vm_json_str(&j, "help", t->help);
			vm_json_end_object(&j);
			continue;
		}
		printf("%-12s = %-8s %s", t->key, v, t->help);
		if (strcmp(v, t->def) != 0)
			printf(" (default %s)", t->def);
		printf("\n");
		if (t->kind == VM_SETTING_CHOICE)
			print_choices(t);
	}
	if (json) {
		vm_json_end_object(&j);
		vm_json_finish(&j);
	}
	vmlab_settings_destroy(s);
	return 0;
}
