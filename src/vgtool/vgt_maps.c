/*
 * The initial address space: the program, ld.so, the first break page and
 * the stack, which Valgrind's own loader maps before the client's first
 * instruction, so that no system call shows them (LACKEY.md 3.1).  The
 * address-space manager knows them; this writes them as MAP events, as the
 * lackey reader takes them from `valgrind -d` (src/trace/lackey_maps.c):
 *
 *   - the client's file and anonymous segments (SkFileC, SkAnonC), private,
 *     with their permissions, file offset and path;
 *   - the anonymous segment right below the SmLower reservation is the
 *     initial break page (the heap grows into the reservation);
 *   - the anonymous segment right above the SmUpper reservation is the
 *     stack (it grows down into the reservation);
 *   - the client segment that holds VG_(trampoline_stuff_start) is
 *     Valgrind's trampoline (m_main.c hands that part of the tool's text
 *     to the client): an anonymous segment at VGT_TRAMPOLINE (vgt.h).
 */
#include "pub_tool_basics.h"
#include "pub_tool_aspacemgr.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_mallocfree.h"
#include "pub_tool_vki.h"

#include "vgt.h"

/* m_trampoline.S's label (pub_core_trampoline.h; not in the tool headers). */
extern Addr VG_(trampoline_stuff_start);

Addr vgt_tramp_start;
UWord vgt_tramp_len;

#define PROT(s) (((s)->hasR ? VKI_PROT_READ : 0) | ((s)->hasW ? VKI_PROT_WRITE : 0) | \
		 ((s)->hasX ? VKI_PROT_EXEC : 0))

void vgt_maps_write(void)
{
	UInt kinds = SkFileC | SkAnonC | SkResvn;
	Int cap = 256, n;
	Addr *starts = VG_(malloc)("vgt.maps", cap * sizeof(*starts));
	while ((n = VG_(am_get_segment_starts)(kinds, starts, cap)) < 0) {
		cap = -n;
		starts = VG_(realloc)("vgt.maps", starts, cap * sizeof(*starts));
	}
	Addr tramp = (Addr)&VG_(trampoline_stuff_start);
	const NSegment *prev = NULL;
	for (Int i = 0; i < n; i++) {
		const NSegment *s = VG_(am_find_nsegment)(starts[i]);
		if (!s)
			continue;
		const NSegment *next = i + 1 < n ? VG_(am_find_nsegment)(starts[i + 1]) : NULL;
		if (s->kind == SkFileC || s->kind == SkAnonC) {
			const HChar *path = s->kind == SkFileC ? VG_(am_get_filename)(s) : NULL;
			UInt flags = 0;
			if (!path && next && next->kind == SkResvn && next->smode == SmLower &&
			    next->start == s->end + 1)
				flags = VGT_MAP_HEAP;
			else if (!path && prev && prev->kind == SkResvn && prev->smode == SmUpper &&
				 prev->end + 1 == s->start)
				flags = VGT_MAP_STACK;
			if (s->kind == SkFileC && s->start <= tramp && tramp <= s->end) {
				vgt_tramp_start = s->start;
				vgt_tramp_len = s->end + 1 - s->start;
				vgt_ev_map(VGT_TRAMPOLINE, VGT_TRAMPOLINE + vgt_tramp_len, PROT(s),
					   VKI_MAP_PRIVATE | VKI_MAP_ANONYMOUS, 0, 0, NULL);
				prev = s;
				continue;
			}
			vgt_ev_map(s->start, s->end + 1, PROT(s),
				   VKI_MAP_PRIVATE | (path ? 0 : VKI_MAP_ANONYMOUS),
				   path ? (ULong)s->offset : 0, flags, path);
		}
		prev = s;
	}
	VG_(free)(starts);
}
