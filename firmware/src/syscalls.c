/*
 * syscalls: exercises the system calls a static arm64 program needs, one line per check, and
 * prints only what is the same on every correct Linux (qemu-aarch64 included): outcomes as "ok"
 * or errno names, sizes, and contents it wrote and read back; never pids, times, addresses, fd
 * numbers the environment chooses, or random bytes. Calls go through syscall(2) so the system
 * call made is exactly the one named (glibc would pick vDSO clocks or newer variants).
 *
 * When an outcome is not the expected one the program says so on stderr and exits with 1; the
 * lines printed up to then show how far it got.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "(no arguments)";

/*
 * syscall(2) is variadic and the kernel reads whole 64-bit registers, so a negative or 64-bit
 * argument must be passed as a long: an int -1 would arrive as 0x00000000ffffffff.
 */
#define CWD ((long)AT_FDCWD)

/* The kernel's struct sigaction on arm64 (SA_RESTORER is defined there, so it has the field). */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

/* The kernel's sigset_t on arm64 is 64 bits: rt_sig* calls take 8 as their size. */
#define KERNEL_SIGSET_SIZE 8

/* A call that must succeed: returns its result, or ends the program naming the errno. */
/* A call that must fail with `e`: prints "<what>: <ENAME>". */
static void expect_errno(long r, int e, const char *what)
{
	int got = errno;

	if (r != -1) {
		out("%s: ok\n", what);
		die("%s succeeded (returned %ld), expected %s", what, r, errno_name(e));
	}
	out("%s: %s\n", what, errno_name(got));
	if (got != e)
		die("%s failed with %s, expected %s", what, errno_name(got), errno_name(e));
}

static void check(int condition, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int condition, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (condition)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	die("check failed: %s", buf);
}

static void handler(int sig)
{
	(void)sig;
}

static void exercise_output(void)
{
	static const char line[] = "write: ok\n";
	static char part1[] = "writev: ok,", part2[] = " 2 buffers\n";
	struct iovec iov[2] = { { part1, strlen(part1) }, { part2, strlen(part2) } };

	check(must(syscall(SYS_write, 1, line, strlen(line)), "write(stdout)") == (long)strlen(line),
	      "write returned a short count");
	check(must(syscall(SYS_writev, 1, iov, 2), "writev(stdout)") == (long)(strlen(part1) + strlen(part2)),
	      "writev returned a short count");
	expect_errno(syscall(SYS_write, -1L, line, 1), EBADF, "write(fd -1)");
}

static void exercise_identity(void)
{
	long pid = must(syscall(SYS_getpid), "getpid");
	long tid = must(syscall(SYS_gettid), "gettid");
	static int clear_child_tid;
	struct {
		void *next;
		long offset;
		void *pending;
	} robust_head = { &robust_head, 0, NULL };
	long uid = must(syscall(SYS_getuid), "getuid"), euid = must(syscall(SYS_geteuid), "geteuid");
	long gid = must(syscall(SYS_getgid), "getgid"), egid = must(syscall(SYS_getegid), "getegid");
	struct utsname u;

	check(pid > 0, "getpid returned %ld", pid);
	out("getpid: ok\n");
	check(tid == pid, "gettid differs from getpid in a single-threaded process");
	out("gettid: ok, equals getpid\n");
	check(must(syscall(SYS_set_tid_address, &clear_child_tid), "set_tid_address") == tid,
	      "set_tid_address did not return the tid");
	out("set_tid_address: ok, returns the tid\n");
	/* Linux answers 0, qemu-user ENOSYS (it does not emulate robust futexes): only call it. */
	(void)syscall(SYS_set_robust_list, &robust_head, sizeof(robust_head));
	out("set_robust_list: called\n");
	check(uid == euid && gid == egid, "real and effective ids differ");
	out("getuid/geteuid/getgid/getegid: ok, uid == euid, gid == egid\n");
	must(syscall(SYS_uname, &u), "uname");
	out("uname: ok, sysname %s, machine %s\n", u.sysname, u.machine);
}

