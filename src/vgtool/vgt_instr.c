/*
 * Instrumentation: every instruction fetch, load, store and modify of the
 * client, in program order, as lackey sees them (../shared/LACKEY.md 2.1),
 * so that the two tools' traces of one program hold the same accesses:
 *
 *   fetch   one per executed instruction (IMark), its length; every
 *           iteration of a rep-prefixed instruction, as VEX loops over it
 *   load    Iex_Load, LoadG (only when its guard holds), a dirty helper
 *           that reads memory (fxsave...), the read half of a CAS
 *   store   Ist_Store, StoreG (guarded), a dirty helper's write, a CAS
 *   modify  a store right after a load of the same size at the same
 *           address expression, unguarded, with no exit between: one
 *           instruction's read-modify-write (add %eax,(%rbx), lock cmpxchg),
 *           merged as lackey merges them
 *
 * Each access becomes a few IR statements before the statement that makes
 * it: compute the page and kind, compare with the run being collapsed
 * (struct vgt_run), and if equal add to its count; only when the page or
 * kind changes, or the access crosses a page, is a helper called
 * (vgt_access in vgt_out.c).  Fetches of consecutive instructions in one
 * page, with no data access and no exit between them, are one check with
 * a count: straight-line code costs one comparison per group.  The checks
 * come before the access, so an access that faults is in the trace (the
 * model then takes the fault the program took).
 *
 * Not exact: an instruction that traps without touching memory (a divide
 * by zero, ud2) is counted with the fetches of the rest of its group.
 */
#include "pub_tool_basics.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_machine.h"
#include "pub_tool_mallocfree.h"
#include "pub_tool_tooliface.h"

#include "vgt.h"

/* One access found in a superblock. */
struct acc {
	Int stmt;                /* the statement it belongs to */
	UChar kind;              /* VGT_R, VGT_W, VGT_X, VGT_M */
	Bool after_exit;         /* an Ist_Exit lies between it and the access before */
	IRExpr *addr;            /* data: the address atom */
	IRExpr *guard;           /* data: Ity_I1 atom, or NULL for always */
	Addr xaddr;              /* fetch: the address */
	UInt size;
	UInt n;                  /* fetch: instructions it stands for (0: in an earlier group) */
};

static struct acc *accs;
static Int naccs, cap_accs;
static Bool maps_done;

static VG_REGPARM(3) void vgt_fetch(Addr a, UWord size, UWord n)
{
	vgt_access(a, size, VGT_X, 0, n);
}

static VG_REGPARM(2) void vgt_data(Addr a, UWord size_kind)
{
	vgt_access(a, size_kind & 0xffff, (UInt)(size_kind >> 16), 0, 1);
}

static struct acc *new_acc(Int stmt, UInt kind, UInt size, Bool *after_exit)
{
	if (naccs == cap_accs) {
		cap_accs = cap_accs ? 2 * cap_accs : 256;
		accs = VG_(realloc)("vgt.accs", accs, cap_accs * sizeof(*accs));
	}
	struct acc *a = &accs[naccs++];
	VG_(memset)(a, 0, sizeof(*a));
	a->stmt = stmt;
	a->kind = (UChar)kind;
	a->size = size;
	a->after_exit = *after_exit;
	*after_exit = False;
	return a;
}

static void add_load(Int stmt, IRExpr *addr, UInt size, IRExpr *guard, Bool *after_exit)
{
	struct acc *a = new_acc(stmt, VGT_R, size, after_exit);
	a->addr = addr;
	a->guard = guard;
}

/* A store: a modify when the access before it is an unguarded load of the
 * same size at the same address atom, with no exit between (lackey's
 * addEvent_Dw rule). */
static void add_store(Int stmt, IRExpr *addr, UInt size, IRExpr *guard, Bool *after_exit)
{
	if (!guard && !*after_exit && naccs > 0) {
		struct acc *p = &accs[naccs - 1];
		if (p->kind == VGT_R && !p->guard && p->size == size && eqIRAtom(p->addr, addr)) {
			p->kind = VGT_M;
			return;
		}
	}
	struct acc *a = new_acc(stmt, VGT_W, size, after_exit);
	a->addr = addr;
	a->guard = guard;
}

/* An instruction: its fetch, cut at a page boundary. */
static void add_fetch(Int stmt, Addr addr, UInt len, Bool *after_exit)
{
	while (len > 0) {
		UInt room = (UInt)(VGT_PAGE - (addr & (VGT_PAGE - 1)));
		UInt piece = len < room ? len : room;
		struct acc *a = new_acc(stmt, VGT_X, piece, after_exit);
		a->xaddr = addr;
		a->n = 1;
		addr += piece;
		len -= piece;
	}
}

