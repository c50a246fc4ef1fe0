/*
 * Accesses that straddle a 4 KiB page boundary: a store, a load and a
 * read-modify-write of 8 bytes 4 bytes before the end of a page, and an
 * instruction (movabs, 10 bytes) that starts 5 bytes before the end of an
 * executable page.  Prints the addresses for tests/vgtool/vgtool.t.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	uint8_t *data = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	uint8_t *code = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	if (data == MAP_FAILED || code == MAP_FAILED)
		return 1;
	volatile uint64_t *q = (volatile uint64_t *)(data + 4096 - 4);
	*q = 0x1122334455667788u;
	uint64_t v = *q;
	__asm__ volatile("addq $1, (%0)" : : "r"(q) : "memory");
	/* movabs $0x1122334455667788, %rax (48 b8 imm64) across the page, then ret */
	static const uint8_t insn[] = { 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xc3 };
	uint8_t *f = code + 4096 - 5;
	memcpy(f, insn, sizeof(insn));
	if (mprotect(code, 2 * 4096, PROT_READ | PROT_EXEC) != 0)
		return 1;
	uint64_t r = ((uint64_t (*)(void))f)();
	printf("data %p\ncode %p\n", (void *)q, (void *)f);
	return v == r ? 0 : 2;
}
