/*
 * stride: loads from a buffer of N pages in strided order, R rounds: TLB-miss heavy. Each round
 * visits every page once, as offset o = 0..S-1 then pages o, o+S, o+2S, ...; with a stride of
 * 16 pages or more, consecutive loads land in different 64 KiB blocks, so contiguous TLB entries
 * (one entry per block) and plain ones (one per page) give very different miss counts. The buffer
 * is 2 MiB-aligned and written once before the measured rounds. One op is one load.
 */
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <sys/mman.h>

#define DEFAULT_PAGES 4096UL
#define DEFAULT_STRIDE 16UL
#define DEFAULT_ROUNDS 4UL
#define ALIGN (2UL << 20)

static const char usage[] =
	"[pages [stride [rounds]]]\n"
	"  pages   buffer size in pages (default 4096)\n"
	"  stride  distance between consecutive loads, in pages (default 16)\n"
	"  rounds  sweeps over the whole buffer (default 4)";

int main(int argc, char **argv)
{
	unsigned long pages = DEFAULT_PAGES, stride = DEFAULT_STRIDE, rounds = DEFAULT_ROUNDS;
	unsigned long pgsize, size, ops = 0, sum = 0;
	const volatile unsigned char *buf;
	volatile unsigned char *wbuf;

	program_init("stride", usage);
	if (argc > 4)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		pages = parse_count(argv[1], "pages");
	if (argc > 2)
		stride = parse_count(argv[2], "stride");
	if (argc > 3)
		rounds = parse_count(argv[3], "rounds");
	if (pages == 0)
		usage_error("pages: must be at least 1");
	if (stride == 0 || stride > pages)
		usage_error("stride: %lu is not between 1 and the number of pages (%lu)", stride, pages);
	pgsize = page_size();
	if (pages > ~0UL / pgsize)
		usage_error("pages: %lu pages do not fit the address space", pages);
	size = pages * pgsize;

	lab_mark("setup");
	wbuf = map_or_die(reserve_aligned_window(size, ALIGN), size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, "buffer");
	for (unsigned long p = 0; p < pages; p++)
		wbuf[p * pgsize] = page_pattern(p);
	buf = wbuf;

	lab_reset_stats();
	lab_mark("sweep");
	for (unsigned long r = 0; r < rounds; r++)
		for (unsigned long o = 0; o < stride; o++)
			for (unsigned long p = o; p < pages; p += stride) {
				sum += buf[p * pgsize];
				ops++;
			}
	lab_ops(ops);
	lab_dump_stats("stride");
	lab_mark("done");

	unmap_or_die((void *)wbuf, size, "buffer");
	out("stride ops=%lu pages=%lu stride=%lu rounds=%lu sum=%lu\n", ops, pages, stride, rounds, sum);
	return 0;
}
