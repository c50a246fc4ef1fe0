/*
 * The OOM killer (Linux mm/oom_kill.c): when reclaim can free nothing and
 * an allocation still fails, the process whose death frees the most memory
 * dies (select_bad_process, oom_badness, oom_kill_process).
 */
#include "kernel/reclaim.h"

#include "kernel/proc.h"
#include "kernel/swap.h"
#include "kernel/uapi.h"

/* Linux OOM_SCORE_ADJ_MIN: never chosen. */
#define OOM_SCORE_ADJ_MIN (-1000)

int64_t vm_oom_badness(struct vm_kernel *k, const struct vm_proc *p, uint64_t totalpages)
{
	(void)k;
	if (!p || !p->mm || p->state != VM_PROC_RUNNING || p->oom_score_adj == OOM_SCORE_ADJ_MIN)
		return -1;
	const struct vm_mm *mm = p->mm;
	/* get_mm_rss + MM_SWAPENTS + mm_pgtables_bytes / PAGE_SIZE. */
	int64_t points = (int64_t)(mm->rss[VM_RSS_FILE] + mm->rss[VM_RSS_ANON] +
				   mm->rss[VM_RSS_SHMEM] + mm->rss[VM_RSS_SWAP] +
				   mm->pt.table_frames);
	/* oom_score_adj in units of 0.1 % of the memory and swap. */
	points += (int64_t)p->oom_score_adj * (int64_t)(totalpages / 1000);
	return points;
}

struct vm_proc *vm_out_of_memory(struct vm_kernel *k, struct vm_proc *cur)
{
	static const struct vm_siginfo oom_sig = {
		.signo = VM_SIGKILL,
		.reason = "out of memory: killed by the OOM killer (highest oom_badness)",
	};
	uint64_t total = k->phys->nframes + (k->swap ? k->swap->pages : 0);
	struct vm_proc *victim = NULL;
	int64_t best = -1;

	/* Linux: select_bad_process() — a later task wins only with more
	 * points (oom_evaluate_task: points == chosen_points does not). */
	for (unsigned i = 0; i < k->procs_cap; i++) {
		struct vm_proc *p = k->procs[i];
		int64_t points = vm_oom_badness(k, p, total);
		if (points < 0 || points <= best)
			continue;
		/* Threads share the mm: the group leader stands for them. */
		if (p->tgid != p->pid)
			continue;
		best = points;
		victim = p;
	}
	if (!victim)
		return NULL;
	k->stats->oom_kill++;
	if (!cur || victim->mm != cur->mm)
		vm_proc_kill(k, victim, &oom_sig);
	return victim;
}
