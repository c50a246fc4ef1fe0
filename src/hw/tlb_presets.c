/*
 * The TLB presets (tlb.h): documented CPUs and a teaching configuration.
 *
 * Every number comes from REFERENCE.md section 5 and carries its confidence
 * mark there: [V] primary source, [L] measured on the LOCAL Zen 4 machine,
 * [S] secondary source, [A] assumption.  Replacement is LRU everywhere: no
 * source gives a policy for any of these arrays.
 *
 * What the model leaves out for every CPU: the number of page walkers (the
 * model walks one access at a time), TLB latencies (the cost model's job),
 * per-thread partitioning (one hardware thread per CPU), and for AMD the
 * separate L2 ITLB (the model has one unified L2 level).
 *
 * Paging-structure caches: sizes are not published (REFERENCE.md 5, notes);
 * every real preset uses the suggested ~32 PDE-cache and ~4 PDPTE- and
 * PML4-cache entries [A], plus 4 PML5-cache entries [A, extrapolated from the
 * PML4 figure; used only with LA57].  AMD caches PDEs in its L2 TLB and a
 * page-walk cache rather than Intel's three caches; the model gives both
 * vendors Intel's structure (REFERENCE.md 1.7).
 */
#include <string.h>

#include "base/compiler.h"
#include "hw/tlb.h"

#define S4K (1u << VM_PSIZE_4K)
#define S2M (1u << VM_PSIZE_2M)
#define S1G (1u << VM_PSIZE_1G)

/* An LRU array of n entries in w ways holding page sizes sz. */
#define ARR(n, w, sz) { .entries = (n), .ways = (w), .sizes = (sz), .repl = VM_REPL_LRU }

#define PWC_REF { [2] = 32, [3] = 4, [4] = 4, [5] = 4 }

/*
 * AMD Zen 2.  WikiChip zen_2 and 7-cpu.com/cpu/Zen2.html [S]:
 *   L1 ITLB 64 fully associative, all sizes [S]
 *   L1 DTLB 64 fully associative, 4K/2M/1G [S]
 *   L2 DTLB 2048 12-way, 4K/2M, 1G smashed into 2M [S]
 *   L2 ITLB 512 8-way [S]: not modelled (one unified L2; see zen4).
 * 12 ways do not divide 2048 entries (the skewed array has no uniform sets),
 * so the model uses 8 ways, 256 sets [A]: 8 is the share of the 12 ways that
 * holds 4 KiB pages on desktop Zen (8/2/2 split [S]).
 */
#define ZEN2_TLBS \
	.l1i = { { ARR(64, 64, S4K | S2M | S1G) } }, \
	.l1d = { { ARR(64, 64, S4K | S2M | S1G) } }, \
	.l2 = { { ARR(2048, 8, S4K | S2M) } }, \
	.pwc = PWC_REF

