/*
 * fork_churn: many short-lived processes, as a build or a shell script makes them. Each one is
 * a new address space, so a kernel with few ASIDs (8-bit ASIDs: 255, or 127 before the first
 * rollover) runs out of them and starts a new ASID generation, which costs every CPU a local
 * TLB flush at its next address-space switch.
 *
 *   fork_churn [children [alive]]
 *
 * The parent writes a 64 KiB private region, then forks `children` children (default 300),
 * keeping at most `alive` of them (default 4) running at once. Each child checks the region it
 * inherited copy-on-write, writes its own number into the first page of each 4 KiB page of the
 * region (copies of its own), checks those, and exits with status CHILD_OK; the parent reaps in
 * fork order and, at the end, checks that its own region never saw a child's write.
 *
 * The measured region (reset .. dump "churn") is the fork loop and the reaping.
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
	"[children [alive]]\n"
	"  children  processes to fork, one after another (default 300)\n"
	"  alive     at most this many children running at once, 1..64 (default 4)";

#define REGION (64UL << 10)
#define CHILD_OK 42

static int child(volatile unsigned char *p, unsigned long pages, unsigned long pgsize, unsigned long n)
{
	unsigned char mine = (unsigned char)(n % 251 + 1);

	for (unsigned long i = 0; i < pages; i++)
		if (p[i * pgsize] != page_pattern(i))
			return 1;
	for (unsigned long i = 0; i < pages; i++)
		p[i * pgsize] = mine;
	for (unsigned long i = 0; i < pages; i++)
		if (p[i * pgsize] != mine)
			return 1;
	return CHILD_OK;
}

static void reap(pid_t pid, unsigned long n)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid(child %lu) failed: %s", n, errno_name(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != CHILD_OK)
		die("child %lu ended with wait status 0x%x, expected exit %d", n, status, CHILD_OK);
}

int main(int argc, char **argv)
{
	unsigned long children = 300, alive = 4, pgsize, pages;
	pid_t pids[64];
	volatile unsigned char *p;

	program_init("fork_churn", usage);
	if (argc > 3)
		usage_error("too many arguments (%d)", argc - 1);
	if (argc > 1)
		children = parse_count(argv[1], "children");
	if (argc > 2)
		alive = parse_count(argv[2], "alive");
	if (alive < 1 || alive > 64)
		usage_error("alive: %lu is not 1..64", alive);
	pgsize = page_size();
	pages = REGION / pgsize;
	p = map_or_die(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "region");
	for (unsigned long i = 0; i < pages; i++)
		p[i * pgsize] = page_pattern(i);

	lab_reset_stats();
	for (unsigned long n = 0; n < children; n++) {
		if (n >= alive)
			reap(pids[(n - alive) % alive], n - alive);
		pid_t pid = fork();
		if (pid < 0)
			die("fork of child %lu failed: %s", n, errno_name(errno));
		if (pid == 0)
			_exit(child(p, pages, pgsize, n));
		pids[n % alive] = pid;
		lab_ops(1);
	}
	for (unsigned long n = children > alive ? children - alive : 0; n < children; n++)
		reap(pids[n % alive], n);
	lab_dump_stats("churn");

	for (unsigned long i = 0; i < pages; i++)
		if (p[i * pgsize] != page_pattern(i))
			die("page %lu of the parent's region changed", i);
	out("fork_churn: children=%lu alive=%lu ok\n", children, alive);
	return 0;
}
