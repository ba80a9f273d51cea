/*
 * punch_hole: fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) under live mappings, on a
 * file in /tmp and on a memfd (tmpfs). Six pages hold 'a'..'f'; the file is mapped shared and
 * privately, and page 2 of the private mapping is written (a copy-on-write copy). The hole covers
 * bytes [4096 + 100, 4 * 4096 + 100): the end of page 1, pages 2 and 3 whole, the start of
 * page 4. For each page the program prints what read(2), the shared mapping and the private
 * mapping see (the first byte, the last byte, and how many bytes are zero), and the size.
 * Linux keeps the private copy (a punched hole leaves copy-on-write copies) and shows zeros
 * everywhere else in the hole; the size does not change.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define PAGES 6
#define HOLE_START (4096 + 100)
#define HOLE_LEN (3 * 4096)

static unsigned long page;

static void describe(const char *who, const unsigned char *p)
{
	unsigned long zeros = 0;
	for (unsigned long i = 0; i < page; i++)
		zeros += p[i] == 0;
	out(" %s %c%c %4lu", who, p[0] ? p[0] : '0', p[page - 1] ? p[page - 1] : '0', zeros);
}

static void punch(int fd, const char *what)
{
	unsigned char *buf = map_or_die(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "buffer");
	for (unsigned n = 0; n < PAGES; n++) {
		memset(buf, 'a' + n, page);
		if (pwrite(fd, buf, page, (off_t)(n * page)) != (ssize_t)page)
			die("%s: pwrite of page %u failed", what, n);
	}
	unsigned char *shared = map_or_die(NULL, PAGES * page, PROT_READ, MAP_SHARED, fd, "shared mapping");
	unsigned char *private = map_or_die(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, "private mapping");
	/* Every page mapped in both, then the private copy of page 2. */
	unsigned sum = 0;
	for (unsigned n = 0; n < PAGES; n++)
		sum += shared[n * page] + private[n * page];
	memset(private + 2 * page, 'x', page);

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, HOLE_START, HOLE_LEN) != 0)
		die("%s: fallocate(PUNCH_HOLE) failed: %s", what, errno_name(errno));
	struct stat st;
	must(fstat(fd, &st), "fstat");
	out("%s: size %ld (checksum before %u)\n", what, (long)st.st_size, sum);
	for (unsigned n = 0; n < PAGES; n++) {
		if (pread(fd, buf, page, (off_t)(n * page)) != (ssize_t)page)
			die("%s: pread of page %u failed", what, n);
		out("  page %u:", n);
		describe("read", buf);
		describe("shared", shared + n * page);
		describe("private", private + n * page);
		out("\n");
	}
	unmap_or_die(private, PAGES * page, "private mapping");
	unmap_or_die(shared, PAGES * page, "shared mapping");
	unmap_or_die(buf, page, "buffer");
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("punch_hole", "");
	if (argc > 1)
		usage_error("no arguments");
	page = page_size();

	int file = make_unlinked_tmp_file();
	punch(file, "/tmp file");
	close(file);

	int memfd = (int)must(memfd_create("punch_hole", 0), "memfd_create");
	punch(memfd, "memfd");
	close(memfd);
	return 0;
}