/* The first pass: the accesses of sb, in order. */
static void find_accesses(IRSB *sb)
{
	Bool after_exit = False;
	naccs = 0;
	for (Int i = 0; i < sb->stmts_used; i++) {
		IRStmt *st = sb->stmts[i];
		if (!st)
			continue;
		switch (st->tag) {
		case Ist_IMark:
			add_fetch(i, (Addr)st->Ist.IMark.addr, st->Ist.IMark.len, &after_exit);
			break;
		case Ist_WrTmp:
			if (st->Ist.WrTmp.data->tag == Iex_Load) {
				IRExpr *ld = st->Ist.WrTmp.data;
				add_load(i, ld->Iex.Load.addr, sizeofIRType(ld->Iex.Load.ty), NULL,
					 &after_exit);
			}
			break;
		case Ist_Store: {
			IRType ty = typeOfIRExpr(sb->tyenv, st->Ist.Store.data);
			add_store(i, st->Ist.Store.addr, sizeofIRType(ty), NULL, &after_exit);
			break;
		}
		case Ist_StoreG: {
			IRStoreG *sg = st->Ist.StoreG.details;
			IRType ty = typeOfIRExpr(sb->tyenv, sg->data);
			add_store(i, sg->addr, sizeofIRType(ty), sg->guard, &after_exit);
			break;
		}
		case Ist_LoadG: {
			IRLoadG *lg = st->Ist.LoadG.details;
			IRType ty = Ity_INVALID, wide = Ity_INVALID;
			typeOfIRLoadGOp(lg->cvt, &wide, &ty);
			add_load(i, lg->addr, sizeofIRType(ty), lg->guard, &after_exit);
			break;
		}
		case Ist_Dirty: {
			IRDirty *d = st->Ist.Dirty.details;
			if (d->mFx == Ifx_Read || d->mFx == Ifx_Modify)
				add_load(i, d->mAddr, (UInt)d->mSize, NULL, &after_exit);
			if (d->mFx == Ifx_Write || d->mFx == Ifx_Modify)
				add_store(i, d->mAddr, (UInt)d->mSize, NULL, &after_exit);
			break;
		}
		case Ist_CAS: {
			IRCAS *cas = st->Ist.CAS.details;
			UInt size = sizeofIRType(typeOfIRExpr(sb->tyenv, cas->dataLo));
			if (cas->dataHi)
				size *= 2;    /* cmpxchg16b */
			add_load(i, cas->addr, size, NULL, &after_exit);
			add_store(i, cas->addr, size, NULL, &after_exit);
			break;
		}
		/* Ist_LLSC: load-linked/store-conditional, which amd64 has not. */
		case Ist_Exit:
			after_exit = True;
			break;
		default:
			break;
		}
	}
}

/* Fold runs of fetches in one page (no data access or exit between) into
 * the first: its n counts them, the others get n = 0. */
static void group_fetches(void)
{
	for (Int i = 0; i < naccs; i++) {
		struct acc *g = &accs[i];
		if (g->kind != VGT_X || g->n == 0)
			continue;
		for (Int j = i + 1; j < naccs; j++) {
			struct acc *f = &accs[j];
			if (f->kind != VGT_X || f->after_exit ||
			    (f->xaddr & VGT_PAGE_MASK) != (g->xaddr & VGT_PAGE_MASK))
				break;
			g->n++;
			f->n = 0;
		}
	}
}

/* IR building. */

static IRExpr *bind(IRSB *sb, IRType ty, IRExpr *e)
{
	IRTemp t = newIRTemp(sb->tyenv, ty);
	addStmtToIRSB(sb, IRStmt_WrTmp(t, e));
	return IRExpr_RdTmp(t);
}

static IRExpr *u64(ULong v)
{
	return IRExpr_Const(IRConst_U64(v));
}

/* The helper call, when guard holds; it may change vgt_run, which the
 * checks after it load again. */
static void call(IRSB *sb, IRExpr *guard, const HChar *name, void *fn, IRExpr **args, Int regparms)
{
	IRDirty *d = unsafeIRDirty_0_N(regparms, name, VG_(fnptr_to_fnentry)(fn), args);
	if (guard)
		d->guard = guard;
	d->mFx = Ifx_Modify;
	d->mAddr = u64((ULong)(Addr)&vgt_run);
	d->mSize = sizeof(vgt_run);
	addStmtToIRSB(sb, IRStmt_Dirty(d));
}

/* run.count += n unless slow (the helper then starts a new run); only when
 * guard holds (NULL: always). */
