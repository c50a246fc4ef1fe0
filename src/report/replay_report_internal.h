/*
 * Between the replay report files (replay_report.c, replay_compare.c):
 * the figures and the formatting both print with.
 */
#ifndef VM_REPORT_REPLAY_REPORT_INTERNAL_H
#define VM_REPORT_REPLAY_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/settings.h>
#include <vmlab/stats.h>

#include "trace/replay.h"

/* Pages (4 KiB) to KiB; works on integers and doubles alike. */
#define KIB(pages) ((pages) * 4)

/* n in decimal with a comma every three digits ("1,234,567") into
 * buf[len] (cut to fit); returns buf. */
const char *vm_report_group(uint64_t n, char *buf, size_t len);

/* "settings: mode=... phys=... seed=..." and a newline: the settings a
 * reader needs to know what was replayed. */
void vm_report_settings_line(FILE *f, const struct vm_settings *s);

/* Accesses of every kind in the trace, kernel writes included. */
static inline uint64_t vm_report_all_accesses(const struct vm_replay_result *r)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < VM_RK_COUNT; i++)
		n += r->acc[i];
	return n;
}

static inline uint64_t vm_report_l1_misses(const struct vm_stats *s)
{
	return s->tlb_l1i_miss + s->tlb_l1d_miss;
}

/* L2 TLB hits of every page size. */
static inline uint64_t vm_report_l2_hits(const struct vm_stats *s)
{
	return s->tlb_l2_hit_4k + s->tlb_l2_hit_2m + s->tlb_l2_hit_1g;
}

#endif
