/*
 * The kernel writes the lackey reader synthesises for ioctl (lackey_sys.c
 * ioctl_len; the tool's vgt_sys.c has the same table, tests/vgtool/lackey.t
 * compares the two captures): TCGETS, TIOCGPGRP, TIOCGWINSZ and FIONREAD
 * write the kernel's structures, whose sizes come from the kernel's own
 * headers here; a failed ioctl, an unknown request and readv write
 * nothing (readv's iovecs are in user memory, which no trace carries).
 */
#include <asm/termbits.h>
#include <linux/termios.h>

#include "tap.h"
#include "trace_fixture.h"

#define BANNER "==7000== Lackey, an example Valgrind tool\n==7000== Command: /bin/ls\n==7000== \n"

/* The next kernel write from index *i on: its address and its bytes,
 * summed over its page pieces (the next event that is not one ends it). */
static uint64_t kernel_bytes(const struct evlist *l, size_t *i, uint64_t *addr)
{
	uint64_t n = 0;
	*addr = 0;
	while (*i < l->n && !(l->ev[*i].kind == VM_TEV_ACCESS && (l->ev[*i].flags & VM_TEV_F_KERNEL)))
		(*i)++;
	if (*i < l->n)
		*addr = l->ev[*i].acc.addr;
	while (*i < l->n && l->ev[*i].kind == VM_TEV_ACCESS && (l->ev[*i].flags & VM_TEV_F_KERNEL)) {
		n += l->ev[*i].acc.size;
		(*i)++;
	}
	return n;
}

int main(void)
{
	/* The kernel's ABI, from its headers (not the C library's termios). */
	ok(sizeof(struct termios) == 36, "the kernel's struct termios is 36 bytes (x86-64)");
	ok(sizeof(struct winsize) == 8, "struct winsize is 8 bytes");

	struct evlist l = read_str("io.log", BANNER
		"I  04001000,4\n"
		"SYSCALL[7000,1](16) sys_ioctl ( 1, 0x5401, 0x1fff0004c0 ) --> [async] ... \n"
		"SYSCALL[7000,1](16) ... [async] --> Success(0x0) \n"
		"I  04001004,4\n"
		"SYSCALL[7000,1](16) sys_ioctl ( 1, 0x5413, 0x1fff000ffc ) --> [async] ... \n"
		"SYSCALL[7000,1](16) ... [async] --> Success(0x0) \n"
		"I  04001008,4\n"
		"SYSCALL[7000,1](16) sys_ioctl ( 0, 0x541b, 0x1fff000200 )[sync] --> Success(0x0) \n"
		"I  0400100a,2\n"
		"SYSCALL[7000,1](16) sys_ioctl ( 0, 0x540f, 0x1fff000300 )[sync] --> Success(0x0) \n"
		"I  0400100c,4\n"
		"SYSCALL[7000,1](16) sys_ioctl ( 2, 0x5401, 0x1fff000400 )[sync] --> Failure(0x19) \n"
		"SYSCALL[7000,1](16) sys_ioctl ( 2, 0x5402, 0x1fff000400 )[sync] --> Success(0x0) \n"
		"SYSCALL[7000,1](19) sys_readv ( 3, 0x1fff000500, 2 )[sync] --> Success(0x40) \n"
		"I  04001010,4\n"
		"SYSCALL[7000,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n", NULL);
	is_str(l.err, "", "the log reads");
	size_t i = 0;
	uint64_t addr, n;
	n = kernel_bytes(&l, &i, &addr);
	ok(n == 36 && addr == 0x1fff0004c0, "TCGETS writes a struct termios at its argument: %llu bytes at %#llx",
	   (unsigned long long)n, (unsigned long long)addr);
	n = kernel_bytes(&l, &i, &addr);
	ok(n == 8 && addr == 0x1fff000ffc, "TIOCGWINSZ writes a struct winsize (across a page: %llu bytes)",
	   (unsigned long long)n);
	n = kernel_bytes(&l, &i, &addr);
	ok(n == 4 && addr == 0x1fff000200, "FIONREAD writes an int");
	n = kernel_bytes(&l, &i, &addr);
	ok(n == 4 && addr == 0x1fff000300, "TIOCGPGRP writes a pid_t");
	n = kernel_bytes(&l, &i, &addr);
	ok(n == 0, "a failed TCGETS (ENOTTY), TCSETS and readv write nothing");
	evlist_free(&l);
	return done_testing();
}
