/*
 * hello: the smallest useful guest. Prints a greeting and its arguments, so a loader test sees
 * that argv reached the program intact. No markers: it is the baseline of start-up cost.
 */
#include "common.h"

int main(int argc, char **argv)
{
	program_init("hello", "[args...]");
	out("hello, world\n");
	for (int i = 1; i < argc; i++)
		out("argv[%d] = %s\n", i, argv[i]);
	return 0;
}
