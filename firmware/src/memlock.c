/*
 * memlock: RLIMIT_MEMLOCK as a process without CAP_IPC_LOCK meets it, one line per check.
 *
 * The program first drops every capability with capset (so root, as under qemu-aarch64, and an
 * ordinary user see the same), then lowers RLIMIT_MEMLOCK to 64 KiB and checks: mlock within
 * the limit, beyond it (ENOMEM), again over pages already locked (they are not counted twice);
 * munlock giving room back; mmap(MAP_LOCKED) within and beyond
 * it (EAGAIN); mremap growing a locked mapping beyond it (EAGAIN); mlockall(MCL_CURRENT) with
 * more mapped than the limit (ENOMEM); raising the hard limit without CAP_SYS_RESOURCE (EPERM);
 * prlimit64 on itself; a zero limit (mlock and MAP_LOCKED: EPERM); and a forked child, which
 * starts with nothing locked and the same limit. VmLck comes from /proc/self/status.
 *
 * An unexpected outcome ends the program with exit 1 and a message on stderr.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "(no arguments)";

static unsigned long psz;

static long vmlck_kb(void)
{
	char buf[4096];
	int fd = must(open("/proc/self/status", O_RDONLY), "open status");
	ssize_t n = must(read(fd, buf, sizeof(buf) - 1), "read status");
	close(fd);
	buf[n] = 0;
	char *p = strstr(buf, "VmLck:");
	if (p == NULL)
		die("no VmLck in /proc/self/status");
	return strtol(p + 6, NULL, 10);
}

static void drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	must(syscall(SYS_capset, &hdr, data), "capset");
	must(syscall(SYS_capget, &hdr, data), "capget");
	out("caps: effective=%x,%x permitted=%x,%x\n", data[0].effective, data[1].effective, data[0].permitted, data[1].permitted);
}

static void *map_locked(unsigned long pages)
{
	return mmap(NULL, pages * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("memlock", usage);
	if (argc > 1)
		usage_error("takes no arguments");
	psz = page_size();
	drop_caps();

	struct rlimit rl = { .rlim_cur = 16 * psz, .rlim_max = 16 * psz };
	must(setrlimit(RLIMIT_MEMLOCK, &rl), "setrlimit");
	must(getrlimit(RLIMIT_MEMLOCK, &rl), "getrlimit");
	out("limit: cur=%lu max=%lu vmlck=%ld\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max, vmlck_kb());

	char *a = map_or_die(NULL, 64 * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap");
	const char *r1, *r2;
	r1 = ok_or_errno(mlock(a, 16 * psz));
	out("mlock 16 pages: %s vmlck=%ld\n", r1, vmlck_kb());
	r1 = ok_or_errno(mlock(a + 16 * psz, psz));
	out("mlock 1 more page: %s vmlck=%ld\n", r1, vmlck_kb());
	/* Pages locked already are subtracted when the sum is over the limit. */
	r1 = ok_or_errno(mlock(a, 16 * psz));
	r2 = ok_or_errno(mlock(a + psz, 16 * psz));
	out("mlock the 16 again: %s; 15 of them and 1 new: %s vmlck=%ld\n", r1, r2, vmlck_kb());
	r1 = ok_or_errno(munlock(a, 8 * psz));
	out("munlock 8 pages: %s vmlck=%ld\n", r1, vmlck_kb());

	void *b = map_locked(8);
	out("mmap MAP_LOCKED 8 pages: %s vmlck=%ld\n", ok_or_errno(b == MAP_FAILED ? -1 : 0), vmlck_kb());
	void *c = map_locked(1);
	out("mmap MAP_LOCKED 1 more page: %s\n", ok_or_errno(c == MAP_FAILED ? -1 : 0));
	if (b != MAP_FAILED) {
		void *r = mremap(b, 8 * psz, 9 * psz, MREMAP_MAYMOVE);
		out("mremap locked 8 -> 9 pages: %s\n", ok_or_errno(r == MAP_FAILED ? -1 : 0));
		unmap_or_die(b, 8 * psz, "munmap");
		out("munmap the locked mapping: vmlck=%ld\n", vmlck_kb());
	}
	r1 = ok_or_errno(mlockall(MCL_CURRENT));
	out("mlockall current: %s vmlck=%ld\n", r1, vmlck_kb());

	struct rlimit up = { .rlim_cur = 16 * psz, .rlim_max = 32 * psz };
	r1 = ok_or_errno(setrlimit(RLIMIT_MEMLOCK, &up));
	out("raise max: %s\n", r1);
	struct rlimit lower = { .rlim_cur = 8 * psz, .rlim_max = 16 * psz }, old;
	long pr = syscall(SYS_prlimit64, 0, RLIMIT_MEMLOCK, &lower, &old);
	must(getrlimit(RLIMIT_MEMLOCK, &rl), "getrlimit");
	out("prlimit64: %s old=%lu/%lu new=%lu/%lu\n", ok_or_errno(pr), (unsigned long)old.rlim_cur, (unsigned long)old.rlim_max,
	    (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	/* Over the new, lower limit already: nothing more can be locked, unlocking still works. */
	r1 = ok_or_errno(mlock(a + 40 * psz, psz));
	out("mlock 1 page over the lowered limit: %s\n", r1);

	pid_t pid = must(fork(), "fork");
	if (pid == 0) {
		struct rlimit crl;
		getrlimit(RLIMIT_MEMLOCK, &crl);
		long before = vmlck_kb();
		const char *cr = ok_or_errno(mlock(a + 48 * psz, 8 * psz));
		out("child: vmlck=%ld limit=%lu mlock 8 pages: %s vmlck=%ld\n", before, (unsigned long)crl.rlim_cur, cr, vmlck_kb());
		_exit(0);
	}
	int status;
	must(waitpid(pid, &status, 0), "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("child failed");

	struct rlimit zero = { 0, 0 };
	must(setrlimit(RLIMIT_MEMLOCK, &zero), "setrlimit 0");
	const char *zl = ok_or_errno(mlock(a + 50 * psz, psz));
	void *z = map_locked(1);
	const char *zm = ok_or_errno(z == MAP_FAILED ? -1 : 0);
	const char *zu = ok_or_errno(munlock(a, 64 * psz));
	const char *zall = ok_or_errno(munlockall());
	out("zero limit: mlock %s MAP_LOCKED %s munlock %s munlockall %s vmlck=%ld\n", zl, zm, zu, zall, vmlck_kb());
	return 0;
}
