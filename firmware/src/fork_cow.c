/*
 * fork_cow: fork and copy-on-write of anonymous memory in 64 KiB blocks (the mTHP size the
 * contpte profiles use; with anon_mthp=64K each block is one large folio mapped contiguous).
 *
 * Phases, each between markers, all output from the parent once the child has been reaped:
 *   touch   the parent writes the page pattern to every page of a 2 MiB-aligned private region
 *   fork    fork: the region becomes shared copy-on-write between parent and child
 *           (copy_pte_range write-protects it, contiguous blocks included)
 *   cow     the child checks the whole region, then writes a different pattern by the rule of
 *           child_writes(); the parent, at the same time, writes by parent_writes(): one page at
 *           the start, in the middle, at the end of a block, and whole blocks. Each side must
 *           see its own writes and none of the other's, whatever the interleaving.
 *   reuse   a second child exits at once; the parent then writes every page again: with no other
 *           mapper left the folios are reused in place instead of copied (do_wp_page's reuse)
 *   shared  a MAP_SHARED|MAP_ANONYMOUS region: the child's writes are seen by the parent
 *
 * The child reports through its exit status (CHILD_OK on success, 1 with a message on stderr
 * otherwise) and through a shared result page (its sums); the parent checks both.
 */
#define _GNU_SOURCE
#include "common.h"
#include "lab.h"
#include "pattern.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
	"[size]\n"
	"  size  bytes of the private region, a multiple of 64K (default 1M: 16 blocks of 64 KiB)";

#define BLOCK (64UL << 10)
#define CHILD_OK 42 /* a status no failure path uses, so the parent knows the child got to the end */

/* Parent and child patterns differ from the original page_pattern() and from each other. */
static unsigned char parent_byte(unsigned long page)
{
	return (unsigned char)(page_pattern(page) ^ 0x80);
}

static unsigned char child_byte(unsigned long page)
{
	return (unsigned char)(page_pattern(page) + 3); /* at most 254: never wraps to the original */
}

/*
 * Which pages each side writes after the fork, by page index within its 64 KiB block (16 pages
 * of 4 KiB) and the block's number modulo 4: the parent takes page 0 of blocks 0 mod 4, page 15
 * of blocks 1 mod 4 and all of blocks 3 mod 4; the child takes page 7 of blocks 0 mod 4 (a block
 * both sides split), all of blocks 2 mod 4 and page 0 of blocks 3 mod 4 (a page the parent also
 * writes, with its own value). Blocks 1 mod 4 keep 15 untouched pages on both sides.
 */
static int parent_writes(unsigned long page, unsigned long per_block)
{
	unsigned long in_block = page % per_block, kind = page / per_block % 4;

	return (kind == 0 && in_block == 0) || (kind == 1 && in_block == per_block - 1) || kind == 3;
}

static int child_writes(unsigned long page, unsigned long per_block)
{
	unsigned long in_block = page % per_block, kind = page / per_block % 4;

	return (kind == 0 && in_block == per_block / 2 - 1) || kind == 2 || (kind == 3 && in_block == 0);
}

struct child_report {
	unsigned long sum_before; /* sum of the first byte of every page, right after the fork */
	unsigned long sum_after;  /* the same after the child's writes */
	unsigned long written;    /* pages the child wrote */
};

static unsigned long first_bytes_sum(const volatile unsigned char *p, unsigned long pages, unsigned long pgsize)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < pages; i++)
		sum += p[i * pgsize];
	return sum;
}

/*
 * Every byte a page's first and last byte should hold in the view of one side: its own writes,
 * otherwise the original pattern. Returns the number of the first wrong page + 1, or 0.
 */
static unsigned long check_view(const volatile unsigned char *p, unsigned long pages, unsigned long pgsize,
				unsigned long per_block, int is_child)
{
	for (unsigned long i = 0; i < pages; i++) {
		unsigned char want = page_pattern(i);

		if (is_child && child_writes(i, per_block))
			want = child_byte(i);
		if (!is_child && parent_writes(i, per_block))
			want = parent_byte(i);
		if (p[i * pgsize] != want || p[i * pgsize + pgsize - 1] != want)
			return i + 1;
	}
	return 0;
}

static void fill(volatile unsigned char *p, unsigned long page, unsigned long pgsize, unsigned char v)
{
	p[page * pgsize] = v;
	p[page * pgsize + pgsize - 1] = v;
}

