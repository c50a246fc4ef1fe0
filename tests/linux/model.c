/*
 * Running a sequence in vmlab: a fresh machine per sequence (seeded with
 * the sequence's seed), one process set up as the native child sets itself
 * up — the same reserved range at the same address, the same file opened
 * read-only by its host path, the break at start_brk with no heap — then
 * each step through the model's system calls and vm_user_access, with the
 * process's min_flt / maj_flt before and after, and /proc/PID/maps from
 * vm_procfs_maps.  The kernel's invariant checker (vm_kernel_check) runs
 * after the setup and at the end, and after every step with --check-every.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "core/machine.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/procfs.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "kdiff.h"

static uint64_t read_number(const char *path, uint64_t def)
{
	unsigned long long v;
	FILE *f = fopen(path, "r");
	int n = f ? fscanf(f, "%llu", &v) : 0;
	if (f)
		fclose(f);
	return n == 1 ? (uint64_t)v : def;
}

void kd_host_read(struct kd_host *h)
{
	struct rlimit rl;
	h->mmap_min_addr = read_number("/proc/sys/vm/mmap_min_addr", 4096);
	h->max_map_count = read_number("/proc/sys/vm/max_map_count", 65530);
	/* debugfs, often not mounted: then the kernel's default. */
	h->fault_around = read_number("/sys/kernel/debug/fault_around_bytes", 65536);
	h->aslr = (unsigned)read_number("/proc/sys/kernel/randomize_va_space", 2);
	h->stack_limit = getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			 ? (uint64_t)rl.rlim_cur : 8 << 20;
}

/* The model's world for one run. */
struct model {
	struct vm_machine *m;
	struct vm_kernel *k;      /* the machine's kernel */
	struct vm_proc *p;        /* the process running the sequence (after a fork: the child) */
	int fd, rwfd;             /* the file, read-only; the writable file, read-write */
	struct kd_env env;
	struct kd_vma vmas[1024];
	int nvmas;
	char text[1 << 20];       /* maps text */
	char child_maps[KD_MAPS_TEXT];
};

static int fail(struct kd_run *run, const char *what, long rc)
{
	snprintf(run->error, sizeof run->error, "vmlab: %s: %s", what,
		 rc < 0 ? strerror((int)-rc) : "unexpected result");
	return -1;
}

static int set(struct vm_settings *s, const char *key, uint64_t v, bool size)
{
	char buf[32];
	if (size)
		vmlab_format_size(v, buf, sizeof buf);
	else
		snprintf(buf, sizeof buf, "%" PRIu64, v);
	return vmlab_settings_set(s, key, buf, NULL);
}

/* Settings that make the model's kernel this host's (docs/differential.md). */
static struct vm_settings *settings_for(const struct kd_host *h, uint64_t seed)
{
	struct vm_settings *s = vmlab_settings_create();
	if (!s)
		return NULL;
	if (vmlab_settings_set(s, "phys", "64M", NULL) || vmlab_settings_set(s, "mode", "data", NULL) ||
	    vmlab_settings_set(s, "thp", "never", NULL) || vmlab_settings_set(s, "pagecache", "warm", NULL) ||
	    set(s, "aslr", h->aslr, false) || set(s, "seed", seed, false) ||
	    set(s, "fault_around", h->fault_around, true) || set(s, "mmap_min_addr", h->mmap_min_addr, true) ||
	    set(s, "max_map_count", h->max_map_count, false) || set(s, "stack_limit", h->stack_limit, true)) {
		vmlab_settings_destroy(s);
		return NULL;
	}
	return s;
}

static int collect(struct model *md, struct kd_run *run)
{
	char msg[200];
	FILE *f = fmemopen(md->text, sizeof md->text, "w");
	long len;
	if (!f)
		return fail(run, "fmemopen", -errno);
	int rc = vm_procfs_maps(md->k, md->p, f, 0, UINT64_MAX);
	len = ftell(f);
	fclose(f);
	if (rc < 0)
		return fail(run, "vm_procfs_maps", rc);
	if (len < 0 || (size_t)len >= sizeof md->text - 1)
		return fail(run, "maps text too long", -EFBIG);
	md->nvmas = kd_maps_collect(md->text, (size_t)len, &md->env, md->vmas, 1024, msg, sizeof msg);
	if (md->nvmas < 0)
		return fail(run, msg, -EINVAL);
	return 0;
}

