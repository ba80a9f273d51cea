/*
 * partial_munmap: unmap a range that cuts through 64 KiB blocks, then use what remains. A
 * 2 MiB-aligned anonymous region is written page by page, pages first..first+count-1 are
 * unmapped (by default 8..23, which splits the blocks of pages 0-15 and 16-31, so both contiguous
 * blocks must be unfolded at their cut and large folios split or partially unmapped), then every
 * remaining page is checked and written again. One op is one remaining page touched.
 */
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <sys/mman.h>

#define DEFAULT_SIZE (2UL << 20)
#define DEFAULT_FIRST 8UL
#define DEFAULT_COUNT 16UL
#define ALIGN (2UL << 20)

static const char usage[] =
	"[size [first [count]]]\n"
	"  size   region size, a multiple of the page size (default 2M)\n"
	"  first  index of the first page to unmap (default 8)\n"
	"  count  number of pages to unmap (default 16)";

int main(int argc, char **argv)
{
	unsigned long size = DEFAULT_SIZE, first = DEFAULT_FIRST, count = DEFAULT_COUNT;
	unsigned long pgsize, pages, ops = 0, sum = 0;
	volatile unsigned char *region;

	program_init("partial_munmap", usage);
	if (argc > 4)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		size = parse_size(argv[1], "size");
	if (argc > 2)
		first = parse_count(argv[2], "first");
	if (argc > 3)
		count = parse_count(argv[3], "count");
	check_page_multiple(size, "size");
	pgsize = page_size();
	pages = size / pgsize;
	if (count == 0 || first >= pages || count > pages - first)
		usage_error("first %lu and count %lu are not a non-empty range inside the region of %lu pages",
			    first, count, pages);
	if (first == 0 && count == pages)
		usage_error("count: unmapping all %lu pages leaves nothing to touch", pages);

	lab_mark("setup");
	region = map_or_die(reserve_aligned_window(size, ALIGN), size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, "region");
	lab_mark("touch");
	for (unsigned long p = 0; p < pages; p++)
		region[p * pgsize] = page_pattern(p);

	lab_reset_stats();
	lab_mark("munmap");
	unmap_or_die((void *)(region + first * pgsize), count * pgsize, "middle of the region");
	lab_mark("retouch");
	for (unsigned long p = 0; p < pages; p++) {
		if (p >= first && p < first + count)
			continue;
		if (region[p * pgsize] != page_pattern(p))
			die("page %lu lost its data: reads %u, expected %u", p, region[p * pgsize], page_pattern(p));
		sum += region[p * pgsize];
		region[p * pgsize] = (unsigned char)~page_pattern(p);
		ops++;
	}
	lab_ops(ops);
	lab_dump_stats("partial_munmap");
	lab_mark("done");

	if (first > 0)
		unmap_or_die((void *)region, first * pgsize, "head of the region");
	if (first + count < pages)
		unmap_or_die((void *)(region + (first + count) * pgsize), (pages - first - count) * pgsize,
			     "tail of the region");
	out("partial_munmap ops=%lu size=%lu first=%lu count=%lu sum=%lu\n", ops, size, first, count, sum);
	return 0;
}
