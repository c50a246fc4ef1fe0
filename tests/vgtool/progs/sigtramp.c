/*
 * A signal handler installed without SA_RESTORER (a raw rt_sigaction, not
 * glibc's, which always sets it): the handler's return address is then
 * Valgrind's own rt_sigreturn stub, in the trampoline page that Valgrind
 * gives the client (sigframe-amd64-linux.c), so the program executes code
 * there.  Natively x86-64 Linux refuses to deliver such a signal (no
 * restorer: SIGSEGV); this program is for tracing under Valgrind only.
 * It prints how many times the handler ran.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct sigaction (arch/x86/include/uapi/asm/signal.h). */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

static volatile int hits;

static void on_usr1(int sig)
{
	(void)sig;
	hits++;
}

int main(void)
{
	struct ksigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.handler = on_usr1;
	if (syscall(SYS_rt_sigaction, SIGUSR1, &sa, NULL, 8) != 0)
		return 1;
	for (int i = 0; i < 3; i++)
		kill(getpid(), SIGUSR1);
	printf("hits %d\n", hits);
	return 0;
}
