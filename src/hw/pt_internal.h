/*
 * What the page-table files of src/hw share and nobody else needs: the ops
 * table of each organisation, for the registry in pt.c.
 */
#ifndef VM_HW_PT_INTERNAL_H
#define VM_HW_PT_INTERNAL_H

#include "hw/pt.h"

/* x86-64 radix tables, 4 or 5 levels by pt->levels (pt_radix.c). */
extern const struct pt_ops vm_pt_radix_ops;

#endif
