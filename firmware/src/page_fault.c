/* page_fault.c: the shared body of page_fault1, page_fault2 and page_fault3 (see page_fault.h). */
#include "page_fault.h"

#include "common.h"
#include "lab.h"

#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>

#define DEFAULT_SIZE (128UL << 20) /* will-it-scale's MEMSIZE */
#define DEFAULT_ITERATIONS 2UL
#define DEFAULT_ALIGN (2UL << 20)

static const char usage[] =
	"[size [iterations [align]]]\n"
	"  size        bytes mapped per iteration, a multiple of the page size (default 128M)\n"
	"  iterations  mmap/touch/munmap rounds (default 2)\n"
	"  align       alignment of the mapping, a power of two, or 0 to let mmap choose (default 2M)";

int page_fault_main(const char *name, enum page_fault_kind kind, int argc, char **argv)
{
	unsigned long size = DEFAULT_SIZE, iterations = DEFAULT_ITERATIONS, align = DEFAULT_ALIGN;
	unsigned long pgsize, ops = 0;
	int fd = -1;
	void *window = NULL;

	program_init(name, usage);
	if (argc > 4)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		size = parse_size(argv[1], "size");
	if (argc > 2)
		iterations = parse_count(argv[2], "iterations");
	if (argc > 3)
		align = parse_size(argv[3], "align");
	check_page_multiple(size, "size");
	check_alignment(align, "align");
	pgsize = page_size();

	lab_mark("setup");
	if (kind != PF_ANON_PRIVATE) {
		/* will-it-scale's setup: a sparse file of the mapping's size, unlinked at once. */
		fd = make_unlinked_tmp_file();
		if (ftruncate(fd, (off_t)size) != 0)
			die("ftruncate(%lu) failed: %s", size, errno_name(errno));
	}
	if (align != 0)
		window = reserve_aligned_window(size, align);

	lab_reset_stats();
	for (unsigned long it = 0; it < iterations; it++) {
		volatile char *c;

		lab_mark("mmap");
		c = map_or_die(window, size, PROT_READ | PROT_WRITE, page_fault_map_flags(kind), fd, "test mapping");
		lab_mark("touch");
		for (unsigned long off = 0; off < size; off += pgsize) {
			c[off] = 0;
			ops++;
		}
		lab_mark("munmap");
		unmap_or_die((void *)c, size, "test mapping");
	}
	lab_ops(ops);
	lab_dump_stats(name);
	lab_mark("done");

	out("%s ops=%lu size=%lu iterations=%lu align=%lu pagesize=%lu\n", name, ops, size, iterations,
	    align, pgsize);
	return 0;
}
