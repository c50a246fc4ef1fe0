/*
 * Every policy's ops, for the registry (evict.c).  One file each.
 */
#ifndef VM_POLICY_POLICIES_H
#define VM_POLICY_POLICIES_H

#include <errno.h>

#include "policy/evict.h"
#include "policy/ilist.h"
#include "policy/ring.h"

extern const struct vm_evict_ops vm_policy_fifo;           /* fifo.c */
extern const struct vm_evict_ops vm_policy_second_chance;  /* second_chance.c */
extern const struct vm_evict_ops vm_policy_clock;          /* clock.c */
extern const struct vm_evict_ops vm_policy_nru;            /* nru.c */
extern const struct vm_evict_ops vm_policy_lru;            /* lru.c */
extern const struct vm_evict_ops vm_policy_lfu;            /* lfu.c */
extern const struct vm_evict_ops vm_policy_mru;            /* mru.c */
extern const struct vm_evict_ops vm_policy_random;         /* random.c */
extern const struct vm_evict_ops vm_policy_opt;            /* opt.c */
extern const struct vm_evict_ops vm_policy_wsclock;        /* wsclock.c */
extern const struct vm_evict_ops vm_policy_aging;          /* aging.c */
extern const struct vm_evict_ops vm_policy_linux;          /* linux_lru.c */
extern const struct vm_evict_ops vm_policy_arc;            /* arc.c */
extern const struct vm_evict_ops vm_policy_sieve;          /* sieve.c */
extern const struct vm_evict_ops vm_policy_s3fifo;         /* s3fifo.c */

#endif
