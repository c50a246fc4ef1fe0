/*
 * /proc views of a process, byte for byte in Linux's formats
 * (fs/proc/task_mmu.c show_map_vma, show_smap; fs/proc/array.c, task_mem;
 * mm/swapfile.c swap_show).
 */
#ifndef VM_KERNEL_PROCFS_H
#define VM_KERNEL_PROCFS_H

#include <stdio.h>

#include "kernel/kernel.h"
#include "kernel/proc.h"

/* /proc/PID/maps: one line per VMA, `start-end perms offset dev inode`
 * padded to column 73 before the name ([heap], [stack], a file's path).
 * Only VMAs overlapping [lo, hi) are printed (0, UINT64_MAX for all). */
int vm_procfs_maps(struct vm_kernel *k, struct vm_proc *p, FILE *out, vm_vaddr lo, vm_vaddr hi);
/* /proc/PID/smaps: maps lines, each followed by Size, KernelPageSize,
 * MMUPageSize, Rss, Pss, Shared/Private Clean/Dirty, Referenced, Anonymous,
 * AnonHugePages, Swap, Locked, THPeligible, VmFlags, ... */
int vm_procfs_smaps(struct vm_kernel *k, struct vm_proc *p, FILE *out);
/* /proc/PID/status memory lines: VmPeak, VmSize, VmLck, VmPin, VmHWM, VmRSS,
 * RssAnon, RssFile, RssShmem, VmData, VmStk, VmExe, VmLib, VmPTE, VmSwap. */
int vm_procfs_status(struct vm_kernel *k, struct vm_proc *p, FILE *out);
/* /proc/swaps: a header `Filename Type Size Used Priority`, then one line
 * per swap area in swapon order, sizes in KiB (mm/swapfile.c swap_show).
 * The model's areas are files named /swapN, N their type. */
int vm_procfs_swaps(struct vm_kernel *k, FILE *out);

#endif
