/*
 * AVX loads: vmovdqu of 32 bytes from a buffer, one inside a page and one
 * that straddles a page boundary (16 bytes each side); a masked load and
 * store (vpmaskmovd) of lanes 0, 2 and 7 only (SDM: "elements whose mask
 * bit is 0 are not accessed").  Prints "noavx" and exits 0 when the CPU
 * has no AVX2.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

__attribute__((target("avx2"), noinline)) static int sum(const uint8_t *a, const uint8_t *b)
{
	__m256i x = _mm256_loadu_si256((const __m256i *)a);
	__m256i y = _mm256_loadu_si256((const __m256i *)b);
	__m256i z = _mm256_add_epi8(x, y);
	uint8_t out[32];
	_mm256_storeu_si256((__m256i *)out, z);
	int s = 0;
	for (int i = 0; i < 32; i++)
		s += out[i];
	return s;
}

static int lanes[16] = { 1, 2, 3, 4, 5, 6, 7, 8 };

__attribute__((target("avx2"), noinline)) static int masked(int *p)
{
	__m256i m = _mm256_setr_epi32(-1, 0, -1, 0, 0, 0, 0, -1);
	__m256i x = _mm256_maskload_epi32(p, m);
	_mm256_maskstore_epi32(p + 8, m, x);
	return _mm256_extract_epi32(x, 0) + _mm256_extract_epi32(x, 7);
}

int main(void)
{
	if (!__builtin_cpu_supports("avx2")) {
		printf("noavx\n");
		return 0;
	}
	uint8_t *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (int i = 0; i < 2 * 4096; i++)
		p[i] = 1;
	const uint8_t *a = p + 256, *b = p + 4096 - 16;
	int s = sum(a, b);
	int t = masked(lanes);
	printf("inside %p\nacross %p\nmask %p\n", (void *)a, (void *)b, (void *)lanes);
	return s == 64 && t == 9 ? 0 : 2;
}
