/*
 * collapse_cases: what madvise(MADV_COLLAPSE) answers, and how much of each region a PMD maps
 * afterwards (AnonHugePages of its /proc/self/smaps entry), for the edge cases where 6.12 and 7.2
 * differ or refuse: a range inside one 2 MiB block, a range whose bounds round to the same block,
 * blocks of zero-page reads only, a VMA that was only read or never touched (no anon_vma),
 * MADV_NOHUGEPAGE, a block without a PTE table before a full one, a half-filled region, pages
 * shared with a forked child, shared anonymous memory (shmem) and a shared ext4 file.
 *
 * One line per case: `<case> <ok|errno name>[ ahp=<kB>]`. The answers depend on the kernel
 * (qemu-user does not pass MADV_COLLAPSE to the host), so Linux is this program's reference:
 * test/machine/multitask.test.ts holds what 6.12.117 and 7.2.13 printed (validate, one boot each).
 */
#include "common.h"
#include "lab.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define BLOCK (2UL << 20)
#define PAGE 4096UL

/* AnonHugePages (kB) of the smaps entry starting at `start`, -1 if none is found. */
static long anon_huge_kb(const volatile char *start)
{
	static char buf[1 << 17];
	char head[32];
	size_t len = 0;
	ssize_t n;
	int fd = must(open("/proc/self/smaps", O_RDONLY), "open /proc/self/smaps");
	long kb = -1;

	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	snprintf(head, sizeof(head), "\n%lx-", (unsigned long)start);
	char *entry = strstr(buf, head);
	if (entry == NULL) {
		snprintf(head, sizeof(head), "%lx-", (unsigned long)start);
		entry = strncmp(buf, head, strlen(head)) == 0 ? buf : NULL;
	}
	if (entry != NULL) {
		char *line = strstr(entry, "AnonHugePages:");
		if (line != NULL)
			sscanf(line, "AnonHugePages: %ld kB", &kb);
	}
	return kb;
}

static volatile char *anon_region(unsigned long blocks)
{
	return map_or_die(reserve_aligned_window(blocks * BLOCK, BLOCK), blocks * BLOCK, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, "region");
}

static void write_pages(volatile char *a, unsigned long len)
{
	for (unsigned long off = 0; off < len; off += PAGE)
		a[off] = 1;
}

static void read_pages(volatile char *a, unsigned long len)
{
	unsigned long sum = 0;

	for (unsigned long off = 0; off < len; off += PAGE)
		sum += (unsigned char)a[off];
	if (sum != 0)
		die("untouched anonymous memory reads %lu", sum);
}

/* One case: the madvise answer, and with `region` the region's AnonHugePages after it. */
static void report(const char *name, volatile char *addr, unsigned long len, volatile char *region)
{
	const char *r = ok_or_errno(madvise((void *)addr, len, MADV_COLLAPSE));

	if (region != NULL)
		out("%s %s ahp=%ld\n", name, r, anon_huge_kb(region));
	else
		out("%s %s\n", name, r);
}

int main(int argc, char **argv)
{
	volatile char *a;
	int go[2], status;
	pid_t child;

	(void)argv;
	program_init("collapse_cases", "(no arguments)");
	if (argc > 1)
		usage_error("takes no arguments");

	a = anon_region(4);
	write_pages(a, 4 * BLOCK);
	report("inside-one-block", a + PAGE, 16 * PAGE, NULL);
	report("bounds-round-to-one-block", a + PAGE, 2 * BLOCK, a);
	report("whole", a, 4 * BLOCK, a);
	report("again", a, 4 * BLOCK, NULL);

	a = anon_region(2);
	write_pages(a + BLOCK, PAGE);
	read_pages(a, BLOCK);
	report("zero-page-block", a, BLOCK, a);

	a = anon_region(1);
	read_pages(a, BLOCK);
	report("zero-page-reads-only", a, BLOCK, NULL);

	a = anon_region(1);
	report("never-touched", a, BLOCK, NULL);

	a = anon_region(1);
	write_pages(a, BLOCK);
	must(madvise((void *)a, BLOCK, MADV_NOHUGEPAGE), "madvise(MADV_NOHUGEPAGE)");
	report("nohugepage", a, BLOCK, NULL);

	a = anon_region(2);
	write_pages(a + BLOCK, BLOCK);
	report("no-table-then-full", a, 2 * BLOCK, a);

	a = anon_region(2);
	write_pages(a, BLOCK / 2);
	report("half-of-first-block", a, 2 * BLOCK, a);

	a = anon_region(1);
	write_pages(a, BLOCK);
	must(pipe(go), "pipe");
	child = must(fork(), "fork");
	if (child == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(a[PAGE] == 1 ? 0 : 4);
	}
	report("shared-with-child", a, BLOCK, a);
	a[PAGE] = 2;
	if (write(go[1], "x", 1) != 1)
		die("write to the pipe failed");
	must(waitpid(child, &status, 0), "waitpid");
	out("child sees its own page: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");

	a = map_or_die(reserve_aligned_window(BLOCK, BLOCK), BLOCK, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, "shared anonymous region");
	write_pages(a, BLOCK);
	report("shmem", a, BLOCK, NULL);

	int fd = make_unlinked_tmp_file();
	must(ftruncate(fd, (off_t)BLOCK), "ftruncate");
	a = map_or_die(reserve_aligned_window(BLOCK, BLOCK), BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       "file region");
	write_pages(a, BLOCK);
	report("ext4-shared-file", a, BLOCK, NULL);
	return 0;
}
