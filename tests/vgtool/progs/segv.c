/*
 * A program that crashes: it stores a marker, then stores to an address
 * no mapping covers (0x10) and dies of SIGSEGV.
 */
#include <stdio.h>

static volatile int marker;

int main(void)
{
	printf("marker %p\n", (void *)&marker);
	fflush(stdout);
	marker = 42;
	*(volatile int *)0x10 = 1;
	return 0;
}
