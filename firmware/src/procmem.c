/*
 * procmem: reads and writes through /proc/self/mem, which the kernel does with get_user_pages
 * and FOLL_FORCE, one line per check (no addresses, no pids).
 *
 * Checks, in order: a forced write into a read-only private anonymous page that only maps the
 * zero page (copy-on-write broken, the byte visible to the program, and a store of the program's
 * own still raising SIGSEGV with the page unchanged); the same after mprotect to read-write and
 * back (the PTE the forced write left must not have become writable); a forced write into a
 * read-only private mapping of a file (the mapping changes, the file does not); a forced read
 * of a PROT_NONE page; a forced write into a read-only shared mapping (refused: EIO); a read of
 * an unmapped address (EIO); a read that starts mapped and runs into a hole (short); and a
 * forced write into a child's read-only page through /proc/<pid>/mem, which the child sees
 * and the parent's copy does not.
 *
 * An unexpected outcome ends the program with exit 1 and a message on stderr.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "(no arguments)";

static sigjmp_buf segv_jump;
static volatile sig_atomic_t segv_count;
static int mem_fd;
static unsigned long psz;

static void on_segv(int sig)
{
	(void)sig;
	segv_count++;
	siglongjmp(segv_jump, 1);
}

/* Stores `v` at p with a SIGSEGV handler in place; 1 if the store faulted. */
static int store_faults(volatile char *p, char v)
{
	struct sigaction sa, old;
	int faulted;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	must(sigaction(SIGSEGV, &sa, &old), "sigaction");
	faulted = sigsetjmp(segv_jump, 1);
	if (!faulted)
		*p = v;
	must(sigaction(SIGSEGV, &old, NULL), "sigaction");
	return faulted;
}

static const char *result(ssize_t r)
{
	static char buf[32];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "%zd", r);
	else
		snprintf(buf, sizeof(buf), "-1 errno=%s", errno_name(errno));
	return buf;
}

static ssize_t mem_write(int fd, void *addr, const void *buf, size_t len)
{
	return pwrite(fd, buf, len, (off_t)(uintptr_t)addr);
}

static ssize_t mem_read(int fd, void *addr, void *buf, size_t len)
{
	return pread(fd, buf, len, (off_t)(uintptr_t)addr);
}

