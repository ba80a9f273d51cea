/*
 * musl_libc: the same kind of program as the others, linked with musl instead of glibc (Debian's
 * arm64 musl-dev, see the Makefile). musl's start-up, its mallocng allocator (small slots in
 * groups, large allocations as their own mmap), stdio buffering, pthread_create (clone with a
 * musl-built TLS block), fork and waitpid each take paths glibc does not, so the tool's Linux
 * model sees a second libc's system calls and page-table traffic.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define SMALL_COUNT 512
#define LARGE_BYTES (1UL << 20)
#define THREADS 2

struct slice {
	const unsigned char *bytes;
	unsigned long len;
	unsigned long sum;
};

static void *sum_slice(void *arg)
{
	struct slice *s = arg;
	for (unsigned long i = 0; i < s->len; i++)
		s->sum += s->bytes[i];
	return NULL;
}

static int compare_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("musl_libc", "");
	if (argc > 1)
		usage_error("takes no arguments");

	/* Small allocations: mallocng carves them out of groups of equal slots. */
	unsigned long *small[SMALL_COUNT];
	unsigned long small_sum = 0;
	for (int i = 0; i < SMALL_COUNT; i++) {
		small[i] = malloc(sizeof(unsigned long) * (1 + i % 16));
		if (small[i] == NULL)
			die("malloc of a small block failed");
		small[i][0] = (unsigned long)(i * 7919 % 1009);
		small_sum += small[i][0];
	}
	unsigned long keys[SMALL_COUNT];
	for (int i = 0; i < SMALL_COUNT; i++)
		keys[i] = small[i][0];
	qsort(keys, SMALL_COUNT, sizeof keys[0], compare_ulong);
	for (int i = 0; i < SMALL_COUNT; i++)
		free(small[i]);

	/* A large allocation is its own anonymous mapping; fill it a page pattern at a time. */
	unsigned char *large = malloc(LARGE_BYTES);
	if (large == NULL)
		die("malloc of %lu bytes failed", LARGE_BYTES);
	for (unsigned long i = 0; i < LARGE_BYTES; i++)
		large[i] = (unsigned char)(i / 4096 % 251 + 1);

	/* Threads read halves of it. */
	pthread_t tid[THREADS];
	struct slice slices[THREADS];
	for (int t = 0; t < THREADS; t++) {
		slices[t] = (struct slice){ large + t * (LARGE_BYTES / THREADS), LARGE_BYTES / THREADS, 0 };
		if (pthread_create(&tid[t], NULL, sum_slice, &slices[t]) != 0)
			die("pthread_create failed");
	}
	for (int t = 0; t < THREADS; t++)
		if (pthread_join(tid[t], NULL) != 0)
			die("pthread_join failed");

	/* A forked child changes its copy; the parent's stays as it was. */
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		die("fork failed");
	if (child == 0) {
		memset(large, 0, LARGE_BYTES / 2);
		_exit(large[0] == 0 && large[LARGE_BYTES - 1] != 0 ? 42 : 1);
	}
	int status = 0;
	if (waitpid(child, &status, 0) != child)
		die("waitpid failed");
	unsigned long after = 0;
	for (unsigned long i = 0; i < LARGE_BYTES; i++)
		after += large[i];
	free(large);

	/* stdio (buffered; flushed at exit) for the report. */
	printf("small blocks=%d sum=%lu min=%lu median=%lu max=%lu\n", SMALL_COUNT, small_sum, keys[0],
	       keys[SMALL_COUNT / 2], keys[SMALL_COUNT - 1]);
	printf("threads=%d sums=%lu,%lu\n", THREADS, slices[0].sum, slices[1].sum);
	printf("fork child_status=%d parent_sum=%lu\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, after);
	char line[64];
	snprintf(line, sizeof line, "%s %5.2f %x", "formatted", 3.25, 0xbeefu);
	puts(line);
	return 0;
}