static void exercise_time(void)
{
	struct timespec a, b, sleep = { 0, 1000000 }, bad = { 0, 2000000000 };
	struct timeval tv;

	must(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a), "clock_gettime(CLOCK_MONOTONIC)");
	must(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b), "clock_gettime(CLOCK_MONOTONIC)");
	check(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec),
	      "CLOCK_MONOTONIC went backwards");
	out("clock_gettime(CLOCK_MONOTONIC): ok, does not go backwards\n");
	must(syscall(SYS_clock_gettime, CLOCK_REALTIME, &a), "clock_gettime(CLOCK_REALTIME)");
	check(a.tv_nsec >= 0 && a.tv_nsec < 1000000000, "tv_nsec out of range");
	out("clock_gettime(CLOCK_REALTIME): ok\n");
	expect_errno(syscall(SYS_clock_gettime, 100, &a), EINVAL, "clock_gettime(clock 100)");
	must(syscall(SYS_gettimeofday, &tv, NULL), "gettimeofday");
	check(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec out of range");
	out("gettimeofday: ok\n");
	must(syscall(SYS_nanosleep, &sleep, NULL), "nanosleep(1 ms)");
	out("nanosleep(1 ms): ok\n");
	expect_errno(syscall(SYS_nanosleep, &bad, NULL), EINVAL, "nanosleep(tv_nsec 2000000000)");
}

static void exercise_process(void)
{
	unsigned char random[16];
	struct rlimit lim;
	char exe[4096], cwd[4096];
	long n;
	const char *base;
	unsigned long mask[16];
	int cpus = 0;

	check(must(syscall(SYS_getrandom, random, sizeof(random), 0), "getrandom") == sizeof(random),
	      "getrandom returned a short count");
	out("getrandom(16): ok, 16 bytes\n");
	must(syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &lim), "prlimit64(RLIMIT_STACK)");
	check(lim.rlim_cur <= lim.rlim_max, "soft stack limit above the hard limit");
	out("prlimit64(RLIMIT_STACK): ok, soft <= hard\n");
	n = must(syscall(SYS_readlinkat, CWD, "/proc/self/exe", exe, sizeof(exe) - 1),
		 "readlinkat(/proc/self/exe)");
	exe[n] = '\0';
	base = strrchr(exe, '/');
	out("readlinkat(/proc/self/exe): ok, absolute: %s, basename %s\n", exe[0] == '/' ? "yes" : "no",
	    base != NULL ? base + 1 : exe);
	must(syscall(SYS_getcwd, cwd, sizeof(cwd)), "getcwd");
	out("getcwd: ok, absolute: %s\n", cwd[0] == '/' ? "yes" : "no");
	expect_errno(syscall(SYS_getcwd, cwd, 1), ERANGE, "getcwd(size 1)");
	n = must(syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask), "sched_getaffinity");
	for (long i = 0; i < n / (long)sizeof(mask[0]); i++)
		cpus += __builtin_popcountl(mask[i]);
	check(cpus > 0, "no cpu in the affinity mask");
	out("sched_getaffinity: ok, at least one cpu\n");
}

static void exercise_signals(void)
{
	struct kernel_sigaction act = { handler, 0, NULL, 0 }, old, now;
	unsigned long block = 1UL << (SIGUSR2 - 1), before, during, after;

	must(syscall(SYS_rt_sigaction, SIGUSR1, &act, &old, KERNEL_SIGSET_SIZE), "rt_sigaction(SIGUSR1)");
	must(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &now, KERNEL_SIGSET_SIZE), "rt_sigaction(SIGUSR1)");
	check(old.handler == SIG_DFL, "SIGUSR1 did not start with SIG_DFL");
	check(now.handler == handler, "the installed handler did not read back");
	must(syscall(SYS_rt_sigaction, SIGUSR1, &old, NULL, KERNEL_SIGSET_SIZE), "rt_sigaction(SIGUSR1)");
	out("rt_sigaction(SIGUSR1): ok, was SIG_DFL, handler read back, restored\n");
	expect_errno(syscall(SYS_rt_sigaction, SIGKILL, &act, NULL, KERNEL_SIGSET_SIZE), EINVAL,
		     "rt_sigaction(SIGKILL)");

	must(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, &before, KERNEL_SIGSET_SIZE), "rt_sigprocmask");
	must(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &during, KERNEL_SIGSET_SIZE), "rt_sigprocmask");
	must(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, NULL, KERNEL_SIGSET_SIZE), "rt_sigprocmask");
	must(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &after, KERNEL_SIGSET_SIZE), "rt_sigprocmask");
	check((during & block) != 0, "SIGUSR2 was not blocked");
	check(after == before, "the signal mask was not restored");
	out("rt_sigprocmask: ok, SIGUSR2 blocked, mask restored\n");
}

