/*
 * compute: register arithmetic only, for a given number of iterations, then a checksum. The loop
 * touches no memory, so under the tool it shows the floor: no faults, no walks, no TLBIs, only the
 * cost of executing instructions. One op is one iteration.
 */
#include "common.h"
#include "lab.h"

#define DEFAULT_ITERATIONS 1000000UL

static const char usage[] = "[iterations]\n  iterations  loop iterations (default 1000000)";

/* xorshift64 (Marsaglia 2003) mixed with a multiply-add: serial, so no vectoriser can skip it. */
static unsigned long mix(unsigned long iterations)
{
	unsigned long x = 0x9E3779B97F4A7C15UL, acc = 0;

	for (unsigned long i = 0; i < iterations; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc = acc * 0x100000001B3UL + (x ^ i);
	}
	return acc ^ x;
}

int main(int argc, char **argv)
{
	unsigned long iterations = DEFAULT_ITERATIONS, checksum;

	program_init("compute", usage);
	if (argc > 2)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		iterations = parse_count(argv[1], "iterations");

	lab_reset_stats();
	lab_mark("loop");
	checksum = mix(iterations);
	lab_ops(iterations);
	lab_dump_stats("compute");
	lab_mark("done");

	out("compute ops=%lu iterations=%lu checksum=0x%016lx\n", iterations, iterations, checksum);
	return 0;
}