static int check(struct model *md, struct kd_run *run)
{
	char msg[300];
	if (vm_kernel_check(md->k, msg, sizeof msg) != 0) {
		snprintf(run->error, sizeof run->error, "vmlab: vm_kernel_check after %u steps: %s",
			 run->n ? run->n - 1 : 0, msg);
		return -1;
	}
	return 0;
}

static int setup(struct model *md, const char *path, const char *rw_path, const struct kd_host *h,
		 uint64_t seed, struct kd_run *run)
{
	struct vm_error err = { 0 };
	struct vm_settings *s = settings_for(h, seed);
	long rc;

	if (!s)
		return fail(run, "settings", -ENOMEM);
	rc = vmlab_machine_create(s, NULL, &md->m, &err);
	vmlab_settings_destroy(s);
	if (rc)
		return fail(run, err.msg[0] ? err.msg : "vmlab_machine_create", rc);
	md->k = vm_machine_kernel(md->m);
	rc = vm_proc_create(md->k, "kdiff", &md->p);
	if (rc)
		return fail(run, "vm_proc_create", rc);
	md->env.start_brk = md->p->mm->start_brk;
	md->env.file_path = path;
	md->env.rw_path = rw_path;
	rc = vm_sys_brk(md->k, md->p, 0);
	if ((uint64_t)rc != md->env.start_brk)
		return fail(run, "brk(0) is not start_brk", rc);
	rc = vm_sys_mmap(md->k, md->p, KD_BASE, KD_SIZE, VM_PROT_NONE,
			 VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_NORESERVE | VM_MAP_FIXED_NOREPLACE, -1, 0);
	if (rc != (long)KD_BASE)
		return fail(run, "reserve the range", rc);
	rc = vm_sys_openat(md->k, md->p, path, VM_O_RDONLY);
	if (rc < 0)
		return fail(run, "open the file", rc);
	md->fd = (int)rc;
	rc = vm_sys_openat(md->k, md->p, rw_path, VM_O_RDWR);
	if (rc < 0)
		return fail(run, "open the writable file", rc);
	md->rwfd = (int)rc;
	return 0;
}

static long call(struct model *md, const struct kd_op *op)
{
	vm_vaddr a = kd_resolve(&md->env, op->addr);
	switch (op->kind) {
	case KD_MMAP:
		return vm_sys_mmap(md->k, md->p, a, op->len, (int)op->prot, (int)op->flags,
				   op->fd == KD_FD_FILE ? md->fd : op->fd == KD_FD_RWFILE ? md->rwfd
				   : op->fd == KD_FD_BAD ? 1000 : -1, op->off);
	case KD_MUNMAP:
		return vm_sys_munmap(md->k, md->p, a, op->len);
	case KD_MPROTECT:
		return vm_sys_mprotect(md->k, md->p, a, op->len, (int)op->prot);
	case KD_MREMAP:
		return vm_sys_mremap(md->k, md->p, a, op->len, op->len2, (int)op->flags,
				     kd_resolve(&md->env, op->addr2));
	case KD_MADVISE:
		return vm_sys_madvise(md->k, md->p, a, op->len, (int)op->flags);
	case KD_MSYNC:
		return vm_sys_msync(md->k, md->p, a, op->len, (int)op->flags);
	case KD_BRK:
		return vm_sys_brk(md->k, md->p, a);
	}
	return -ENOSYS;
}

/* A touch phase: each access writes wbyte or reads a byte into *sum. */
static int touch(struct model *md, const struct kd_op *op, unsigned char wbyte, char *access,
		 uint64_t *minflt, uint64_t *majflt, uint64_t *sum, struct kd_run *run)
{
	uint64_t va[KD_MAX_ACCESS];
	bool write[KD_MAX_ACCESS];
	unsigned n = kd_touch_plan(&md->env, op, va, write);

	*sum = KD_SUM_INIT;
	for (unsigned i = 0; i < n; i++) {
		uint64_t mf = md->p->min_flt, Mf = md->p->maj_flt;
		unsigned char byte = wbyte;
		int rc;
		if (!kd_accessible(&md->env, md->vmas, md->nvmas, va[i], write[i])) {
			access[i] = '-';
			continue;
		}
		rc = vm_user_access(md->k, md->p, va[i], 1, write[i] ? VM_ACC_WRITE : VM_ACC_READ, &byte);
		if (rc != 0) {
			snprintf(run->error, sizeof run->error,
				 "vmlab: the %s of 0x%" PRIx64 " (access %u of the touch) returned %d (%s)",
				 write[i] ? "write" : "read", va[i], i + 1, rc,
				 md->p->sig.reason ? md->p->sig.reason : "no reason given");
			return -1;
		}
		if (!write[i])
			*sum = kd_sum_byte(*sum, byte);
		mf = md->p->min_flt - mf;
		Mf = md->p->maj_flt - Mf;
		access[i] = (char)('0' + (mf > 9 ? 9 : mf));
		*minflt += mf;
		*majflt += Mf;
	}
	access[n] = 0;
	return 0;
}

