/*
 * vmlab — the umbrella header: everything a program embedding vmlab may use.
 */
#ifndef VMLAB_VMLAB_H
#define VMLAB_VMLAB_H

#include <vmlab/types.h>
#include <vmlab/settings.h>
#include <vmlab/stats.h>
#include <vmlab/machine.h>
#include <vmlab/pattern.h>
#include <vmlab/scenario.h>

#endif