static void zero_page_write(void)
{
	char *p = map_or_die(NULL, psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap");
	char first = p[0];
	char v = 0x5a;
	ssize_t w;

	/* lseek + write, as a debugger would do it. */
	must(lseek(mem_fd, (off_t)(uintptr_t)p, SEEK_SET), "lseek");
	w = write(mem_fd, &v, 1);
	out("zero_page: first=%d write=%s now=%d\n", first, result(w), p[0]);
	segv_count = 0;
	int faulted = store_faults(p, 0x11);
	out("zero_page: store faulted=%d segv=%d value=%d\n", faulted, (int)segv_count, p[0]);
	/* A page the program could write, made read-only and back: only mprotect may make it writable. */
	must(mprotect(p, psz, PROT_READ | PROT_WRITE), "mprotect");
	faulted = store_faults(p, 0x22);
	must(mprotect(p, psz, PROT_READ), "mprotect");
	v = 0x33;
	w = mem_write(mem_fd, p + 1, &v, 1);
	int faulted2 = store_faults(p + 1, 0x44);
	out("zero_page: rw store faulted=%d value=%d; ro write=%s store faulted=%d value=%d\n", faulted, p[0], result(w), faulted2, p[1]);
	unmap_or_die(p, psz, "munmap");
}

static void untouched_page_write(void)
{
	char *p = map_or_die(NULL, 2 * psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap");
	char buf[8] = "abcdefg";
	/* Across a page boundary, nothing mapped yet. */
	ssize_t w = mem_write(mem_fd, p + psz - 3, buf, 7);
	out("untouched: write=%s bytes=%.3s|%.4s faulted=%d\n", result(w), p + psz - 3, p + psz, store_faults(p + psz, 'X'));
	unmap_or_die(p, 2 * psz, "munmap");
}

static void file_private_write(void)
{
	int fd = make_unlinked_tmp_file();
	char page[4096];
	memset(page, 'f', sizeof(page));
	write_all(fd, page, sizeof(page), "write");
	char *p = map_or_die(NULL, psz, PROT_READ, MAP_PRIVATE, fd, "mmap file");
	char v = 'M';
	ssize_t w = mem_write(mem_fd, p + 10, &v, 1);
	char back = 0;
	must(pread(fd, &back, 1, 10), "pread file");
	out("file_private: write=%s mapping=%c%c file=%c faulted=%d\n", result(w), p[10], p[11], back, store_faults(p + 10, 'Z'));
	unmap_or_die(p, psz, "munmap");
	/* A shared read-only mapping of the same file: a forced write is refused. */
	p = map_or_die(NULL, psz, PROT_READ, MAP_SHARED, fd, "mmap shared");
	w = mem_write(mem_fd, p, &v, 1);
	out("file_shared: write=%s mapping=%c\n", result(w), p[0]);
	unmap_or_die(p, psz, "munmap");
	close(fd);
}

static void shared_anon_write(void)
{
	char *p = map_or_die(NULL, psz, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, "mmap");
	char v = 1;
	ssize_t w = mem_write(mem_fd, p, &v, 1);
	out("shared_anon: write=%s value=%d\n", result(w), p[0]);
	unmap_or_die(p, psz, "munmap");
}

static void prot_none_read(void)
{
	char *p = map_or_die(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap");
	strcpy(p, "hidden");
	must(mprotect(p, psz, PROT_NONE), "mprotect");
	char buf[8] = { 0 };
	ssize_t r = mem_read(mem_fd, p, buf, 7);
	out("prot_none: read=%s bytes=%s\n", result(r), buf);
	unmap_or_die(p, psz, "munmap");
}

static void holes(void)
{
	char *p = map_or_die(NULL, 2 * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap");
	unmap_or_die(p + psz, psz, "munmap");
	memset(p, 'h', psz);
	char buf[64];
	ssize_t r = mem_read(mem_fd, p + psz - 16, buf, sizeof(buf));
	out("hole: read across=%s", result(r));
	r = mem_read(mem_fd, p + psz, buf, sizeof(buf));
	out(" read in hole=%s", result(r));
	r = mem_write(mem_fd, p + psz, buf, sizeof(buf));
	out(" write in hole=%s\n", result(r));
	unmap_or_die(p, psz, "munmap");
}

static void child_write(void)
{
	char *p = map_or_die(NULL, psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, "mmap");
	int go[2], done[2];
	must(pipe(go), "pipe");
	must(pipe(done), "pipe");
	pid_t pid = must(fork(), "fork");
	if (pid == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(p[0] == 'C' ? 0 : 4);
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	int fd = must(open(path, O_RDWR), "open child mem");
	char v = 'C';
	ssize_t w = mem_write(fd, p, &v, 1);
	close(fd);
	must(write(go[1], "g", 1), "write pipe");
	int status;
	must(waitpid(pid, &status, 0), "waitpid");
	out("child: write=%s child_saw=%d parent=%d\n", result(w), WIFEXITED(status) && WEXITSTATUS(status) == 0, p[0]);
	unmap_or_die(p, psz, "munmap");
}

int main(int argc, char **argv)
{
	(void)argv;
	program_init("procmem", usage);
	if (argc > 1)
		usage_error("takes no arguments");
	psz = page_size();
	mem_fd = must(open("/proc/self/mem", O_RDWR), "open /proc/self/mem");
	zero_page_write();
	untouched_page_write();
	file_private_write();
	shared_anon_write();
	prot_none_read();
	holes();
	child_write();
	return 0;
}