/* A fork step as the native side makes it: the parent's touch phase and
 * maps, the parent exits (or stays, waiting), the child's touch phase;
 * the child runs the rest.  The child's maps are appended by the caller. */
static int fork_step(struct model *md, const struct kd_op *op, unsigned step, struct kd_rec *rec,
		     struct kd_run *run)
{
	struct vm_proc *child;
	long rc = vm_sys_clone(md->k, md->p, 0, "kdiff", &child);

	if (rc < 0)
		return fail(run, "fork", rc);
	if (touch(md, op, kd_touch_byte(step), rec->access, &rec->minflt, &rec->majflt, &rec->sum,
		  run) || collect(md, run))
		return -1;
	kd_maps_normalise(&md->env, md->vmas, md->nvmas, rec->maps);
	if (op->flags & KD_F_EXIT)
		vm_sys_exit(md->k, md->p, 0);
	md->p = child;
	if (collect(md, run))      /* its own maps decide what it may touch */
		return -1;
	return touch(md, op, kd_child_byte(step), rec->access2, &rec->minflt2, &rec->majflt2,
		     &rec->sum2, run);
}

static int steps(struct model *md, const struct kd_seq *seq, bool check_every, struct kd_run *run)
{
	if (collect(md, run) || check(md, run))
		return -1;
	kd_maps_normalise(&md->env, md->vmas, md->nvmas, run->rec[0].maps);
	run->n = 1;
	for (unsigned i = 0; i < seq->n; i++) {
		const struct kd_op *op = &seq->op[i];
		struct kd_rec *rec = &run->rec[i + 1];
		memset(rec, 0, sizeof *rec - sizeof rec->maps);
		if (op->kind == KD_TOUCH) {
			if (touch(md, op, kd_touch_byte(i), rec->access, &rec->minflt, &rec->majflt,
				  &rec->sum, run))
				return -1;
		} else if (op->kind == KD_FORK) {
			if (fork_step(md, op, i, rec, run))
				return -1;
		} else {
			uint64_t mf = md->p->min_flt, Mf = md->p->maj_flt;
			long ret = call(md, op);
			rec->minflt = md->p->min_flt - mf;
			rec->majflt = md->p->maj_flt - Mf;
			kd_ret_normalise(&md->env, op, ret, rec);
			if (rec->ret_kind == KD_RET_OUTSIDE)
				vm_sys_munmap(md->k, md->p, (vm_vaddr)ret, op->kind == KD_MMAP ? op->len : op->len2);
		}
		if (collect(md, run) || (check_every && check(md, run)))
			return -1;
		if (op->kind == KD_MMAP && rec->ret_kind == KD_RET_RANGE &&
		    (op->flags & (VM_MAP_SHARED | VM_MAP_ANONYMOUS)) == (VM_MAP_SHARED | VM_MAP_ANONYMOUS))
			kd_note_shm(&md->env, md->vmas, md->nvmas, KD_BASE + (uint64_t)rec->ret, op->len);
		if (op->kind == KD_FORK) {
			kd_maps_normalise(&md->env, md->vmas, md->nvmas, md->child_maps);
			kd_maps_append_child(rec->maps, md->child_maps);
		} else {
			kd_maps_normalise(&md->env, md->vmas, md->nvmas, rec->maps);
		}
		run->n = i + 2;
	}
	return check(md, run);
}

int kd_model_run(const struct kd_seq *seq, const char *path, const char *rw_path,
		 const struct kd_host *h, bool check_every, struct kd_run *run)
{
	struct model *md = calloc(1, sizeof *md);
	int rc;

	run->n = 0;
	run->error[0] = 0;
	if (!md)
		return fail(run, "out of memory", -ENOMEM);
	rc = setup(md, path, rw_path, h, seq->seed ? seq->seed : 1, run);
	if (rc == 0)
		rc = steps(md, seq, check_every, run);
	vmlab_machine_destroy(md->m);
	free(md);
	return rc;
}
