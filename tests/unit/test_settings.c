/* Settings: parsing, validation, canonical text, config files. */
#include <errno.h>
#include <string.h>

#include <vmlab/settings.h>

#include "tap.h"

static void test_sizes(void)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t bytes;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4096", 0, 4096 },
		{ "64K", 0, 65536 },
		{ "64k", 0, 65536 },
		{ "2MiB", 0, 2u << 20 },
		{ "3MB", 0, 3u << 20 },
		{ "1G", 0, UINT64_C(1) << 30 },
		{ "1T", 0, UINT64_C(1) << 40 },
		{ "0x1000", 0, 4096 },
		{ "0XfF", 0, 255 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "16383P", 0, UINT64_C(16383) << 50 },
		{ "16384P", -ERANGE, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ "12Q", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ " 1G", -EINVAL, 0 },
		{ "1G ", -EINVAL, 0 },
		{ "0x", -EINVAL, 0 },
		{ "0x10K", -EINVAL, 0 },
		{ "1KiBx", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 12345;
		int rc = vmlab_parse_size(cases[i].text, &b);
		is_i64(rc, cases[i].rc, "parse_size('%s') returns %d", cases[i].text, cases[i].rc);
		if (cases[i].rc == 0)
			is_u64(b, cases[i].bytes, "parse_size('%s') value", cases[i].text);
	}
	static const struct {
		uint64_t bytes;
		const char *text;
	} fmt[] = {
		{ 0, "0" }, { 4097, "4097" }, { 12288, "12K" }, { UINT64_C(1) << 30, "1G" },
		{ (UINT64_C(1) << 30) + 4096, "1048580K" }, { UINT64_C(3) << 40, "3T" },
		{ UINT64_C(1) << 60, "1024P" },
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char buf[32];
		vmlab_format_size(fmt[i].bytes, buf, sizeof(buf));
		is_str(buf, fmt[i].text, "format_size(%s)", fmt[i].text);
	}
}

static void test_defaults(void)
{
	struct vm_settings *s = vmlab_settings_create();
	ok(s != NULL, "create");
	ok(vmlab_settings_count() >= 10, "the table has the core keys");
	for (size_t i = 0; i < vmlab_settings_count(); i++) {
		const struct vm_setting_info *t = vmlab_setting_info(i);
		is_str(vmlab_settings_get(s, t->key), t->def, "default of %s is its canonical text", t->key);
		ok(!vmlab_settings_is_set(s, t->key), "%s not explicitly set", t->key);
		ok(t->help && strlen(t->help) > 10, "%s has a help line", t->key);
		struct vm_error err;
		is_i64(vmlab_settings_set(s, t->key, t->def, &err), 0, "default of %s parses", t->key);
	}
	ok(vmlab_setting_info(vmlab_settings_count()) == NULL, "info past the end is NULL");
	bool found;
	is_u64(vmlab_settings_value(s, "phys", &found), UINT64_C(1) << 30, "phys defaults to 1 GiB");
	ok(found, "phys found");
	is_u64(vmlab_settings_value(s, "nosuch", &found), 0, "unknown key value is 0");
	ok(!found, "unknown key not found");
	ok(vmlab_settings_get(s, "nosuch") == NULL, "get of an unknown key is NULL");
	is_str(vmlab_settings_get(s, "tlb"), "zen4", "tlb defaults to zen4 (the host CPU)");
	is_str(vmlab_settings_get(s, "pt"), "radix4", "pt defaults to radix4");
	vmlab_settings_destroy(s);
	vmlab_settings_destroy(NULL);
}

static void expect_error(struct vm_settings *s, const char *word, const char *fragment)
{
	struct vm_error err = { 0 };
	int rc = vmlab_settings_parse(s, word, &err);
	is_i64(rc, -EINVAL, "'%s' is refused", word);
	ok(strstr(err.msg, fragment) != NULL, "'%s' error says '%s' (got '%s')", word, fragment, err.msg);
}

