/*
 * Threads: four threads, each storing 1000 times into its own page; one
 * process throughout (clone with CLONE_VM is no fork), one exit.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define THREADS 4
#define STORES 1000

static volatile uint64_t page[THREADS][512] __attribute__((aligned(4096)));

static void *work(void *arg)
{
	volatile uint64_t *p = arg;
	for (int i = 0; i < STORES; i++)
		p[i % 512] = (uint64_t)i;
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, work, (void *)page[i]) != 0)
			return 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		printf("page %p\n", (void *)page[i]);
	return 0;
}
