/*
 * u64map: boundary keys, growth, deletion by backward shift against a
 * naive reference, iteration with deletion, allocation only on growth,
 * injected allocation failures.
 */
#include <errno.h>

#include "base/compiler.h"
#include "base/rng.h"
#include "base/u64map.h"
#include "tap.h"

static void check_ok(const struct vm_u64map *m, const char *what)
{
	char msg[160];
	int rc = vm_u64map_check(m, msg, sizeof(msg));
	ok(rc == 0, "%s: map valid %s", what, msg);
}

static void boundary_keys(void)
{
	struct vm_host host = { 0 };
	struct vm_u64map m;
	uint64_t v = 7;

	vm_u64map_init(&m, &host);
	ok(!vm_u64map_get(&m, 0, &v) && v == 7, "empty map: get fails, value untouched");
	ok(!vm_u64map_del(&m, 0, NULL), "empty map: del fails");
	is_u64(host.allocs, 0, "an empty map allocates nothing");

	const uint64_t keys[] = { 0, 1, UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 63 };
	for (unsigned i = 0; i < VM_ARRAY_SIZE(keys); i++)
		is_i64(vm_u64map_put(&m, keys[i], i + 100), 0, "put key %#" PRIx64, keys[i]);
	is_u64(vm_u64map_count(&m), 5, "five keys");
	for (unsigned i = 0; i < VM_ARRAY_SIZE(keys); i++) {
		ok(vm_u64map_get(&m, keys[i], &v) && v == i + 100, "get key %#" PRIx64, keys[i]);
	}
	is_i64(vm_u64map_put(&m, UINT64_MAX, 5), 0, "replace the UINT64_MAX key");
	ok(vm_u64map_get(&m, UINT64_MAX, &v) && v == 5, "its value replaced");
	is_u64(vm_u64map_count(&m), 5, "replacing adds no key");
	ok(vm_u64map_del(&m, UINT64_MAX, &v) && v == 5, "del UINT64_MAX returns its value");
	ok(!vm_u64map_get(&m, UINT64_MAX, NULL), "UINT64_MAX gone");
	ok(vm_u64map_get(&m, UINT64_MAX - 1, NULL), "UINT64_MAX - 1 still there");
	check_ok(&m, "boundary");
	vm_u64map_fini(&m);
	is_u64(vm_u64map_count(&m), 0, "fini empties");
	is_u64(host.allocs, host.frees, "fini frees the table");
}

/* Random puts and deletes checked against a direct-mapped reference over a
 * small key space (so collisions and long runs happen). */
static void random_ops(uint64_t seed)
{
	enum { KEYS = 600, OPS = 40000 };
	static uint64_t ref[KEYS];
	static bool in[KEYS];
	struct vm_host host = { 0 };
	struct vm_u64map m;
	struct vm_rng rng;
	int bad = 0;

	vm_rng_seed(&rng, seed);
	vm_u64map_init(&m, &host);
	for (int op = 0; op < OPS && !bad; op++) {
		uint64_t r = vm_rng_next(&rng);
		unsigned k = (unsigned)(r % KEYS);
		uint64_t key = (uint64_t)k * 4096;   /* page-like keys */
		uint64_t v;
		if ((r >> 32) % 3) {
			if (vm_u64map_put(&m, key, r))
				bad = 1;
			ref[k] = r;
			in[k] = true;
		} else {
			bool had = vm_u64map_del(&m, key, &v);
			if (had != in[k] || (had && v != ref[k]))
				bad = 2;
			in[k] = false;
		}
		if (op % 997 == 0 && vm_u64map_check(&m, NULL, 0))
			bad = 3;
	}
	is_i64(bad, 0, "40000 random puts/dels agree with the reference");
	uint64_t n = 0;
	for (unsigned k = 0; k < KEYS; k++) {
		uint64_t v;
		bool has = vm_u64map_get(&m, (uint64_t)k * 4096, &v);
		if (has != in[k] || (has && v != ref[k]))
			bad = 4;
		n += in[k];
	}
	is_i64(bad, 0, "every key's presence and value match");
	is_u64(vm_u64map_count(&m), n, "count matches");
	check_ok(&m, "random");
	vm_u64map_fini(&m);
}

