/*
 * mm_calls: the address-space calls beyond mmap/munmap/mprotect/madvise/brk: mremap, msync,
 * mlock, mlock2, munlock, mlockall, munlockall and mincore, one line per check, printing only
 * what every correct Linux prints (outcomes as "ok" or errno names, contents read back, mincore
 * vectors). Calls go through syscall(2). On an unexpected outcome it explains on stderr and exits 1.
 * Left out because qemu-aarch64 (7.2) differs from Linux there, and tested in test/mm instead:
 * mremap's own length checks (qemu checks the guest range first: ENOMEM where Linux says EINVAL
 * or EFAULT) and mlock2 (ENOSYS under qemu).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096UL

/* errno_name, plus the one errno only this program expects. */
static const char *ename(int e)
{
	return e == EBUSY ? "EBUSY" : errno_name(e);
}

static void expect_errno(long r, int e, const char *what)
{
	int got = errno;

	if (r != -1) {
		out("%s: ok\n", what);
		die("%s succeeded (returned %ld), expected %s", what, r, ename(e));
	}
	out("%s: %s\n", what, ename(got));
	if (got != e)
		die("%s failed with %s, expected %s", what, ename(got), ename(e));
}

static void expect_ok(long r, const char *what)
{
	must(r, what);
	out("%s: ok\n", what);
}

static char *map_anon(unsigned long len)
{
	long r = syscall(SYS_mmap, 0L, len, (long)(PROT_READ | PROT_WRITE), (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);

	return (char *)must(r, "mmap");
}

static void print_vec(const char *what, const unsigned char *vec, unsigned long n)
{
	char line[128];
	unsigned long i;

	for (i = 0; i < n && i < sizeof(line) - 1; i++)
		line[i] = (vec[i] & 1) ? '1' : '0';
	line[i] = 0;
	out("%s: %s\n", what, line);
}

static void exercise_mremap(void)
{
	char *a = map_anon(8 * PAGE);
	char *b;

	for (unsigned long i = 0; i < 8; i++)
		a[i * PAGE] = (char)(i + 1);
	expect_errno(syscall(SYS_mremap, a, 8 * PAGE, 8 * PAGE, 8L, 0L), EINVAL, "mremap(flags 8)");
	expect_errno(syscall(SYS_mremap, a + 1, PAGE, PAGE, 0L, 0L), EINVAL, "mremap(unaligned)");
	expect_errno(syscall(SYS_mremap, a, PAGE, PAGE, (long)MREMAP_FIXED, a + 64 * PAGE), EINVAL, "mremap(FIXED without MAYMOVE)");
	expect_errno(syscall(SYS_mremap, a, PAGE, 2 * PAGE, (long)(MREMAP_MAYMOVE | MREMAP_DONTUNMAP), 0L), EINVAL,
		     "mremap(DONTUNMAP resizing)");
	expect_errno(syscall(SYS_mremap, a, 2 * PAGE, 2 * PAGE, (long)(MREMAP_MAYMOVE | MREMAP_FIXED), a + PAGE), EINVAL,
		     "mremap(FIXED overlapping)");
	b = (char *)must(syscall(SYS_mremap, a, 8 * PAGE, 4 * PAGE, 0L, 0L), "mremap(shrink)");
	out("mremap(shrink): %s\n", b == a ? "same address" : "moved");
	b = (char *)must(syscall(SYS_mremap, a, 4 * PAGE, 64 * PAGE, (long)MREMAP_MAYMOVE, 0L), "mremap(grow, MAYMOVE)");
	out("mremap(grow): pages hold %d %d %d %d, new page %d\n", b[0], b[PAGE], b[2 * PAGE], b[3 * PAGE], b[40 * PAGE]);
	must(syscall(SYS_munmap, b, 64 * PAGE), "munmap");
}

static void exercise_msync(void)
{
	char *a = map_anon(4 * PAGE);

	a[0] = 1;
	expect_ok(syscall(SYS_msync, a, 4 * PAGE, (long)MS_SYNC), "msync(MS_SYNC)");
	expect_ok(syscall(SYS_msync, a, 4 * PAGE, (long)MS_ASYNC), "msync(MS_ASYNC)");
	expect_ok(syscall(SYS_msync, a, 0L, (long)MS_SYNC), "msync(len 0)");
	expect_errno(syscall(SYS_msync, a, PAGE, (long)(MS_SYNC | MS_ASYNC)), EINVAL, "msync(MS_SYNC|MS_ASYNC)");
	expect_errno(syscall(SYS_msync, a + 1, PAGE, (long)MS_SYNC), EINVAL, "msync(unaligned)");
	expect_errno(syscall(SYS_msync, a, PAGE, 8L), EINVAL, "msync(flags 8)");
	must(syscall(SYS_mlock, a, PAGE), "mlock");
	expect_errno(syscall(SYS_msync, a, PAGE, (long)MS_INVALIDATE), EBUSY, "msync(MS_INVALIDATE, locked)");
	must(syscall(SYS_munmap, a, 4 * PAGE), "munmap");
}

static void exercise_mlock(void)
{
	char *a = map_anon(8 * PAGE);
	unsigned char vec[8];

	expect_ok(syscall(SYS_mincore, a, 8 * PAGE, vec), "mincore(untouched)");
	print_vec("mincore(untouched)", vec, 8);
	expect_ok(syscall(SYS_mlock, a + 100, 2 * PAGE), "mlock(2 pages from +100)");
	expect_ok(syscall(SYS_mincore, a, 8 * PAGE, vec), "mincore(after mlock)");
	print_vec("mincore(after mlock)", vec, 8);
	expect_ok(syscall(SYS_munlock, a, 8 * PAGE), "munlock");
	a[6 * PAGE] = 1;
	expect_ok(syscall(SYS_mincore, a, 8 * PAGE, vec), "mincore(after a write)");
	print_vec("mincore(after a write)", vec, 8);
	expect_errno(syscall(SYS_mincore, a + 1, PAGE, vec), EINVAL, "mincore(unaligned)");
	expect_errno(syscall(SYS_mlockall, 0L), EINVAL, "mlockall(0)");
	expect_errno(syscall(SYS_mlockall, (long)MCL_ONFAULT), EINVAL, "mlockall(MCL_ONFAULT)");
	expect_errno(syscall(SYS_mlockall, 8L), EINVAL, "mlockall(8)");
	expect_ok(syscall(SYS_munlockall), "munlockall");
	must(syscall(SYS_munmap, a, 8 * PAGE), "munmap");
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("mm_calls", "(no arguments)");
	if (argc > 1)
		usage_error("no arguments expected (%d given)", argc - 1);
	exercise_mremap();
	exercise_msync();
	exercise_mlock();
	out("mm_calls: done\n");
	return 0;
}
