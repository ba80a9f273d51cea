/*
 * block_ops: the paths through which 64 KiB blocks of anonymous memory (one large folio mapped
 * contiguous with anon_mthp=64K) are cut, moved or shared, each measured between markers on a
 * written, 2 MiB-aligned private region:
 *
 *   dontneed  MADV_DONTNEED of pages 8..23 (half of each of the first two blocks); then every
 *             zapped page reads zero (a read fault on the zero page) and is written (its copy)
 *   mremap    the region moved whole to another 2 MiB-aligned address and back (MREMAP_MAYMOVE |
 *             MREMAP_FIXED; less than 2 MiB, so the PTEs move one by one), then every page written
 *   fork      a child that only waits; the parent writes every page while the child still maps
 *             them all (copy-on-write of shared large folios), then lets the child check its own
 *             unchanged view and exit
 *
 * Only the parent calls the markers; the child of `fork` is parked in read() before the region
 * starts and leaves after it ends. One op is one page written inside the region.
 */
#define _GNU_SOURCE
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALIGN (2UL << 20)
#define DEFAULT_SIZE (1UL << 20)
#define ZAP_FIRST 8UL
#define ZAP_COUNT 16UL
#define CHILD_OK 42

enum op { OP_DONTNEED, OP_MREMAP, OP_FORK };

static const char *const op_names[] = { "dontneed", "mremap", "fork", NULL };

static const char usage[] =
	"<dontneed|mremap|fork> [size]\n"
	"  size  region size, a multiple of the page size, at least 128 KiB, below 2 MiB (default 1M)";

static unsigned long pgsize, pages;

/* The sum of the pattern over every page, checked against what the region holds. */
static unsigned long region_sum(volatile unsigned char *region, unsigned char (*expect)(unsigned long))
{
	unsigned long sum = 0;

	for (unsigned long p = 0; p < pages; p++) {
		if (region[p * pgsize] != expect(p))
			die("page %lu reads %u, expected %u", p, region[p * pgsize], expect(p));
		sum += region[p * pgsize];
	}
	return sum;
}

static unsigned char rewritten(unsigned long page)
{
	return (unsigned char)~page_pattern(page);
}

static unsigned long write_all_pages(volatile unsigned char *region)
{
	for (unsigned long p = 0; p < pages; p++)
		region[p * pgsize] = rewritten(p);
	return pages;
}

static unsigned long dontneed(volatile unsigned char *region)
{
	unsigned long ops = 0;

	lab_reset_stats();
	lab_mark("madvise");
	must(madvise((void *)(region + ZAP_FIRST * pgsize), ZAP_COUNT * pgsize, MADV_DONTNEED),
	     "madvise(MADV_DONTNEED)");
	lab_mark("retouch");
	for (unsigned long p = 0; p < pages; p++) {
		unsigned char want = p >= ZAP_FIRST && p < ZAP_FIRST + ZAP_COUNT ? 0 : page_pattern(p);

		if (region[p * pgsize] != want)
			die("page %lu reads %u after MADV_DONTNEED, expected %u", p, region[p * pgsize], want);
		region[p * pgsize] = rewritten(p);
		ops++;
	}
	lab_ops(ops);
	lab_dump_stats("block_ops dontneed");
	return ops;
}

static volatile unsigned char *move(volatile unsigned char *from, volatile unsigned char *to)
{
	void *r = mremap((void *)from, pages * pgsize, pages * pgsize, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)to);

	if (r == MAP_FAILED)
		die("mremap failed: %s", errno_name(errno));
	return r;
}

static unsigned long move_there_and_back(volatile unsigned char *region)
{
	volatile unsigned char *other = reserve_aligned_window(ALIGN, ALIGN);
	unsigned long ops;

	lab_reset_stats();
	lab_mark("mremap");
	if (move(region, other) != other || move(other, region) != region)
		die("mremap did not move the region where asked");
	lab_mark("write");
	ops = write_all_pages(region);
	lab_ops(ops);
	lab_dump_stats("block_ops mremap");
	return ops;
}

static unsigned long fork_and_write(volatile unsigned char *region)
{
	int go[2], ready[2], status;
	unsigned long ops;
	char byte = 0;
	pid_t pid;

	must(pipe(go), "pipe");
	must(pipe(ready), "pipe");
	pid = fork();
	if (pid < 0)
		die("fork failed: %s", errno_name(errno));
	if (pid == 0) {
		/* Everything the child touches before the parent's region, it touches here. */
		close(go[1]);
		close(ready[0]);
		write_all(ready[1], &byte, 1, "ready byte");
		if (read(go[0], &byte, 1) != 1)
			_exit(1);
		region_sum(region, page_pattern);
		_exit(CHILD_OK);
	}
	close(go[0]);
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1)
		die("the child did not start");

	lab_reset_stats();
	lab_mark("write");
	ops = write_all_pages(region);
	lab_ops(ops);
	lab_dump_stats("block_ops fork");

	write_all(go[1], &byte, 1, "go byte");
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid failed: %s", errno_name(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != CHILD_OK)
		die("the child saw the parent's writes or failed (status 0x%x)", (unsigned)status);
	return ops;
}

int main(int argc, char **argv)
{
	unsigned long size = DEFAULT_SIZE, ops = 0;
	volatile unsigned char *region;
	enum op op;

	program_init("block_ops", usage);
	if (argc < 2)
		usage_error("name an operation: dontneed, mremap or fork");
	if (argc > 3)
		usage_error("too many arguments (%d)", argc - 1);
	op = (enum op)parse_choice(argv[1], "operation", op_names);
	if (argc > 2)
		size = parse_size(argv[2], "size");
	check_page_multiple(size, "size");
	pgsize = page_size();
	pages = size / pgsize;
	if (pages < ZAP_FIRST + ZAP_COUNT + 8 || size >= ALIGN)
		usage_error("size: %lu bytes is not between 128 KiB and 2 MiB", size);

	lab_mark("setup");
	/*
	 * The region, and the address mremap moves it to, each get a whole free 2 MiB block (one PTE
	 * table of their own): whether munmap or mremap frees a page table, and flushes for it, must
	 * not depend on where a randomized mmap base put the neighbouring mappings.
	 */
	region = map_or_die(reserve_aligned_window(ALIGN, ALIGN), size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, "region");
	lab_mark("touch");
	for (unsigned long p = 0; p < pages; p++)
		region[p * pgsize] = page_pattern(p);

	switch (op) {
	case OP_DONTNEED:
		ops = dontneed(region);
		break;
	case OP_MREMAP:
		ops = move_there_and_back(region);
		break;
	case OP_FORK:
		ops = fork_and_write(region);
		break;
	}
	lab_mark("done");

	out("block_ops op=%s ops=%lu size=%lu sum=%lu\n", op_names[op], ops, size, region_sum(region, rewritten));
	unmap_or_die((void *)region, size, "region");
	return 0;
}
