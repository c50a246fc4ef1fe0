/* The machine: built from settings, every host allocation counted and
 * failable, torn down without leaks, counters summed over CPUs. */
#include <errno.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/stats.h>

#include "core/machine.h"
#include "tap.h"

static struct vm_settings *settings(const char *const *words)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	for (; *words; words++)
		if (vmlab_settings_parse(s, *words, &err))
			diag("bad test setting %s: %s", *words, err.msg);
	return s;
}

static void test_defaults(void)
{
	struct vm_machine *m;
	struct vm_error err;
	is_i64(vmlab_machine_create(NULL, NULL, &m, &err), 0, "a machine with every default");
	struct vm_stats st;
	vmlab_machine_stats(m, &st);
	is_u64(st.frames_total, 262144, "1 GiB is 262144 frames");
	is_u64(st.frames_free, 262143, "all of them free but the kernel's zero page");
	is_u64(m->ncpus, 1, "one CPU");
	ok(m->phys.data, "data mode by default");
	is_u64(m->cpus[0].ctl.va_bits, 48, "radix4 means 48-bit addresses");
	ok(m->cpus[0].cr4 & VM_CR4_PCIDE, "PCIDE on by default");
	ok(m->cpus[0].efer & VM_EFER_NXE, "NXE on by default");
	is_i64(vmlab_machine_check(m, &err), 0, "a new machine is valid");
	vmlab_machine_destroy(m);
	vmlab_machine_destroy(NULL);
}

static void test_settings_reach_hardware(void)
{
	const char *const w[] = { "phys=64K", "cpus=4", "pt=radix5", "pcid=off", "smap=off",
				  "nx=off", "tlb=skylake", "mode=meta", NULL };
	struct vm_settings *s = settings(w);
	struct vm_machine *m;
	struct vm_error err;
	is_i64(vmlab_machine_create(s, NULL, &m, &err), 0, "the smallest memory, four CPUs");
	is_u64(m->phys.nframes, 16, "64 KiB is 16 frames");
	ok(!m->phys.data, "meta mode");
	is_u64(m->ncpus, 4, "four CPUs");
	for (unsigned i = 0; i < 4; i++) {
		ok(m->cpus[i].cr4 & VM_CR4_LA57, "CPU %u: radix5 turns on LA57", i);
		ok(!(m->cpus[i].cr4 & VM_CR4_PCIDE), "CPU %u: pcid=off", i);
		ok(!(m->cpus[i].cr4 & VM_CR4_SMAP), "CPU %u: smap=off", i);
		ok(m->cpus[i].cr4 & VM_CR4_SMEP, "CPU %u: smep stays on", i);
		ok(!(m->cpus[i].efer & VM_EFER_NXE), "CPU %u: nx=off", i);
		is_u64(m->cpus[i].ctl.va_bits, 57, "CPU %u: 57-bit addresses", i);
	}
	vmlab_machine_destroy(m);
	vmlab_settings_destroy(s);
}

static void expect_refused(const char *const *w, int rc, const char *fragment)
{
	struct vm_settings *s = settings(w);
	struct vm_machine *m = (struct vm_machine *)&m;
	struct vm_error err = { 0 };
	is_i64(vmlab_machine_create(s, NULL, &m, &err), rc, "%s ... refused", w[0]);
	ok(m == NULL, "no machine is returned");
	ok(strstr(err.msg, fragment) != NULL, "the error says '%s': %s", fragment, err.msg);
	vmlab_settings_destroy(s);
}

static void test_refusals(void)
{
	const char *const big[] = { "phys=1T", "phys_bits=36", "mode=meta", NULL };
	expect_refused(big, -EINVAL, "does not fit in phys_bits=36");
	const char *const plru[] = { "tlb_repl=plru", NULL };
	expect_refused(plru, -EINVAL, "power of two");
}

/* Fail the N-th host allocation for N = 1, 2, ...: every failure is a clean
 * -ENOMEM (LeakSanitizer checks nothing leaks), until N passes the number
 * of allocations a machine needs. */
static void test_fault_injection(void)
{
	const char *const w[] = { "cpus=3", "phys=16M", NULL };
	struct vm_settings *s = settings(w);
	unsigned failures = 0, n;
	for (n = 1; n < 1000; n++) {
		struct vm_host_hooks hooks = { .fail_at = n };
		struct vm_machine *m;
		struct vm_error err = { 0 };
		int rc = vmlab_machine_create(s, &hooks, &m, &err);
		if (rc == 0) {
			is_i64(vmlab_machine_check(m, &err), 0, "the machine built past the injection is valid");
			vmlab_machine_destroy(m);
			break;
		}
		if (rc != -ENOMEM || m != NULL || !err.msg[0])
			break;
		failures++;
	}
	ok(failures >= 6, "each of the first %u allocations failed cleanly with a message", failures);
	is_u64(failures, n - 1, "every injected failure before success was -ENOMEM");
	vmlab_settings_destroy(s);
}

static void test_huge_memory(void)
{
	const char *const w[] = { "phys=1T", "mode=meta", NULL };
	struct vm_settings *s = settings(w);
	struct vm_machine *m;
	struct vm_error err;
	long long rss0 = tap_rss_bytes();
	is_i64(vmlab_machine_create(s, NULL, &m, &err), 0, "a 1 TiB machine");
	struct vm_stats st;
	vmlab_machine_stats(m, &st);
	is_u64(st.frames_total, UINT64_C(1) << 28, "2^28 frames");
	is_u64(m->buddy.nfree[18], 1023, "as 1023 free 1 GiB blocks (the zero page split the first)");
	long long grown = tap_rss_bytes() - rss0;
	ok(grown < (64 << 20), "it costs the host %lld KiB, not the 12 GiB of descriptors", grown >> 10);
	vmlab_machine_destroy(m);
	vmlab_settings_destroy(s);
}

int main(void)
{
	test_defaults();
	test_settings_reach_hardware();
	test_refusals();
	test_fault_injection();
	test_huge_memory();
	return done_testing();
}
