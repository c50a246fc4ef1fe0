/*
 * u64 -> u64 hash map: open addressing, linear probing, backward-shift
 * deletion.  Contract in u64map.h.
 */
#include "base/u64map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/compiler.h"

#define EMPTY UINT64_MAX
#define MIN_CAP 8

static inline uint64_t home(const struct vm_u64map *m, uint64_t key)
{
	return vm_u64map_hash(key) & (m->cap - 1);
}

void vm_u64map_init(struct vm_u64map *m, struct vm_host *host)
{
	*m = (struct vm_u64map){ .host = host };
}

void vm_u64map_fini(struct vm_u64map *m)
{
	vm_host_free(m->host, m->slots);
	vm_u64map_init(m, m->host);
}

/* Rehash into a table of cap slots (a power of two with room for count). */
static int resize(struct vm_u64map *m, uint64_t cap)
{
	struct vm_u64map_slot *old = m->slots;
	uint64_t old_cap = m->cap;

	if (cap > SIZE_MAX / sizeof(*old))
		return -ENOMEM;
	struct vm_u64map_slot *s = vm_host_calloc(m->host, (size_t)cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	vm_host_hugepages(s, (size_t)cap * sizeof(*s));
	for (uint64_t i = 0; i < cap; i++)
		s[i].key = EMPTY;
	m->slots = s;
	m->cap = cap;
	for (uint64_t i = 0; i < old_cap; i++)
		if (old[i].key != EMPTY)
			m->slots[vm_u64map_probe(m, old[i].key)] = old[i];
	vm_host_free(m->host, old);
	return 0;
}

/* Smallest power-of-two capacity that holds n keys at load <= 3/4. */
static uint64_t cap_for(uint64_t n)
{
	uint64_t cap = MIN_CAP;

	while (cap - cap / 4 < n) {
		if (cap > UINT64_MAX / 2)
			return 0;
		cap *= 2;
	}
	return cap;
}

int vm_u64map_reserve(struct vm_u64map *m, uint64_t n)
{
	uint64_t cap = cap_for(n);

	if (!cap)
		return -ENOMEM;
	return cap > m->cap ? resize(m, cap) : 0;
}

int vm_u64map_put(struct vm_u64map *m, uint64_t key, uint64_t val)
{
	if (key == EMPTY) {
		m->has_max = true;
		m->max_val = val;
		return 0;
	}
	if (m->cap) {
		uint64_t i = vm_u64map_probe(m, key);
		if (m->slots[i].key == key) {
			m->slots[i].val = val;
			return 0;
		}
	}
	if (m->count + 1 > m->cap - m->cap / 4) {
		int err = vm_u64map_reserve(m, m->count + 1);
		if (err)
			return err;
	}
	uint64_t i = vm_u64map_probe(m, key);
	m->slots[i] = (struct vm_u64map_slot){ key, val };
	m->count++;
	return 0;
}

/* Is slot j's key allowed to move back to the hole at i?  Only if its home
 * is not cyclically in (i, j]: otherwise a lookup from its home would meet
 * the hole first. */
static bool may_fill(uint64_t h, uint64_t i, uint64_t j)
{
	return i <= j ? (h <= i || h > j) : (h <= i && h > j);
}

bool vm_u64map_del(struct vm_u64map *m, uint64_t key, uint64_t *val)
{
	if (key == EMPTY) {
		bool had = m->has_max;
		if (had && val)
			*val = m->max_val;
		m->has_max = false;
		return had;
	}
	if (!m->cap)
		return false;
	uint64_t mask = m->cap - 1, i = vm_u64map_probe(m, key);
	if (m->slots[i].key != key)
		return false;
	if (val)
		*val = m->slots[i].val;
	/* Backward shift: pull later keys of the run into the hole. */
	for (uint64_t j = (i + 1) & mask; m->slots[j].key != EMPTY; j = (j + 1) & mask) {
		if (may_fill(home(m, m->slots[j].key), i, j)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = EMPTY;
	m->count--;
	return true;
}

/* pos 0 is the UINT64_MAX key; pos p > 0 is slot p - 1. */
bool vm_u64map_next(const struct vm_u64map *m, uint64_t *pos, uint64_t *key, uint64_t *val)
{
	if (*pos == 0) {
		*pos = 1;
		if (m->has_max) {
			*key = EMPTY;
			*val = m->max_val;
			return true;
		}
	}
	for (; *pos - 1 < m->cap; (*pos)++) {
		const struct vm_u64map_slot *s = &m->slots[*pos - 1];
		if (s->key != EMPTY) {
			*key = s->key;
			*val = s->val;
			(*pos)++;
			return true;
		}
	}
	return false;
}

void vm_u64map_next_after_del(uint64_t *pos)
{
	if (*pos)
		(*pos)--;
}

static int VM_PRINTF(3, 4) check_fail(char *msg, size_t len, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

int vm_u64map_check(const struct vm_u64map *m, char *msg, size_t len)
{
	uint64_t n = 0;

	if (m->cap && (!vm_is_pow2(m->cap) || m->cap < MIN_CAP || !m->slots))
		return check_fail(msg, len, "capacity %" PRIu64 " is no power of two >= %d", m->cap,
				  MIN_CAP);
	if (!m->cap && (m->slots || m->count))
		return check_fail(msg, len, "no capacity but %" PRIu64 " keys", m->count);
	for (uint64_t i = 0; i < m->cap; i++) {
		uint64_t key = m->slots[i].key;
		if (key == EMPTY)
			continue;
		n++;
		/* Every slot from the key's home to it must be occupied. */
		for (uint64_t j = home(m, key); j != i; j = (j + 1) & (m->cap - 1))
			if (m->slots[j].key == EMPTY)
				return check_fail(msg, len, "key %#" PRIx64 " in slot %" PRIu64
						  " is cut off from its home by empty slot %" PRIu64,
						  key, i, j);
		if (vm_u64map_probe(m, key) != i)
			return check_fail(msg, len, "key %#" PRIx64 " appears twice", key);
	}
	if (n != m->count)
		return check_fail(msg, len, "%" PRIu64 " keys in the table, count %" PRIu64, n, m->count);
	if (m->cap && n > m->cap - m->cap / 4)
		return check_fail(msg, len, "%" PRIu64 " keys overload %" PRIu64 " slots", n, m->cap);
	if (msg && len)
		msg[0] = '\0';
	return 0;
}
