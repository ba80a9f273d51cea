/*
 * mprotect_page: write-protect one page and give the write permission back, again and again.
 * The region is 2 MiB-aligned and fully written first, so with 64 KiB folios every block is
 * mapped contiguous: making page 15 read-only unfolds its block and making it writable again
 * refolds it (the last entry of a block is where folding is tried); on page 0 the block unfolds
 * once and never refolds. One op is one protect/restore pair.
 */
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEFAULT_PAGE 15UL
#define DEFAULT_ITERATIONS 16UL
#define DEFAULT_SIZE (16UL << 20)
#define ALIGN (2UL << 20)

static const char usage[] =
	"[page [iterations [size [anon|shared]]]]\n"
	"  page        index of the page to protect and restore (default 15)\n"
	"  iterations  protect/restore pairs (default 16)\n"
	"  size        region size, a multiple of the page size (default 16M)\n"
	"  backing     anonymous private memory, or a shared mapping of a /tmp file (default anon)";

static const char *const backings[] = { "anon", "shared", NULL };

static void protect(volatile unsigned char *page, unsigned long len, int prot)
{
	if (mprotect((void *)page, len, prot) != 0)
		die("mprotect(page, %s) failed: %s", prot == PROT_READ ? "PROT_READ" : "PROT_READ|PROT_WRITE",
		    errno_name(errno));
}

int main(int argc, char **argv)
{
	unsigned long page = DEFAULT_PAGE, iterations = DEFAULT_ITERATIONS, size = DEFAULT_SIZE;
	unsigned long pgsize, pages;
	int backing = 0, fd = -1, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	volatile unsigned char *region;

	program_init("mprotect_page", usage);
	if (argc > 5)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		page = parse_count(argv[1], "page");
	if (argc > 2)
		iterations = parse_count(argv[2], "iterations");
	if (argc > 3)
		size = parse_size(argv[3], "size");
	if (argc > 4)
		backing = parse_choice(argv[4], "backing", backings);
	check_page_multiple(size, "size");
	pgsize = page_size();
	pages = size / pgsize;
	if (page >= pages)
		usage_error("page: %lu is outside the region of %lu pages", page, pages);

	lab_mark("setup");
	if (backing == 1) {
		fd = make_unlinked_tmp_file();
		if (ftruncate(fd, (off_t)size) != 0)
			die("ftruncate(%lu) failed: %s", size, errno_name(errno));
		flags = MAP_SHARED;
	}
	region = map_or_die(reserve_aligned_window(size, ALIGN), size, PROT_READ | PROT_WRITE, flags, fd,
			    "region");
	lab_mark("touch");
	for (unsigned long p = 0; p < pages; p++)
		region[p * pgsize] = page_pattern(p);

	lab_reset_stats();
	lab_mark("loop");
	for (unsigned long it = 0; it < iterations; it++) {
		protect(region + page * pgsize, pgsize, PROT_READ);
		protect(region + page * pgsize, pgsize, PROT_READ | PROT_WRITE);
	}
	lab_ops(iterations);
	lab_dump_stats("mprotect_page");
	lab_mark("verify");

	/* The data survived every change of permission, and the page is writable again. */
	for (unsigned long p = 0; p < pages; p++)
		if (region[p * pgsize] != page_pattern(p))
			die("page %lu lost its data: reads %u, expected %u", p, region[p * pgsize], page_pattern(p));
	region[page * pgsize] = 0;
	unmap_or_die((void *)region, size, "region");

	out("mprotect_page ops=%lu page=%lu iterations=%lu size=%lu backing=%s\n", iterations, page,
	    iterations, size, backings[backing]);
	return 0;
}
