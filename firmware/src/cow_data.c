/*
 * cow_data: the first copy-on-write fault of initialised data that fault-around mapped and the
 * program never touched. A 64 KiB-aligned initialised array lives in .data, a private file
 * mapping of the executable. Reading its first page maps the whole aligned window read-only
 * (do_read_fault with fault-around: the neighbours are installed old); writing page 5 then
 * copies that page in do_wp_page, and ptep_clear_flush must flush the old entry it clears: the
 * access flag is no proof that no TLB holds it (arm64 pte_accessible is pte_valid since 5.10).
 * The markers bracket exactly the read and the write.
 */
#include "common.h"
#include "lab.h"

#define PAGE 4096UL
#define PAGES 16UL
#define WRITTEN_PAGE 5UL

/* Non-zero initialiser: the array is file-backed .data, not .bss. */
static unsigned char data[PAGES * PAGE] __attribute__((aligned(65536))) = { 7 };

int main(int argc, char **argv)
{
	volatile unsigned char *d = data;
	unsigned char first, after;

	(void)argv;
	program_init("cow_data", "");
	if (argc > 1)
		usage_error("no arguments expected (%d given)", argc - 1);
	lab_reset_stats();
	first = d[0];
	d[WRITTEN_PAGE * PAGE] = (unsigned char)(first + 1);
	lab_dump_stats("cow");
	after = d[WRITTEN_PAGE * PAGE];
	out("cow_data: read %u, page %lu now holds %u\n", first, WRITTEN_PAGE, after);
	return after == first + 1 ? 0 : EXIT_BROKEN;
}