static void test_errors(void)
{
	struct vm_settings *s = vmlab_settings_create();
	expect_error(s, "phy=1G", "did you mean 'phys'");
	expect_error(s, "zzzzzzzz=1", "unknown setting 'zzzzzzzz'");
	expect_error(s, "phys=12Q", "phys=12Q: not a size");
	expect_error(s, "phys=32K", "out of range (64K to 1T)");
	expect_error(s, "phys=2T", "out of range");
	expect_error(s, "phys=65540", "not a multiple of 4K");
	expect_error(s, "tlb=pentium", "one of:");
	expect_error(s, "tlb=pentium", "zen4");
	expect_error(s, "pcid=maybe", "not on or off");
	expect_error(s, "cpus=0", "out of range (1 to 64)");
	expect_error(s, "cpus=abc", "not a whole number");
	expect_error(s, "cpus=-1", "not a whole number");
	expect_error(s, "seed=99999999999999999999", "not a whole number");
	expect_error(s, "phys", "expected key=value");
	expect_error(s, "=1G", "expected key=value");
	expect_error(s, "phys=", "empty value");
	is_str(vmlab_settings_get(s, "phys"), "1G", "failed sets leave the value alone");

	struct vm_error err;
	is_i64(vmlab_settings_parse(s, "phys=256M", &err), 0, "phys=256M");
	is_str(vmlab_settings_get(s, "phys"), "256M", "canonical text of 256M");
	ok(vmlab_settings_is_set(s, "phys"), "phys marked as set");
	is_i64(vmlab_settings_parse(s, "phys=0x10000000", &err), 0, "hex size");
	is_str(vmlab_settings_get(s, "phys"), "256M", "hex size canonicalised");
	is_i64(vmlab_settings_parse(s, "PCID=off", &err), -EINVAL, "keys are case sensitive");
	is_i64(vmlab_settings_parse(s, "pcid=OFF", &err), 0, "bool values are not");
	is_str(vmlab_settings_get(s, "pcid"), "off", "bool canonical text");
	is_i64(vmlab_settings_parse(s, "tlb=Skylake", &err), 0, "choices ignore case");
	is_str(vmlab_settings_get(s, "tlb"), "skylake", "choice canonical text");
	bool found;
	ok(vmlab_settings_value(s, "mode", &found) == 0, "mode data is choice 0");
	is_i64(vmlab_settings_parse(s, "mode=meta", &err), 0, "mode=meta");
	is_u64(vmlab_settings_value(s, "mode", &found), 1, "mode meta is choice 1");
	is_i64(vmlab_settings_parse(s, "seed=18446744073709551615", &err), 0, "largest seed");

	struct vm_settings *c = vmlab_settings_clone(s);
	is_i64(vmlab_settings_parse(c, "phys=64K", &err), 0, "set on the clone");
	is_str(vmlab_settings_get(s, "phys"), "256M", "the original is unchanged");
	is_str(vmlab_settings_get(c, "phys"), "64K", "the clone changed");
	vmlab_settings_destroy(c);
	vmlab_settings_destroy(s);
}

static void test_config_text(void)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err = { 0 };
	const char good[] = "# a machine for the lab\n\n  phys = 128M   # small\ncpus=2\r\n"
			    "tlb = skylake\n";
	is_i64(vmlab_settings_load_text(s, "lab.conf", good, sizeof(good) - 1, &err), 0,
	       "a config with comments, blanks, spaces and CRLF loads");
	is_str(vmlab_settings_get(s, "phys"), "128M", "phys from the file");
	is_str(vmlab_settings_get(s, "cpus"), "2", "cpus from the CRLF line");
	is_str(vmlab_settings_get(s, "tlb"), "skylake", "tlb from the file");

	const char bad[] = "phys=1G\n# fine\nbogus line\ncpus=4\n";
	is_i64(vmlab_settings_load_text(s, "bad.conf", bad, sizeof(bad) - 1, &err), -EINVAL,
	       "a line without '=' is refused");
	is_str(err.file, "bad.conf", "error names the file");
	is_i64(err.line, 3, "error names line 3");
	ok(strstr(err.msg, "expected key = value") != NULL, "error says what is wrong: %s", err.msg);
	is_str(vmlab_settings_get(s, "cpus"), "2", "lines after the error are not applied");

	const char badval[] = "\n\ncpus = 999\n";
	vmlab_settings_load_text(s, "v.conf", badval, sizeof(badval) - 1, &err);
	is_i64(err.line, 3, "bad value reported at its line");
	ok(strstr(err.msg, "cpus=999: out of range") != NULL, "bad value message: %s", err.msg);

	const char nul[] = "phys=1G\nc\0pus=2\n";
	is_i64(vmlab_settings_load_text(s, "n.conf", nul, sizeof(nul) - 1, &err), -EINVAL, "NUL refused");
	is_i64(err.line, 2, "NUL reported at its line");

	char longline[2000];
	memset(longline, 'a', sizeof(longline));
	is_i64(vmlab_settings_load_text(s, "l.conf", longline, sizeof(longline), &err), -EINVAL,
	       "an overlong line is refused, not truncated");
	is_i64(vmlab_settings_load_text(s, "e.conf", "", 0, &err), 0, "an empty file is fine");
	is_i64(vmlab_settings_load_text(s, "k.conf", " = 5\n", 5, &err), -EINVAL, "missing key");
	is_i64(vmlab_settings_load_file(s, "/nonexistent/vmlab.conf", &err), -ENOENT,
	       "a missing file is -ENOENT");
	ok(strstr(err.msg, "cannot open") != NULL, "missing file message: %s", err.msg);
	vmlab_settings_destroy(s);
}

int main(void)
{
	test_sizes();
	test_defaults();
	test_errors();
	test_config_text();
	return done_testing();
}
