/*
 * kdiff — the differential test of vmlab against the host's Linux kernel
 * (docs/differential.md).  A seeded generator writes sequences of memory
 * system calls and page touches; each sequence runs natively in a forked
 * child inside a reserved address range, and in the model; the results of
 * every step (return value or errno, fault counts, the maps lines of the
 * range and of the heap) must be identical.
 *
 * Files:  gen.c     sequences: the generator and the text form of a step
 *         native.c  running a sequence on the host, in a child process
 *         model.c   running a sequence in vmlab
 *         maps.c    parsing, filtering and normalising maps lines; the
 *                   accessibility rules of the touch phases (shared by both)
 *         kdiff.c   main: batches, comparison, replay, minimising, TAP
 */
#ifndef KDIFF_H
#define KDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reserved range: 1 MiB that straddles a 2 MiB boundary (page tables
 * and so fault-around windows end there), far from everything a process
 * has (PIE at 0x55..., mmap_base near 0x7f..., ASan's shadow and
 * allocator). */
#define KD_BASE  UINT64_C(0x300000180000)
#define KD_SIZE  UINT64_C(0x100000)
#define KD_PAGES (KD_SIZE >> 12)
/* Maps lines are shown for VMAs overlapping [KD_BASE - KD_GUARD,
 * KD_BASE + KD_SIZE + KD_GUARD): a VMA that a call pushes past the range
 * stays visible. */
#define KD_GUARD UINT64_C(0x100000)
/* The heap window: [start_brk, start_brk + KD_HEAP_SPAN). */
#define KD_HEAP_SPAN UINT64_C(0x400000)

/* The temporary file both sides map: 40 pages and a partial 41st, so that
 * fault-around windows and touches meet the end of the file.  The writable
 * file (fd=rwfile, opened O_RDWR) has the same size and bytes; each side
 * has its own copy, the native one rewritten before every sequence that
 * maps it (the model's never changes: it writes in memory). */
#define KD_FILE_SIZE (40 * 4096 + 1234)
#define KD_FILE_PAGES 41

/* Byte i of both files. */
static inline unsigned char kd_file_byte(uint64_t i)
{
	return (unsigned char)(i * 7 + (i >> 12));
}

/* The byte the writes of step `step` (a touch phase, or a fork's parent)
 * store: it changes from step to step, so that a stale page reads
 * differently. */
static inline unsigned char kd_touch_byte(unsigned step)
{
	return (unsigned char)(0x41 + step % 26);
}

/* FNV-1a, one byte more: the data a touch phase read. */
static inline uint64_t kd_sum_byte(uint64_t sum, unsigned char b)
{
	return (sum ^ b) * UINT64_C(0x100000001b3);
}
#define KD_SUM_INIT UINT64_C(0xcbf29ce484222325)

/* The byte a fork's child writes in its touch phase: another than its
 * parent's in the same step, so that what a read returns shows whose
 * write it sees (a page shared, or copied). */
static inline unsigned char kd_child_byte(unsigned step)
{
	return (unsigned char)(0x61 + step % 26);
}

enum kd_kind {
	KD_MMAP, KD_MUNMAP, KD_MPROTECT, KD_MREMAP, KD_MADVISE, KD_MSYNC, KD_BRK, KD_TOUCH,
	KD_FORK, KD_KIND_COUNT
};

/* Where an address argument is anchored: the range base, the initial break
 * (start_brk), or nowhere (an absolute value, for the boundary cases). */
enum kd_anchor { KD_ABS, KD_RANGE, KD_HEAP };

struct kd_addr {
	uint8_t anchor;          /* enum kd_anchor */
	int64_t off;             /* bytes from the anchor (the value itself for KD_ABS) */
};

/* The fd argument of mmap, symbolic: each side passes its own number. */
enum kd_fd { KD_FD_NONE, KD_FD_FILE, KD_FD_BAD, KD_FD_RWFILE };

/* Touch modes and directions (op.flags of KD_TOUCH and KD_FORK); KD_F_EXIT:
 * the parent of a fork exits after its touch phase instead of waiting. */
enum { KD_T_R = 1, KD_T_W = 2, KD_T_RW = 3, KD_T_MODE = 3, KD_T_DOWN = 4, KD_F_EXIT = 8 };