static int wait_child(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid(%s) failed: %s", what, errno_name(errno));
	if (!WIFEXITED(status))
		die("%s did not exit (wait status 0x%x)", what, status);
	if (WEXITSTATUS(status) != CHILD_OK)
		die("%s exited with %d, expected %d", what, WEXITSTATUS(status), CHILD_OK);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	unsigned long size = 1UL << 20, pgsize, pages, per_block, bad, parent_written = 0, ops = 0;
	volatile unsigned char *p, *shared;
	struct child_report *report;
	pid_t pid;
	int status;

	program_init("fork_cow", usage);
	if (argc > 2)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		size = parse_size(argv[1], "size");
	if (size == 0 || size % BLOCK != 0)
		usage_error("size: %lu is not a positive multiple of 64K", size);
	pgsize = page_size();
	pages = size / pgsize;
	per_block = BLOCK / pgsize;

	lab_mark("setup");
	report = map_or_die(NULL, pgsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, "report page");
	p = map_or_die(reserve_aligned_window(size, 2UL << 20), size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, "private region");

	lab_mark("touch");
	for (unsigned long i = 0; i < pages; i++)
		fill(p, i, pgsize, page_pattern(i));

	lab_reset_stats();
	lab_mark("fork");
	pid = fork();
	if (pid < 0)
		die("fork failed: %s", errno_name(errno));
	if (pid == 0) {
		lab_mark("child");
		report->sum_before = first_bytes_sum(p, pages, pgsize);
		for (unsigned long i = 0; i < pages; i++)
			if (p[i * pgsize] != page_pattern(i))
				die("child: page %lu holds %u after the fork, expected %u", i, p[i * pgsize], page_pattern(i));
		for (unsigned long i = 0; i < pages; i++)
			if (child_writes(i, per_block)) {
				fill(p, i, pgsize, child_byte(i));
				report->written++;
			}
		bad = check_view(p, pages, pgsize, per_block, 1);
		if (bad != 0)
			die("child: page %lu is wrong after the writes", bad - 1);
		report->sum_after = first_bytes_sum(p, pages, pgsize);
		lab_mark("child-exit");
		_exit(CHILD_OK);
	}
	lab_mark("cow");
	for (unsigned long i = 0; i < pages; i++)
		if (parent_writes(i, per_block)) {
			fill(p, i, pgsize, parent_byte(i));
			parent_written++;
		}
	status = wait_child(pid, "cow child");
	bad = check_view(p, pages, pgsize, per_block, 0);
	if (bad != 0)
		die("parent: page %lu is wrong after the child's writes", bad - 1);
	ops += pages;
	lab_mark("cow-done");
	out("cow child_status=%d child_written=%lu parent_written=%lu child_sum_before=%lu child_sum_after=%lu parent_sum=%lu\n",
	    status, report->written, parent_written, report->sum_before, report->sum_after,
	    first_bytes_sum(p, pages, pgsize));

	lab_mark("reuse");
	pid = fork();
	if (pid < 0)
		die("fork failed: %s", errno_name(errno));
	if (pid == 0)
		_exit(CHILD_OK);
	status = wait_child(pid, "reuse child");
	for (unsigned long i = 0; i < pages; i++)
		fill(p, i, pgsize, child_byte(i));
	for (unsigned long i = 0; i < pages; i++)
		if (p[i * pgsize] != child_byte(i) || p[i * pgsize + pgsize - 1] != child_byte(i))
			die("parent: page %lu is wrong after the reuse writes", i);
	ops += pages;
	out("reuse child_status=%d sum=%lu\n", status, first_bytes_sum(p, pages, pgsize));

	lab_mark("shared");
	shared = map_or_die(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, "shared region");
	for (unsigned long i = 0; i < per_block; i++)
		fill(shared, i, pgsize, page_pattern(i));
	pid = fork();
	if (pid < 0)
		die("fork failed: %s", errno_name(errno));
	if (pid == 0) {
		for (unsigned long i = 0; i < per_block; i += 2)
			fill(shared, i, pgsize, child_byte(i));
		_exit(CHILD_OK);
	}
	status = wait_child(pid, "shared child");
	for (unsigned long i = 0; i < per_block; i++) {
		unsigned char want = i % 2 == 0 ? child_byte(i) : page_pattern(i);

		if (shared[i * pgsize] != want || shared[i * pgsize + pgsize - 1] != want)
			die("parent: shared page %lu holds %u, expected %u", i, shared[i * pgsize], want);
	}
	ops += per_block;
	out("shared child_status=%d sum=%lu\n", status, first_bytes_sum(shared, per_block, pgsize));

	lab_ops(ops);
	lab_dump_stats("fork_cow");
	lab_mark("done");
	out("fork_cow ops=%lu size=%lu pages=%lu blocks=%lu\n", ops, size, pages, size / BLOCK);
	return 0;
}
