/*
 * Fuzz target: the ELF loader.  The input is an executable file:
 *   1. vm_elf_parse and vm_elf_validate on it in memory: 0 or one of the
 *      errno values they document, with a message; the image within its
 *      bounds (headers counted, PT_INTERP NUL terminated);
 *   2. the same bytes written to a temporary file and exec'ed in a small
 *      machine: 0 (the process runs), an errno before the point of no
 *      return (the process still runs its old program) or a kill by
 *      SIGSEGV after it; every invariant holds (vm_kernel_check), and once
 *      the process exits every frame but the zero page is free.
 * Seeds (tests/fuzz/corpus/fuzz_elf): /bin/true, a minimal static ELF,
 * truncated and damaged copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "core/machine.h"
#include "kernel/elf.h"
#include "kernel/exec.h"
#include "kernel/syscalls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *data;
	size_t size;
};

static long mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct mem *m = ctx;
	if (off >= m->size)
		return 0;
	size_t n = m->size - off < len ? m->size - off : len;
	memcpy(buf, m->data + off, n);
	return (long)n;
}

static bool known(int rc)
{
	static const int ok[] = { 0, -ENOEXEC, -EIO, -EINVAL, -ELIBBAD, -ENOENT, -EACCES, -ENOMEM,
				  -EEXIST, -EPERM, -EFAULT, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EOVERFLOW };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (rc == ok[i])
			return true;
	return false;
}

static void parse_in_memory(const uint8_t *data, size_t size)
{
	static struct vm_elf_image img;
	struct mem m = { data, size };
	struct vm_elf_reader r = { mem_read, &m, "fuzz" };
	struct vm_error err = { 0 };
	int rc = vm_elf_parse(&r, &img, &err);
	if (!known(rc) || (rc && !err.msg[0]))
		abort();
	if (rc == 0) {
		if (img.phnum == 0 || img.phnum > VM_ELF_PHDR_MAX || img.nload > img.phnum)
			abort();
		if (img.has_interp && !memchr(img.interp, '\0', sizeof(img.interp)))
			abort();
		err.msg[0] = '\0';
		rc = vm_elf_validate(&img, false, UINT64_C(0x7ffffffff000), &err, "fuzz");
		if (!known(rc) || (rc && !err.msg[0]))
			abort();
	}
	rc = vm_elf_parse_interp(&r, &img, &err);
	if (!known(rc))
		abort();
}

static void exec_in_machine(const uint8_t *data, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/vmlab-fuzz-elf-%d", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return;
	ssize_t w = write(fd, data, size);
	close(fd);
	if (w != (ssize_t)size)
		return;
	struct vm_settings *s = vmlab_settings_create();
	struct vm_machine *m = NULL;
	struct vm_error err;
	vmlab_settings_parse(s, "phys=32M", &err);
	vmlab_settings_parse(s, "aslr=2", &err);
	int rc = vmlab_machine_create(s, NULL, &m, &err);
	vmlab_settings_destroy(s);
	if (rc)
		abort();
	struct vm_kernel *k = vm_machine_kernel(m);
	struct vm_proc *p;
	char msg[256];
	if (vm_proc_create(k, "fuzz", &p))
		abort();
	const char *argv[] = { path, "-x", NULL };
	rc = vm_sys_execve(k, p, path, argv, NULL, NULL, &err);
	if (!known(rc) && rc != -1 /* ~0UL from load_elf_interp */)
		abort();
	if (rc && p->state == VM_PROC_RUNNING && p->mm == NULL)
		abort();
	if (vm_kernel_check(k, msg, sizeof(msg))) {
		fprintf(stderr, "after exec (%d): %s\n", rc, msg);
		abort();
	}
	vm_sys_exit(k, p, 0);
	if (vm_kernel_check(k, msg, sizeof(msg)) || k->buddy->free_frames != k->phys->nframes - 1) {
		fprintf(stderr, "after exit: %s\n", msg);
		abort();
	}
	vmlab_machine_destroy(m);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_in_memory(data, size);
	exec_in_machine(data, size);
	return 0;
}
