/*
 * read_fault: a read-fault sweep over a file mapping. Creates a file in /tmp and fills it with
 * write(2) (so its page cache is populated before any mapping exists), then per iteration maps it
 * read-only, shared or private, loads one byte of every page and unmaps it. Every load of a new
 * page is a read fault (do_read_fault, with fault-around mapping the neighbours): the count of
 * faults per op shows how much fault-around and large folios map at once.
 */
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define DEFAULT_SIZE (16UL << 20)
#define DEFAULT_ITERATIONS 1UL
#define ALIGN (2UL << 20)
#define FILL_CHUNK (64UL << 10)

static const char usage[] =
	"[size [shared|private [iterations [unlinked|linked]]]]\n"
	"  size        file and mapping size, a multiple of the page size (default 16M)\n"
	"  mode        MAP_SHARED or MAP_PRIVATE, both PROT_READ (default shared)\n"
	"  iterations  mmap/read/munmap rounds (default 1)\n"
	"  file        unlinked at once (default), or linked: keeps its name until the end, so on\n"
	"              a tmpfs its mappings are plain tmpfs ones, which the mount's huge= reaches";

static const char *const modes[] = { "shared", "private", NULL };
static const char *const links[] = { "unlinked", "linked", NULL };

/* Every byte of page i holds page_pattern(i); written in chunks so setup stays cheap. */
static void fill_file(int fd, unsigned long size, unsigned long pgsize)
{
	static unsigned char chunk[FILL_CHUNK];
	unsigned long pages_per_chunk = FILL_CHUNK / pgsize;

	for (unsigned long off = 0; off < size; off += FILL_CHUNK) {
		unsigned long len = size - off < FILL_CHUNK ? size - off : FILL_CHUNK;
		unsigned long first = off / pgsize;

		for (unsigned long p = 0; p < pages_per_chunk; p++)
			memset(chunk + p * pgsize, page_pattern(first + p), pgsize);
		write_all(fd, chunk, len, "fill file");
	}
}

int main(int argc, char **argv)
{
	unsigned long size = DEFAULT_SIZE, iterations = DEFAULT_ITERATIONS;
	unsigned long pgsize, ops = 0, sum = 0;
	int mode = 0, linked = 0, fd;
	char path[] = "/tmp/read_fault.XXXXXX";
	void *window;

	program_init("read_fault", usage);
	if (argc > 5)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		size = parse_size(argv[1], "size");
	if (argc > 2)
		mode = parse_choice(argv[2], "mode", modes);
	if (argc > 3)
		iterations = parse_count(argv[3], "iterations");
	if (argc > 4)
		linked = parse_choice(argv[4], "file", links);
	check_page_multiple(size, "size");
	pgsize = page_size();
	if (FILL_CHUNK % pgsize != 0)
		die("page size %lu does not divide the fill chunk", pgsize);

	lab_mark("setup");
	if (linked) {
		fd = mkstemp(path);
		if (fd < 0)
			die("mkstemp(/tmp/read_fault.XXXXXX) failed: %s", errno_name(errno));
	} else {
		fd = make_unlinked_tmp_file();
	}
	fill_file(fd, size, pgsize);
	window = reserve_aligned_window(size, ALIGN);

	lab_reset_stats();
	for (unsigned long it = 0; it < iterations; it++) {
		const volatile unsigned char *c;

		lab_mark("mmap");
		c = map_or_die(window, size, PROT_READ, mode == 0 ? MAP_SHARED : MAP_PRIVATE, fd, "file");
		lab_mark("read");
		for (unsigned long page = 0; page < size / pgsize; page++) {
			unsigned char v = c[page * pgsize];

			if (v != page_pattern(page))
				die("page %lu reads %u, expected %u", page, v, page_pattern(page));
			sum += v;
			ops++;
		}
		lab_mark("munmap");
		unmap_or_die((void *)c, size, "file");
	}
	lab_ops(ops);
	lab_dump_stats("read_fault");
	lab_mark("done");

	if (linked && unlink(path) != 0)
		die("unlink(%s) failed: %s", path, errno_name(errno));
	out("read_fault ops=%lu size=%lu mode=%s iterations=%lu sum=%lu%s\n", ops, size, modes[mode],
	    iterations, sum, linked ? " file=linked" : "");
	return 0;
}
