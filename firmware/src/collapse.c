/*
 * collapse: MADV_COLLAPSE of anonymous memory written page by page. A 2 MiB-aligned private
 * anonymous region of `size` bytes (a multiple of 2 MiB) gets one pattern byte per page, then one
 * madvise(MADV_COLLAPSE) over the whole region is the measured part (one op per 2 MiB block).
 * Afterwards every page is checked. With `smaps`, the AnonHugePages line of the region's
 * /proc/self/smaps entry is printed too (the kernel's view of how much of it a PMD now maps).
 *
 * MADV_COLLAPSE (Linux 6.1+) does not depend on the THP sysfs mode; qemu-user does not pass it to
 * the host, so the madvise result is printed only on request (`smaps`), and the default output
 * is the same under qemu-aarch64, the tool and Linux.
 */
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define BLOCK (2UL << 20)

static const char usage[] =
	"[size [smaps]]\n"
	"  size   region size, a multiple of 2M (default 2M)\n"
	"  smaps  also print the madvise result and the region's AnonHugePages from /proc/self/smaps";

/* The AnonHugePages figure (kB) of the smaps entry that starts at `start`, or -1. */
static long anon_huge_kb(unsigned long start)
{
	static char buf[1 << 16];
	char head[32];
	size_t len = 0;
	ssize_t n;
	int fd = must(open("/proc/self/smaps", O_RDONLY), "open /proc/self/smaps");

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	snprintf(head, sizeof(head), "%lx-", start);
	for (char *line = buf; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		if (strncmp(line, head, strlen(head)) == 0) {
			for (char *l = next; l != NULL && l[1] != '\0'; l = strchr(l + 1, '\n')) {
				long kb;
				if (sscanf(l + 1, "AnonHugePages: %ld kB", &kb) == 1)
					return kb;
				/* VmFlags is the last line of an entry. */
				if (strncmp(l + 1, "VmFlags:", 8) == 0)
					return -1;
			}
			return -1;
		}
		line = next != NULL ? next + 1 : NULL;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "smaps", NULL };
	unsigned long size = BLOCK, pgsize, pages, sum = 0;
	volatile unsigned char *region;
	int smaps = 0;
	const char *result;

	program_init("collapse", usage);
	if (argc > 3)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		size = parse_size(argv[1], "size");
	if (argc > 2)
		smaps = parse_choice(argv[2], "mode", modes) == 0;
	if (size == 0 || size % BLOCK != 0)
		usage_error("size %lu is not a non-zero multiple of 2M", size);
	pgsize = page_size();
	pages = size / pgsize;

	lab_mark("setup");
	region = map_or_die(reserve_aligned_window(size, BLOCK), size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, "region");
	lab_mark("touch");
	for (unsigned long p = 0; p < pages; p++)
		region[p * pgsize] = page_pattern(p);

	lab_reset_stats();
	lab_mark("collapse");
	result = ok_or_errno(madvise((void *)region, size, MADV_COLLAPSE));
	lab_ops(size / BLOCK);
	lab_dump_stats("collapse");
	lab_mark("verify");

	for (unsigned long p = 0; p < pages; p++) {
		if (region[p * pgsize] != page_pattern(p))
			die("page %lu lost its data: reads %u, expected %u", p, region[p * pgsize], page_pattern(p));
		sum += region[p * pgsize];
	}
	if (smaps)
		out("collapse madvise=%s AnonHugePages=%ld kB\n", result, anon_huge_kb((unsigned long)region));
	unmap_or_die((void *)region, size, "region");
	out("collapse ops=%lu size=%lu sum=%lu\n", size / BLOCK, size, sum);
	return 0;
}
