/*
 * calls: call-heavy code of the kind glibc is made of, one kind per run, so that the cost of each
 * ingredient can be timed against qemu-aarch64 on its own:
 *   rand      glibc rand(): a call through a lock (exclusive load/store pair or LSE atomic) and
 *             random_r's arithmetic, as the mm selftests use it to fill buffers
 *   call      a plain out-of-line function call and return (bl/ret)
 *   exclusive an ldaxr/stlxr pair on one word (a lock's fast path without LSE)
 *   atomic    an LSE ldadd on one word (what glibc uses when the CPU has atomics)
 *   store     a store to one word (the floor every store pays)
 * One op is one call (or one pair, one atomic, one store). The checksum depends only on the kind
 * and the count.
 */
#include <stdlib.h>

#include "common.h"
#include "lab.h"

#define DEFAULT_COUNT 1000000UL

static const char usage[] = "[rand|call|exclusive|atomic|store] [count]\n"
			    "  count  number of operations (default 1000000)";

static const char *const kinds[] = { "rand", "call", "exclusive", "atomic", "store", NULL };

/* Kept out of line so that each iteration really branches and returns. */
static __attribute__((noinline)) unsigned long step(unsigned long x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 0x100000001B3UL + 1;
}

static unsigned long run_rand(unsigned long count)
{
	unsigned long acc = 0;

	srand(1);
	for (unsigned long i = 0; i < count; i++)
		acc = acc * 31 + (unsigned long)rand();
	return acc;
}

static unsigned long run_call(unsigned long count)
{
	unsigned long acc = 0;

	for (unsigned long i = 0; i < count; i++)
		acc = step(acc);
	return acc;
}

static unsigned long word;

static unsigned long run_exclusive(unsigned long count)
{
	for (unsigned long i = 0; i < count; i++) {
		unsigned long old;
		unsigned int failed;

		do {
			__asm__ volatile("ldaxr %0, [%2]\n\t"
					 "add %0, %0, #1\n\t"
					 "stlxr %w1, %0, [%2]"
					 : "=&r"(old), "=&r"(failed)
					 : "r"(&word)
					 : "memory");
		} while (failed);
	}
	return word;
}

static unsigned long run_atomic(unsigned long count)
{
	for (unsigned long i = 0; i < count; i++)
		__asm__ volatile(".arch_extension lse\n\t"
				 "stadd %1, [%0]"
				 :
				 : "r"(&word), "r"(1UL)
				 : "memory");
	return word;
}

static unsigned long run_store(unsigned long count)
{
	volatile unsigned long *p = &word;

	for (unsigned long i = 0; i < count; i++)
		*p = i;
	return word;
}

int main(int argc, char **argv)
{
	unsigned long count = DEFAULT_COUNT, checksum = 0;
	int kind = 0;

	program_init("calls", usage);
	if (argc > 3)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		kind = parse_choice(argv[1], "kind", kinds);
	if (argc > 2)
		count = parse_count(argv[2], "count");

	lab_reset_stats();
	lab_mark("loop");
	switch (kind) {
	case 0: checksum = run_rand(count); break;
	case 1: checksum = run_call(count); break;
	case 2: checksum = run_exclusive(count); break;
	case 3: checksum = run_atomic(count); break;
	case 4: checksum = run_store(count); break;
	}
	lab_ops(count);
	lab_dump_stats("calls");
	lab_mark("done");

	out("calls kind=%s ops=%lu checksum=0x%016lx\n", kinds[kind], count, checksum);
	return 0;
}
