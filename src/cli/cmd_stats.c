/*
 * vmlab stats --list: every counter with its unit and meaning.
 */
#include "cli/cli.h"


int cmd_stats(int argc, char **argv)
{
	bool list = false, json = false;
	const struct cli_opt opts[] = {
		{ "list", CLI_FLAG, &list, NULL, "print every counter with its unit and meaning" },
		{ "json", CLI_FLAG, &json, NULL, "print JSON" },
		{ 0 },
	};
	int first, rc = cli_parse("stats", argc, argv, opts, &first, "--list [--json]",
				  "Describe the counters that every vmlab report uses: one name each,\n"
				  "the same in the text summary, JSON, CSV and the tests.");
	if (rc)
		return rc;
	if (first < argc) {
		cli_fail("stats", "%s: unexpected argument", argv[first]);
		return CLI_USAGE;
	}
	if (!list) {
		cli_fail("stats", "nothing to do: use --list");
		return CLI_USAGE;
	}
	cli_list_counters(json);
	return 0;
}
