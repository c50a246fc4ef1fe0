/*
 * Miss-ratio curves as CSV and as a plain SVG plot (vmlab policy --mrc).
 * Deterministic: the same curves give the same bytes.
 */
#ifndef VM_REPORT_CURVES_H
#define VM_REPORT_CURVES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vm_curve {
	const char *name;          /* the legend / column name */
	const uint64_t *misses;    /* misses[i] at sizes[i] */
};

/* CSV: "frames,NAME_misses,NAME_miss_ratio,..." then one row per size.
 * refs > 0.  0, or -EIO when writing failed. */
int vm_curves_csv(FILE *f, const uint64_t *sizes, size_t nsizes, const struct vm_curve *c,
		  unsigned nc, uint64_t refs);

/* An SVG line plot of miss ratio (0..1) against memory size in frames,
 * one line per curve, with axes, ticks and a legend.  0 or -EIO. */
int vm_curves_svg(FILE *f, const char *title, const uint64_t *sizes, size_t nsizes,
		  const struct vm_curve *c, unsigned nc, uint64_t refs);

#endif
