/*
 * vmlab — a machine: physical memory, CPUs with their TLBs, and (in later
 * layers) the kernel that runs on them.  Many machines may live in one
 * process; nothing is global (DESIGN.md rule 1).
 */
#ifndef VMLAB_MACHINE_H
#define VMLAB_MACHINE_H

#include <vmlab/settings.h>
#include <vmlab/types.h>

/* Host allocation hooks: every host allocation a machine makes goes through
 * these, so that tests can count them (the fast path must make none) and fail
 * the N-th on purpose.  All fields zero means: count, never fail. */
struct vm_host_hooks {
	uint64_t fail_at;    /* fail the fail_at-th allocation (1-based); 0 = never */
};

/* Build a machine from settings (NULL = all defaults).  Returns 0 and stores
 * the machine in *out, or -errno with err->msg saying what failed (-EINVAL for
 * a setting the hardware cannot honour, -ENOMEM when the host is out of
 * memory).  hooks may be NULL. */
int vmlab_machine_create(const struct vm_settings *s, const struct vm_host_hooks *hooks,
			 struct vm_machine **out, struct vm_error *err);

/* Free everything the machine owns.  destroy(NULL) does nothing. */
void vmlab_machine_destroy(struct vm_machine *m);

/* The settings the machine was built from (owned by the machine). */
const struct vm_settings *vmlab_machine_settings(const struct vm_machine *m);

/* Host allocations made so far (successful ones), for allocation-free checks. */
uint64_t vmlab_machine_host_allocs(const struct vm_machine *m);

/* Run the machine's invariant validators (frames, buddy, page tables, each
 * CPU's TLBs).
 * Returns 0, or -EUCLEAN with err->msg describing the first broken invariant. */
int vmlab_machine_check(struct vm_machine *m, struct vm_error *err);

#endif
