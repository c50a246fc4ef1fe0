/*
 * Reports of a replay (docs/replay.md): the text summary, JSON
 * (replay_report.c), and several results side by side (vmlab replay
 * --compare, replay_compare.c).  Reports only read a struct
 * vm_replay_result; every figure carries its unit.
 */
#ifndef VM_REPORT_REPLAY_REPORT_H
#define VM_REPORT_REPLAY_REPORT_H

#include <stdio.h>

#include <vmlab/settings.h>

#include "base/json.h"
#include "trace/replay.h"

/* What was replayed: the trace's name and the settings of the machine. */
struct vm_replay_info {
	const char *trace;
	const char *format;             /* the reader's name */
	const struct vm_settings *settings;
	const char *maps_text;          /* JSON: the maps printed after event maps_at, or NULL */
	uint64_t maps_at;
};

void vm_report_replay_text(FILE *f, const struct vm_replay_info *info,
			   const struct vm_replay_result *res);
/* The result as one JSON object (under key, or at the top with NULL). */
void vm_report_replay_json(struct vm_json *j, const char *key, const struct vm_replay_info *info,
			   const struct vm_replay_result *res);

/* n results of one trace replayed with key set to values[i] (infos[i]
 * holds those settings; the text names the trace and settings of infos[0]). */
void vm_report_compare_text(FILE *f, const struct vm_replay_info *infos, const char *key,
			    const char *const *values, const struct vm_replay_result *res, unsigned n);
void vm_report_compare_json(FILE *f, const struct vm_replay_info *infos, const char *key,
			    const char *const *values, const struct vm_replay_result *res, unsigned n);

#endif