/* Data written with write(2) reads back through lseek/read, fstat and a shared mapping. */
static void exercise_file(const char *path)
{
	static const char data[] = "0123456789abcdef";
	char buf[32];
	struct stat st;
	struct statx stx;
	unsigned char tio[64]; /* the kernel's struct termios is 36 bytes */
	char *map;
	long fd, dup;

	fd = must(syscall(SYS_openat, CWD, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600),
		  "openat(O_CREAT|O_EXCL)");
	out("openat(O_CREAT|O_EXCL): ok\n");
	expect_errno(syscall(SYS_openat, CWD, path, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST,
		     "openat(O_CREAT|O_EXCL) again");
	expect_errno(syscall(SYS_openat, CWD, "/nonexistent/contpte-lab", O_RDONLY), ENOENT,
		     "openat(missing path)");

	check(must(syscall(SYS_write, fd, data, 16), "write(file)") == 16, "short write to the file");
	out("write(file): ok, 16 bytes\n");
	check(must(syscall(SYS_lseek, fd, 0, SEEK_CUR), "lseek(SEEK_CUR)") == 16, "SEEK_CUR is not 16");
	check(must(syscall(SYS_lseek, fd, 0, SEEK_END), "lseek(SEEK_END)") == 16, "SEEK_END is not 16");
	check(must(syscall(SYS_lseek, fd, 4, SEEK_SET), "lseek(SEEK_SET)") == 4, "SEEK_SET is not 4");
	out("lseek: ok, SEEK_CUR 16, SEEK_END 16, SEEK_SET 4\n");
	expect_errno(syscall(SYS_lseek, fd, -1L, SEEK_SET), EINVAL, "lseek(offset -1)");
	check(must(syscall(SYS_read, fd, buf, 6), "read(file)") == 6, "short read");
	buf[6] = '\0';
	out("read(file): ok, 6 bytes \"%s\"\n", buf);

	must(syscall(SYS_ftruncate, fd, 8192), "ftruncate(8192)");
	must(syscall(SYS_fstat, fd, &st), "fstat");
	check(S_ISREG(st.st_mode), "fstat: not a regular file");
	out("ftruncate(8192): ok; fstat: ok, regular file, size %ld\n", (long)st.st_size);
	must(syscall(SYS_lseek, fd, 100, SEEK_SET), "lseek(100)");
	check(must(syscall(SYS_read, fd, buf, 4), "read(hole)") == 4, "short read in the hole");
	check(buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0, "the hole does not read zeros");
	out("read(hole): ok, zeros\n");
	must(syscall(SYS_newfstatat, CWD, path, &st, 0), "newfstatat");
	out("newfstatat: ok, size %ld\n", (long)st.st_size);
	must(syscall(SYS_statx, CWD, path, 0, STATX_TYPE | STATX_SIZE, &stx), "statx");
	check((stx.stx_mask & STATX_SIZE) != 0 && S_ISREG(stx.stx_mode), "statx: no size or not regular");
	out("statx: ok, regular file, size %llu\n", (unsigned long long)stx.stx_size);

	map = (char *)must(syscall(SYS_mmap, NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0L),
			   "mmap(file, MAP_SHARED)");
	check(map[0] == '0' && map[15] == 'f', "the mapping does not show the written data");
	memcpy(map + 4096, "mapped", 6);
	must(syscall(SYS_munmap, map, 8192), "munmap(file)");
	must(syscall(SYS_lseek, fd, 4096, SEEK_SET), "lseek(4096)");
	check(must(syscall(SYS_read, fd, buf, 6), "read(4096)") == 6 && memcmp(buf, "mapped", 6) == 0,
	      "a store through the shared mapping is not visible to read()");
	out("mmap(file, MAP_SHARED): ok, sees write(), its store seen by read()\n");

	expect_errno(syscall(SYS_ioctl, fd, TCGETS, tio), ENOTTY, "ioctl(file, TCGETS)");
	/* stdout is a terminal or not depending on how the program is run: only make the call. */
	(void)syscall(SYS_ioctl, 1, TCGETS, tio);
	out("ioctl(stdout, TCGETS): called\n");

	check(must(syscall(SYS_fcntl, fd, F_GETFD), "fcntl(F_GETFD)") == FD_CLOEXEC, "O_CLOEXEC not set");
	must(syscall(SYS_fcntl, fd, F_SETFD, 0), "fcntl(F_SETFD, 0)");
	check(must(syscall(SYS_fcntl, fd, F_GETFD), "fcntl(F_GETFD)") == 0, "FD_CLOEXEC not cleared");
	check((must(syscall(SYS_fcntl, fd, F_GETFL), "fcntl(F_GETFL)") & O_ACCMODE) == O_RDWR,
	      "F_GETFL: not O_RDWR");
	out("fcntl: ok, FD_CLOEXEC set then cleared, O_RDWR\n");
	dup = must(syscall(SYS_dup3, fd, 100, O_CLOEXEC), "dup3(fd, 100, O_CLOEXEC)");
	check(dup == 100, "dup3 returned another descriptor");
	check(must(syscall(SYS_fcntl, 100, F_GETFD), "fcntl(100, F_GETFD)") == FD_CLOEXEC,
	      "dup3 did not set FD_CLOEXEC");
	check(must(syscall(SYS_lseek, 100, 0, SEEK_END), "lseek(100, SEEK_END)") == 8192,
	      "the duplicate does not see the same file");
	out("dup3(fd, 100, O_CLOEXEC): ok, 100, FD_CLOEXEC, same file\n");
	expect_errno(syscall(SYS_dup3, fd, fd, 0), EINVAL, "dup3(fd, fd)");
	must(syscall(SYS_close, 100), "close(100)");

	must(syscall(SYS_unlinkat, CWD, path, 0), "unlinkat");
	out("unlinkat: ok\n");
	expect_errno(syscall(SYS_newfstatat, CWD, path, &st, 0), ENOENT, "newfstatat(unlinked)");
	expect_errno(syscall(SYS_unlinkat, CWD, path, 0), ENOENT, "unlinkat(unlinked)");
	must(syscall(SYS_close, fd), "close");
	out("close: ok\n");
	expect_errno(syscall(SYS_close, fd), EBADF, "close(closed fd)");
	expect_errno(syscall(SYS_read, fd, buf, 1), EBADF, "read(closed fd)");
}

static void exercise_memory(void)
{
	unsigned long pg = page_size();
	volatile unsigned char *m;
	unsigned long cur, grown;
	int zeros = 1;

	m = (volatile unsigned char *)must(syscall(SYS_mmap, NULL, 4 * pg, PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L),
					  "mmap(anonymous)");
	for (unsigned long i = 0; i < 4 * pg; i += 64)
		zeros &= m[i] == 0;
	check(zeros, "fresh anonymous memory is not zero");
	for (unsigned long p = 0; p < 4; p++)
		m[p * pg] = (unsigned char)(0xA0 + p);
	out("mmap(anonymous, 4 pages): ok, zero-filled, writable\n");
	expect_errno(syscall(SYS_mmap, NULL, pg, PROT_READ, MAP_ANONYMOUS, -1L, 0L), EINVAL,
		     "mmap(neither shared nor private)");

	must(syscall(SYS_mprotect, m + pg, pg, PROT_READ), "mprotect(PROT_READ)");
	check(m[pg] == 0xA1, "a read-only page lost its data");
	must(syscall(SYS_mprotect, m + pg, pg, PROT_READ | PROT_WRITE), "mprotect(PROT_READ|PROT_WRITE)");
	m[pg] = 0xB1;
	out("mprotect: ok, read-only then writable again, data kept\n");
	expect_errno(syscall(SYS_mprotect, m + 1, pg, PROT_READ), EINVAL, "mprotect(unaligned)");

	must(syscall(SYS_madvise, m, 4 * pg, MADV_WILLNEED), "madvise(MADV_WILLNEED)");
	check(m[0] == 0xA0 && m[3 * pg] == 0xA3, "madvise(MADV_WILLNEED) changed the data");
	out("madvise(MADV_WILLNEED): ok, data kept\n");
	/* Private anonymous pages are dropped: the next load faults in a zero page. */
	must(syscall(SYS_madvise, m + 2 * pg, pg, MADV_DONTNEED), "madvise(MADV_DONTNEED)");
	check(m[2 * pg] == 0, "page 2 kept its data after MADV_DONTNEED");
	check(m[pg] == 0xB1 && m[3 * pg] == 0xA3, "MADV_DONTNEED of page 2 changed its neighbours");
	out("madvise(MADV_DONTNEED, page 2): ok, page 2 reads zero, neighbours kept\n");
	expect_errno(syscall(SYS_madvise, m + 1, pg, MADV_WILLNEED), EINVAL, "madvise(unaligned)");

	must(syscall(SYS_munmap, m + 2 * pg, 2 * pg), "munmap(last 2 pages)");
	check(m[pg] == 0xB1, "munmap of the tail changed the head");
	must(syscall(SYS_munmap, m, 2 * pg), "munmap(first 2 pages)");
	out("munmap: ok, in two parts\n");
	expect_errno(syscall(SYS_munmap, m + 1, pg), EINVAL, "munmap(unaligned)");

	/* No output between growing and shrinking: nothing may allocate from the heap meanwhile. */
	cur = (unsigned long)syscall(SYS_brk, 0L);
	grown = (unsigned long)syscall(SYS_brk, cur + 65536);
	if (grown == cur + 65536) {
		((volatile char *)cur)[0] = 1;
		((volatile char *)cur)[65535] = 2;
		check(((volatile char *)cur)[0] + ((volatile char *)cur)[65535] == 3, "brk memory lost a store");
	}
	check(grown == cur + 65536, "brk did not grow by 65536 bytes");
	check((unsigned long)syscall(SYS_brk, cur) == cur, "brk did not shrink back");
	out("brk: ok, grew 65536 bytes, wrote them, shrank back\n");
}

static void exercise_memfd(void)
{
	static const char text[] = "memfd contents\n";
	char buf[32];
	struct stat st;
	long fd = must(syscall(SYS_memfd_create, "contpte-lab", MFD_CLOEXEC), "memfd_create");
	long len = (long)strlen(text);

	check(must(syscall(SYS_write, fd, text, len), "write(memfd)") == len, "short write to the memfd");
	must(syscall(SYS_lseek, fd, 0, SEEK_SET), "lseek(memfd)");
	check(must(syscall(SYS_read, fd, buf, sizeof(buf)), "read(memfd)") == len && memcmp(buf, text, len) == 0,
	      "the memfd did not read back what was written");
	must(syscall(SYS_fstat, fd, &st), "fstat(memfd)");
	check(st.st_size == len, "memfd size is not %ld", len);
	must(syscall(SYS_close, fd), "close(memfd)");
	out("memfd_create: ok, wrote and read back %ld bytes, size %ld\n", len, (long)st.st_size);
}

int main(int argc, char **argv)
{
	char path[64];

	(void)argv;
	program_init("syscalls", usage);
	if (argc > 1)
		usage_error("takes no arguments");
	/* Unique per run without printing anything that varies: the pid is only in the name. */
	snprintf(path, sizeof(path), "/tmp/contpte-lab-syscalls.%ld", (long)syscall(SYS_getpid));

	exercise_output();
	exercise_identity();
	exercise_time();
	exercise_process();
	exercise_signals();
	exercise_file(path);
	exercise_memory();
	exercise_memfd();
	out("exit_group: 0\n");
	syscall(SYS_exit_group, 0);
	die("exit_group returned");
}