static const struct vm_tlb_preset presets[] = {
	/*
	 * Intel Skylake (client).  Intel Optimization Manual table 2-15 (quoted
	 * at community.intel.com "TLB information provided by cpuid..."
	 * m-p/1371605) and WikiChip skylake_(client) [S]:
	 *   L1 ITLB 4K 128 8-way; 2M/4M 8 per thread, fully associative [S]
	 *   L1 DTLB 4K 64 4-way; 2M/4M 32 4-way; 1G 4 4-way [S]
	 *   STLB    4K+2M shared 1536 12-way [S]; 1G 16 4-way [A]
	 */
	{
		.name = "skylake",
		.desc = "Intel Skylake client: L1 DTLB 64+32+4, STLB 1536 12-way (4K+2M) + 16 (1G)",
		.l1i = { { ARR(128, 8, S4K), ARR(8, 8, S2M) } },
		.l1d = { { ARR(64, 4, S4K), ARR(32, 4, S2M), ARR(4, 4, S1G) } },
		.l2 = { { ARR(1536, 12, S4K | S2M), ARR(16, 4, S1G) } },
		.pwc = PWC_REF,
	},
	/*
	 * Intel Golden Cove (Alder Lake P, Sapphire Rapids).  Intel optimization
	 * manual, Golden Cove section, as summarised in the CAQA 7e notes
	 * (my-knowledge-base-bmo.pages.dev .../08-Intel-Core-i9-12900) [S]:
	 *   L1 ITLB 4K 256 8-way; 2M/4M 32 8-way [S]
	 *   L1 DTLB (loads) 4K 96 6-way; 2M/4M 32 4-way; 1G 8 8-way [S]
	 *   STLB    2048 16-way shared by 4K, 2M and 1G [S]
	 * Not modelled: the small store DTLB (16 entries, fully associative, all
	 * sizes [A]) — the model has one L1 DTLB, which serves stores too; and
	 * the split some sources give for 1G in the STLB (1024 8-way [A]).
	 * Raptor Cove is reported to have the same TLBs [A]; no separate preset.
	 */
	{
		.name = "golden-cove",
		.desc = "Intel Golden Cove (Alder Lake P, SPR): L1 DTLB 96+32+8, STLB 2048 16-way (all sizes)",
		.l1i = { { ARR(256, 8, S4K), ARR(32, 8, S2M) } },
		.l1d = { { ARR(96, 6, S4K), ARR(32, 4, S2M), ARR(8, 8, S1G) } },
		.l2 = { { ARR(2048, 16, S4K | S2M | S1G) } },
		.pwc = PWC_REF,
	},
	/*
	 * AMD Zen 4 (the LOCAL machine: EPYC family 25 model 17).  CPUID
	 * 0x80000005/0x80000006 read on it [L]:
	 *   L1 ITLB 64 fully associative for 4K and for 2M [L]; 1G held too [A,
	 *     as on Zen 2 — leaf 0x80000019 is filtered by the hypervisor]
	 *   L1 DTLB 72 fully associative for 4K and 2M [L]; 1G smashed, so a
	 *     1 GiB page splinters into a 2 MiB entry (REFERENCE.md 5)
	 *   L2 DTLB 3072 entries (assoc code 6h for 4K, 5h for 2M) [L]; 1G
	 *     smashed into 2M as on Zen 2 [A]
	 *   L2 ITLB 512 entries (codes 4h/2h) [L]: not modelled, see below.
	 * The unified L2 level is the L2 DTLB: data accesses, which dominate
	 * misses, see the real structure; instruction fetches that miss the L1
	 * ITLB probe it too, where the hardware has its own 512-entry L2 ITLB.
	 * Ways: 12, the total of AMD's skewed L2 DTLB (EPYC splits its ways 6/3/3
	 * between 4K, 2M and coalesced pages [S]), which divides 3072 into 256
	 * sets, a power of two.  The model simplifies the skew: every way holds
	 * either size and there is no coalescing, so 4K pages alone can fill all
	 * 3072 entries where the hardware gives them only their partition.
	 */
	{
		.name = "zen4",
		.desc = "AMD Zen 4: L1 DTLB 72 fully assoc (4K+2M), L2 DTLB 3072 12-way (4K+2M)",
		.l1i = { { ARR(64, 64, S4K | S2M | S1G) } },
		.l1d = { { ARR(72, 72, S4K | S2M) } },
		.l2 = { { ARR(3072, 12, S4K | S2M) } },
		.pwc = PWC_REF,
		.refresh_stale = true,
	},
	/*
	 * AMD Zen 3.  Walkers (6) from AnandTech review 16214 p.4 [S] (not
	 * modelled); the TLB sizes are carried over from Zen 2 [A], so are the
	 * model's choices (see ZEN2_TLBS).
	 */
	{
		.name = "zen3",
		.desc = "AMD Zen 3 (sizes as Zen 2): L1 DTLB 64 fully assoc, L2 DTLB 2048 8-way (4K+2M)",
		ZEN2_TLBS,
		.refresh_stale = true,
	},
	{
		.name = "zen2",
		.desc = "AMD Zen 2: L1 DTLB 64 fully assoc, L2 DTLB 2048 8-way (4K+2M)",
		ZEN2_TLBS,
		.refresh_stale = true,
	},
	/*
	 * No TLB and no paging-structure caches: every access walks from CR3.
	 * The baseline that shows what the TLB buys.
	 */
	{
		.name = "none",
		.desc = "no TLB, no paging-structure caches: every access walks the page table",
	},
	/*
	 * A teaching configuration, small enough to fill and evict by hand; the
	 * numbers are chosen, not measured [A].  The L1 holds only 4 KiB pages,
	 * so a 2 MiB page splinters there and stays whole in the L2.
	 */
	{
		.name = "tiny",
		.desc = "teaching: L1 DTLB 8 2-way, L1 ITLB 4, STLB 32 4-way (4K+2M), tiny walk caches",
		.l1i = { { ARR(4, 4, S4K) } },
		.l1d = { { ARR(8, 2, S4K) } },
		.l2 = { { ARR(32, 4, S4K | S2M) } },
		.pwc = { [2] = 4, [3] = 2, [4] = 2, [5] = 2 },
	},
};

const struct vm_tlb_preset *vm_tlb_preset_at(unsigned i)
{
	return i < VM_ARRAY_SIZE(presets) ? &presets[i] : NULL;
}

const struct vm_tlb_preset *vm_tlb_preset_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < VM_ARRAY_SIZE(presets); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}
