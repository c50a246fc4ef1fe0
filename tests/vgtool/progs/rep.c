/*
 * String instructions: rep movsb copies 100 bytes (a load and a store per
 * byte, SDM "MOVS"), rep stosq fills 64 quadwords (a store of 8 bytes each).
 */
#include <stdint.h>
#include <stdio.h>

static uint8_t src[4096] __attribute__((aligned(4096)));
static uint8_t dst[4096] __attribute__((aligned(4096)));
static uint64_t fill[64] __attribute__((aligned(4096)));

int main(void)
{
	for (int i = 0; i < 100; i++)
		src[i] = (uint8_t)i;
	void *s = src, *d = dst, *f = fill;
	uint64_t n = 100;
	__asm__ volatile("rep movsb" : "+S"(s), "+D"(d), "+c"(n) : : "memory");
	n = 64;
	__asm__ volatile("rep stosq" : "+D"(f), "+c"(n) : "a"(0x5aUL) : "memory");
	printf("src %p\ndst %p\nfill %p\n", (void *)src, (void *)dst, (void *)fill);
	return dst[99] == 99 && fill[63] == 0x5a ? 0 : 1;
}