/* One step of a sequence: a system call, a touch phase, or a fork.  A fork
 * (docs/differential.md, "Fork") forks the process running the sequence;
 * the parent makes the fork's touch phase, then exits (KD_F_EXIT) or waits
 * for the child until the end; the child then makes the same touch phase
 * and runs the rest of the sequence. */
struct kd_op {
	uint8_t kind;            /* enum kd_kind */
	uint8_t fd;              /* KD_MMAP: enum kd_fd */
	struct kd_addr addr;     /* mmap, munmap, mprotect, madvise, msync: addr;
				  * mremap: old_addr; brk: the break; touch, fork: first page */
	struct kd_addr addr2;    /* mremap: new_addr */
	uint64_t len;            /* len; mremap: old_len; touch, fork: pages */
	uint64_t len2;           /* mremap: new_len */
	int64_t prot;            /* mmap, mprotect */
	int64_t flags;           /* mmap, mremap, msync flags; madvise advice; touch, fork mode */
	uint64_t off;            /* mmap: file offset in bytes */
};

#define KD_MAX_STEPS 256

struct kd_seq {
	uint64_t seed;           /* 0 for a sequence read from a case file */
	unsigned n;
	struct kd_op op[KD_MAX_STEPS];
};

/* What a step did, in a form both sides produce alike. */
enum kd_ret_kind {
	KD_RET_VALUE,            /* ret is the value or -errno */
	KD_RET_RANGE,            /* an address: ret = offset from KD_BASE */
	KD_RET_HEAP,             /* a break: ret = offset from start_brk */
	KD_RET_OUTSIDE,          /* an address outside the windows (then unmapped again) */
};

#define KD_MAX_ACCESS 128    /* accesses per touch phase (pages x 2) */
#define KD_MAPS_TEXT 16384   /* normalised maps lines of one step (a fork: both processes') */
/* A fork's record holds the parent's maps, this line, then the child's. */
#define KD_CHILD_MAPS "--- the child:\n"

struct kd_rec {
	uint8_t ret_kind;        /* enum kd_ret_kind */
	int64_t ret;
	uint64_t minflt, majflt; /* faults during the call or touch phase */
	/* Touch phases: one char per access, '-' skipped (not accessible), or
	 * '0' + the minor faults that access took. */
	char access[KD_MAX_ACCESS + 1];
	uint64_t sum;            /* touch phases: kd_sum_byte over the bytes read, in order */
	/* A fork: the child's touch phase (access, minflt, majflt, sum are the
	 * parent's). */
	char access2[KD_MAX_ACCESS + 1];
	uint64_t minflt2, majflt2, sum2;
	char maps[KD_MAPS_TEXT]; /* normalised lines after the step, '\n' each */
};

/* The results of one run of a sequence: step 0 is the initial state, step
 * i + 1 follows op[i]. */
struct kd_run {
	unsigned n;              /* records filled */
	char error[512];         /* the run itself failed (child killed, setup failed) */
	struct kd_rec rec[KD_MAX_STEPS + 1];
};

/* ------------------------------------------------------------------ gen.c */

/* The sequence for a seed: calls system calls plus touch phases between;
 * with fork, fork steps too (the same seed then gives another sequence). */
void kd_generate(uint64_t seed, unsigned calls, bool fork, struct kd_seq *seq);
/* Does a step of seq map the writable file? */
bool kd_seq_uses_rwfile(const struct kd_seq *seq);
/* One step as a line of text (no newline), the form case files use. */
void kd_op_format(const struct kd_op *op, char *buf, size_t len);
/* Parse a line back; 0 or -1 with msg. */
int kd_op_parse(const char *line, struct kd_op *op, char *msg, size_t msglen);
/* Read a case file (one step a line, '#' comments). 0 or -1 with msg. */
int kd_case_read(const char *path, struct kd_seq *seq, char *msg, size_t msglen);
const char *kd_kind_name(unsigned kind);

/* ----------------------------------------------------------------- maps.c */

/* One parsed maps line. */
struct kd_vma {
	uint64_t start, end;
	char perms[5];
	uint64_t offset;
	unsigned dev_major, dev_minor;
	uint64_t inode;
	const char *name;        /* into the text; not NUL-terminated: name_len */
	size_t name_len;
};