static void add_count(IRSB *sb, IRExpr *slow, IRExpr *guard, ULong n)
{
	IRExpr *inc = bind(sb, Ity_I1, IRExpr_Unop(Iop_Not1, slow));
	if (guard)
		inc = bind(sb, Ity_I1, IRExpr_Binop(Iop_And1, inc, guard));
	IRExpr *cnt_addr = u64((ULong)(Addr)&vgt_run.count);
	IRExpr *c = bind(sb, Ity_I64, IRExpr_Load(Iend_LE, Ity_I64, cnt_addr));
	IRExpr *c1 = bind(sb, Ity_I64, IRExpr_Binop(Iop_Add64, c, u64(n)));
	IRExpr *c2 = bind(sb, Ity_I64, IRExpr_ITE(inc, c1, c));
	addStmtToIRSB(sb, IRStmt_Store(Iend_LE, cnt_addr, c2));
}

/* The key of the run now. */
static IRExpr *load_key(IRSB *sb)
{
	return bind(sb, Ity_I64, IRExpr_Load(Iend_LE, Ity_I64, u64((ULong)(Addr)&vgt_run.key)));
}

static void emit_fetch(IRSB *sb, const struct acc *a)
{
	IRExpr **args = mkIRExprVec_3(mkIRExpr_HWord(a->xaddr), mkIRExpr_HWord(a->size),
				      mkIRExpr_HWord(a->n));
	if (vgt_exact) {
		call(sb, NULL, "vgt_fetch", vgt_fetch, args, 3);
		return;
	}
	ULong key = (a->xaddr & VGT_PAGE_MASK) | VGT_X;
	IRExpr *slow = bind(sb, Ity_I1, IRExpr_Binop(Iop_CmpNE64, u64(key), load_key(sb)));
	add_count(sb, slow, NULL, a->n);
	call(sb, slow, "vgt_fetch", vgt_fetch, args, 3);
}

static void emit_data(IRSB *sb, const struct acc *a)
{
	IRExpr **args = mkIRExprVec_2(a->addr, mkIRExpr_HWord(a->size | (UWord)a->kind << 16));
	if (vgt_exact || a->size > VGT_PAGE) {
		call(sb, a->guard, "vgt_data", vgt_data, args, 2);
		return;
	}
	IRExpr *page = bind(sb, Ity_I64, IRExpr_Binop(Iop_And64, a->addr, u64(VGT_PAGE_MASK)));
	IRExpr *key = a->kind ? bind(sb, Ity_I64, IRExpr_Binop(Iop_Or64, page, u64(a->kind))) : page;
	IRExpr *slow = bind(sb, Ity_I1, IRExpr_Binop(Iop_CmpNE64, key, load_key(sb)));
	if (a->size > 1) {
		/* Crosses into the next page: offset > PAGE - size. */
		IRExpr *off = bind(sb, Ity_I64, IRExpr_Binop(Iop_And64, a->addr, u64(VGT_PAGE - 1)));
		IRExpr *cross = bind(sb, Ity_I1, IRExpr_Binop(Iop_CmpLT64U, u64(VGT_PAGE - a->size), off));
		slow = bind(sb, Ity_I1, IRExpr_Binop(Iop_Or1, slow, cross));
	}
	add_count(sb, slow, a->guard, 1);
	IRExpr *when = a->guard ? bind(sb, Ity_I1, IRExpr_Binop(Iop_And1, slow, a->guard)) : slow;
	call(sb, when, "vgt_data", vgt_data, args, 2);
}

IRSB *vgt_instrument(VgCallbackClosure *closure, IRSB *in, const VexGuestLayout *layout,
		     const VexGuestExtents *vge, const VexArchInfo *archinfo, IRType gwt, IRType hwt)
{
	if (gwt != Ity_I64 || hwt != Ity_I64)
		VG_(tool_panic)("vmlab: only 64-bit guests on 64-bit hosts");
	/* The first translation happens as the client starts: its address space
	 * is the one Valgrind's loader made (docs/vgtool.md). */
	if (!maps_done) {
		maps_done = True;
		vgt_maps_write();
	}
	find_accesses(in);
	if (!vgt_exact)
		group_fetches();

	IRSB *out = deepCopyIRSBExceptStmts(in);
	Int k = 0;
	for (Int i = 0; i < in->stmts_used; i++) {
		IRStmt *st = in->stmts[i];
		if (!st || st->tag == Ist_NoOp)
			continue;
		if (st->tag == Ist_IMark) {
			addStmtToIRSB(out, st);
			for (; k < naccs && accs[k].stmt == i; k++)
				if (accs[k].n)
					emit_fetch(out, &accs[k]);
			continue;
		}
		for (; k < naccs && accs[k].stmt == i; k++)
			if (accs[k].kind != VGT_X)
				emit_data(out, &accs[k]);
		addStmtToIRSB(out, st);
	}
	tl_assert(k == naccs);
	return out;
}