static void growth_allocates_only(void)
{
	struct vm_host host = { 0 };
	struct vm_u64map m;

	vm_u64map_init(&m, &host);
	is_i64(vm_u64map_reserve(&m, 1000), 0, "reserve 1000");
	uint64_t allocs = host.allocs, cap = m.cap;
	ok(cap >= 1000 * 4 / 3, "capacity %" PRIu64 " keeps load <= 3/4", cap);
	for (uint64_t k = 0; k < 1000; k++)
		vm_u64map_put(&m, k, k);
	for (uint64_t k = 0; k < 1000; k += 2)
		vm_u64map_del(&m, k, NULL);
	for (uint64_t k = 0; k < 1000; k++)
		vm_u64map_get(&m, k, NULL);
	is_u64(host.allocs, allocs, "puts within the reservation, dels and gets allocate nothing");
	is_u64(m.cap, cap, "deletion does not shrink");

	/* Growth under an injected failure leaves the map as it was. */
	uint64_t before = vm_u64map_count(&m);
	for (uint64_t k = 1000; m.count + 1 <= m.cap - m.cap / 4; k++)
		vm_u64map_put(&m, k, k);
	before = vm_u64map_count(&m);
	host.fail_at = host.attempts + 1;
	is_i64(vm_u64map_put(&m, UINT64_C(1) << 40, 1), -ENOMEM, "a put that must grow fails with -ENOMEM");
	is_u64(vm_u64map_count(&m), before, "failed put changed nothing");
	ok(!vm_u64map_get(&m, UINT64_C(1) << 40, NULL), "failed key absent");
	ok(vm_u64map_get(&m, 1001, NULL), "old keys still there");
	check_ok(&m, "after failed growth");
	host.fail_at = 0;
	is_i64(vm_u64map_put(&m, UINT64_C(1) << 40, 1), 0, "the same put succeeds without injection");
	ok(m.cap > cap, "and the table grew");
	vm_u64map_fini(&m);

	/* First insert into an empty map fails cleanly too. */
	vm_u64map_init(&m, &host);
	host.fail_at = host.attempts + 1;
	is_i64(vm_u64map_put(&m, 3, 3), -ENOMEM, "first put fails with -ENOMEM on injection");
	is_u64(vm_u64map_count(&m), 0, "map still empty");
	host.fail_at = 0;
	vm_u64map_fini(&m);
	is_u64(host.allocs, host.frees, "nothing leaked");
}

static void iterate_and_delete(void)
{
	struct vm_host host = { 0 };
	struct vm_u64map m;
	uint64_t pos = 0, key, val, seen = 0, sum = 0;

	vm_u64map_init(&m, &host);
	for (uint64_t k = 0; k < 300; k++)
		vm_u64map_put(&m, k * 7, k);
	vm_u64map_put(&m, UINT64_MAX, 1000);
	while (vm_u64map_next(&m, &pos, &key, &val)) {
		seen++;
		sum += val;
	}
	is_u64(seen, 301, "iteration sees every key once");
	is_u64(sum, 299 * 300 / 2 + 1000, "with its value");

	/* Delete the odd values while iterating: none may be skipped. */
	pos = 0;
	while (vm_u64map_next(&m, &pos, &key, &val)) {
		if (val & 1) {
			vm_u64map_del(&m, key, NULL);
			vm_u64map_next_after_del(&pos);
		}
	}
	is_u64(vm_u64map_count(&m), 151, "every odd value deleted during the iteration");
	bool odd_left = false;
	for (uint64_t k = 1; k < 300; k += 2)
		odd_left |= vm_u64map_get(&m, k * 7, NULL);
	ok(!odd_left, "no odd key left");
	ok(vm_u64map_get(&m, UINT64_MAX, NULL), "even UINT64_MAX key kept");
	check_ok(&m, "after deleting iteration");
	vm_u64map_fini(&m);
}

int main(void)
{
	boundary_keys();
	random_ops(tap_seed(42));
	growth_allocates_only();
	iterate_and_delete();
	return done_testing();
}