/* The environment of one side: where things are and what they are called. */
struct kd_env {
	uint64_t start_brk;
	const char *file_path;   /* the temporary file's absolute path */
	const char *rw_path;     /* this side's copy of the writable file */
	/* Shared anonymous mappings: each shmem inode seen, in order of first
	 * appearance (the normalised name), and its size in pages. */
	unsigned nshm;
	uint64_t shm_ino[KD_MAX_STEPS];
	uint64_t shm_pages[KD_MAX_STEPS];
};

/* Parse one line of maps text [line, eol): 0, or -1 if it is not a maps
 * line.  Also checks Linux's padding (the name starts at column 73), and
 * returns -2 if the line is well formed but padded otherwise. */
int kd_maps_parse_line(const char *line, size_t len, struct kd_vma *v);

/* Is the VMA one the test shows (overlapping the range window or the heap
 * window)? */
bool kd_vma_shown(const struct kd_env *env, const struct kd_vma *v);

/* Parse maps text, keep the shown lines; fill vmas (up to max) and return
 * their number, or -1 on a malformed line (msg says which). */
int kd_maps_collect(const char *text, size_t len, const struct kd_env *env, struct kd_vma *vmas,
		    int max, char *msg, size_t msglen);

/* Write the normalised form of vmas[0..n) into out (KD_MAPS_TEXT): range
 * addresses as R+offset, heap ones as B+offset, shmem inodes by order of
 * first appearance. */
void kd_maps_normalise(struct kd_env *env, const struct kd_vma *vmas, int n, char *out);

/* After a successful mmap of a shared anonymous mapping at addr of len
 * bytes: remember the shmem object's size (for touch filtering). */
void kd_note_shm(struct kd_env *env, const struct kd_vma *vmas, int n, uint64_t addr,
		 uint64_t len);

/* May the access (read when !write) at va be made without a signal, going
 * by the VMAs shown?  Readable: 'r'; writable: 'w'; and a file page below
 * the end of the file, a shmem page below the object's size. */
bool kd_accessible(const struct kd_env *env, const struct kd_vma *vmas, int n, uint64_t va,
		   bool write);

/* The address an anchored argument stands for on a side. */
uint64_t kd_resolve(const struct kd_env *env, struct kd_addr a);

/* The list of accesses of a touch phase (or of the touch phases of a
 * fork): addresses and kinds (true = write), in order; returns the count
 * (<= KD_MAX_ACCESS). */
unsigned kd_touch_plan(const struct kd_env *env, const struct kd_op *op, uint64_t *va,
		       bool *write);

/* Append the child's normalised maps to a fork's record (after
 * KD_CHILD_MAPS), cut at KD_MAPS_TEXT. */
void kd_maps_append_child(char *maps, const char *child);

/* Normalise a call's return value (rec->minflt/majflt already set):
 * addresses into the range become KD_RET_RANGE, breaks KD_RET_HEAP, other
 * successful mmap/mremap addresses KD_RET_OUTSIDE, with their faults
 * cleared (the caller unmaps them). */
void kd_ret_normalise(const struct kd_env *env, const struct kd_op *op, int64_t ret,
		      struct kd_rec *rec);

/* --------------------------------------------------------------- native.c */

/* Run seq natively in a child process with the file at path and the
 * writable file at rw_path. */
int kd_native_start(const struct kd_seq *seq, const char *path, const char *rw_path,
		    struct kd_run *run);
/* Wait for the child started by kd_native_start and collect its results. */
int kd_native_finish(struct kd_run *run);
/* Set up and tear down the shared buffers (once per program). */
int kd_native_init(void);
void kd_native_fini(void);

/* ---------------------------------------------------------------- model.c */

/* The host settings the model copies (read once). */
struct kd_host {
	uint64_t mmap_min_addr, max_map_count, fault_around, stack_limit;
	unsigned aslr;
};
void kd_host_read(struct kd_host *h);

/* Run seq in a fresh vmlab machine; vm_kernel_check after the setup, at
 * the end, and after every step if check_every.  0, or -1 with run->error. */
int kd_model_run(const struct kd_seq *seq, const char *path, const char *rw_path,
		 const struct kd_host *h, bool check_every, struct kd_run *run);

#endif
