/*
 * Fixture for the address-space tests: a machine (64 MiB, aslr=0 unless
 * the test says otherwise) with one process, the system calls wrapped so
 * that vm_kernel_check runs after every step (a broken invariant is a
 * failed assertion naming the step), and /proc views captured as strings.
 */
#ifndef VMLAB_KERNEL_FIXTURE_H
#define VMLAB_KERNEL_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "core/machine.h"
#include "kernel/fault.h"
#include "kernel/kernel.h"
#include "kernel/procfs.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"

#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)
#define PG    UINT64_C(4096)

#define PRIV_ANON (VM_MAP_PRIVATE | VM_MAP_ANONYMOUS)
#define RW        (VM_PROT_READ | VM_PROT_WRITE)

struct kfx {
	struct vm_machine *m;
	struct vm_kernel *k;
	struct vm_proc *p;
	char text[1 << 16];          /* the last /proc view */
	unsigned bad_checks;         /* steps after which vm_kernel_check failed */
};

static struct kfx *kfx_new_with(const char *const *words) __attribute__((unused));
static struct kfx *kfx_new_with(const char *const *words)
{
	struct kfx *f = calloc(1, sizeof(*f));
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;

	vmlab_settings_parse(s, "phys=64M", &err);
	vmlab_settings_parse(s, "aslr=0", &err);
	for (; words && *words; words++)
		if (vmlab_settings_parse(s, *words, &err))
			diag("bad test setting %s: %s", *words, err.msg);
	if (!f || vmlab_machine_create(s, NULL, &f->m, &err)) {
		diag("machine: %s", err.msg);
		exit(2);
	}
	vmlab_settings_destroy(s);
	f->k = vm_machine_kernel(f->m);
	if (vm_proc_create(f->k, "test", &f->p)) {
		diag("vm_proc_create failed");
		exit(2);
	}
	return f;
}

static struct kfx *kfx_new(void) __attribute__((unused));
static struct kfx *kfx_new(void)
{
	return kfx_new_with(NULL);
}

static void kfx_free(struct kfx *f) __attribute__((unused));
static void kfx_free(struct kfx *f)
{
	if (!f)
		return;
	vmlab_machine_destroy(f->m);
	free(f);
}

/* vm_kernel_check after a step; a failure is counted and shown. */
static int kfx_check_at(struct kfx *f, const char *step, int line)
{
	char msg[256];
	int err = vm_kernel_check(f->k, msg, sizeof(msg));

	if (err) {
		f->bad_checks++;
		diag("line %d: vm_kernel_check after %s: %s", line, step, msg);
	}
	return err;
}
#define kfx_check(f, step) kfx_check_at((f), (step), __LINE__)

/* The system calls, each followed by the checker. */
#define MMAP(f, a, l, pr, fl, fd, o) \
	({ long r_ = vm_sys_mmap((f)->k, (f)->p, (a), (l), (pr), (fl), (fd), (o)); \
	   kfx_check((f), "mmap"); r_; })
#define MUNMAP(f, a, l) \
	({ long r_ = vm_sys_munmap((f)->k, (f)->p, (a), (l)); kfx_check((f), "munmap"); r_; })
#define MPROTECT(f, a, l, pr) \
	({ long r_ = vm_sys_mprotect((f)->k, (f)->p, (a), (l), (pr)); kfx_check((f), "mprotect"); r_; })
#define BRK(f, b) ({ long r_ = vm_sys_brk((f)->k, (f)->p, (b)); kfx_check((f), "brk"); r_; })
#define MREMAP(f, a, ol, nl, fl, na) \
	({ long r_ = vm_sys_mremap((f)->k, (f)->p, (a), (ol), (nl), (fl), (na)); \
	   kfx_check((f), "mremap"); r_; })
#define MADVISE(f, a, l, adv) \
	({ long r_ = vm_sys_madvise((f)->k, (f)->p, (a), (l), (adv)); kfx_check((f), "madvise"); r_; })
#define MSYNC(f, a, l, fl) \
	({ long r_ = vm_sys_msync((f)->k, (f)->p, (a), (l), (fl)); kfx_check((f), "msync"); r_; })

/* A user access (read or write) of size bytes; 0 or the signal. */
static int kfx_touch(struct kfx *f, vm_vaddr va, uint64_t size, unsigned kind)
    __attribute__((unused));
static int kfx_touch(struct kfx *f, vm_vaddr va, uint64_t size, unsigned kind)
{
	int r = vm_user_access(f->k, f->p, va, size, kind, NULL);
	kfx_check(f, "user access");
	return r;
}

/* Capture a /proc view into f->text. */
static const char *kfx_view(struct kfx *f, int which, vm_vaddr lo, vm_vaddr hi)
{
	FILE *mem = fmemopen(f->text, sizeof(f->text), "w");
	int err;

	if (!mem)
		return "";
	if (which == 0)
		err = vm_procfs_maps(f->k, f->p, mem, lo, hi);
	else if (which == 1)
		err = vm_procfs_smaps(f->k, f->p, mem);
	else
		err = vm_procfs_status(f->k, f->p, mem);
	fputc('\0', mem);
	fclose(mem);
	f->text[sizeof(f->text) - 1] = '\0';
	if (err)
		snprintf(f->text, sizeof(f->text), "error %d", err);
	return f->text;
}

static const char *kfx_maps(struct kfx *f) __attribute__((unused));
static const char *kfx_maps(struct kfx *f)
{
	return kfx_view(f, 0, 0, UINT64_MAX);
}

/* Only the lines of maps for VMAs overlapping [lo, hi). */
static const char *kfx_maps_in(struct kfx *f, vm_vaddr lo, vm_vaddr hi) __attribute__((unused));
static const char *kfx_maps_in(struct kfx *f, vm_vaddr lo, vm_vaddr hi)
{
	return kfx_view(f, 0, lo, hi);
}

static const char *kfx_smaps(struct kfx *f) __attribute__((unused));
static const char *kfx_smaps(struct kfx *f)
{
	return kfx_view(f, 1, 0, 0);
}

static const char *kfx_status(struct kfx *f) __attribute__((unused));
static const char *kfx_status(struct kfx *f)
{
	return kfx_view(f, 2, 0, 0);
}

/* The value of a "Key:  N kB" line of the last view, or -1. */
static long kfx_field(struct kfx *f, const char *key) __attribute__((unused));
static long kfx_field(struct kfx *f, const char *key)
{
	const char *s = strstr(f->text, key);
	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

/* An anonymous line of maps: "start-end perms 00000000 00:00 0 ". */
static const char *anon_line(char *buf, vm_vaddr s, vm_vaddr e, const char *perms)
    __attribute__((unused));
static const char *anon_line(char *buf, vm_vaddr s, vm_vaddr e, const char *perms)
{
	sprintf(buf, "%08" PRIx64 "-%08" PRIx64 " %s 00000000 00:00 0 \n", s, e, perms);
	return buf;
}

/* Number of VMAs. */
static uint64_t kfx_vmas(struct kfx *f) __attribute__((unused));
static uint64_t kfx_vmas(struct kfx *f)
{
	return f->p->mm->map_count;
}

#endif
