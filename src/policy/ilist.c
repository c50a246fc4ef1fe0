/*
 * Helpers over index-linked lists shared by the policies (ilist.h).
 */
#include "policy/ilist.h"

#include "base/error.h"

int vm_ilist_check(const struct vm_ilink *l, uint32_t head, uint32_t limit, uint32_t *count,
		   char *msg, size_t len)
{
	uint32_t n = 0, prev = head;
	for (uint32_t i = l[head].next; i != head; i = l[i].next) {
		if (i >= limit || l[i].prev != prev || ++n > limit)
			return vm_check_fail(msg, len, "list %u is broken at node %u", head, i);
		prev = i;
	}
	if (l[head].prev != prev)
		return vm_check_fail(msg, len, "list %u: head's prev is %u, last node %u", head,
				     l[head].prev, prev);
	*count = n;
	return 0;
}

uint32_t vm_ilist_order(const struct vm_ilink *l, uint32_t head, uint32_t *frames)
{
	uint32_t n = 0;
	for (uint32_t i = l[head].prev; i != head; i = l[i].prev)
		frames[n++] = i;
	return n;
}
