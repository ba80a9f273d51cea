/*
 * code_write: code that the kernel writes into memory, not the program's own stores. Small
 * functions ("mov w0, #n; ret") reach an executable page through read(2), through pwrite(2) on
 * /proc/self/mem, through a new mapping at an address where other code ran before, and through
 * write(2) to a file that is mapped shared and executable. After each write the program cleans
 * the caches for the range (__builtin___clear_cache, as any loader or JIT must on arm64) and
 * calls the function there. Linux and qemu-aarch64 return the new function's value every time;
 * an emulator that kept its translation of the old bytes would return the old one.
 *
 *   code_write           every step
 *   code_write nomem     every step but /proc/self/mem (qemu-user has no such file for its guest)
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

/* One function per page of the file: page n returns n. */
#define FUNCTIONS 8

typedef int (*function)(void);

static unsigned long page;

/* The two instructions of "mov w0, #value; ret" (A64 MOVZ, 32-bit, and RET x30). */
static void encode(uint32_t code[2], unsigned value)
{
	code[0] = 0x52800000u | (value << 5);
	code[1] = 0xd65f03c0u;
}

static int call(void *at)
{
	__builtin___clear_cache((char *)at, (char *)at + 8);
	return ((function)at)();
}

static void read_function(int fd, void *into, unsigned n)
{
	ssize_t got = pread(fd, into, 8, (off_t)(n * page));
	if (got != 8)
		die("pread of function %u returned %ld", n, (long)got);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "all", "nomem", NULL };
	program_init("code_write", "[all|nomem]");
	int mode = argc > 1 ? parse_choice(argv[1], "mode", modes) : 0;
	if (argc > 2)
		usage_error("too many arguments");
	page = page_size();

	/* The file: page n holds function n. */
	int fd = make_unlinked_tmp_file();
	uint32_t code[2];
	for (unsigned n = 0; n < FUNCTIONS; n++) {
		encode(code, n);
		if (pwrite(fd, code, sizeof(code), (off_t)(n * page)) != (ssize_t)sizeof(code))
			die("pwrite of function %u failed", n);
	}

	/* read(2) into an anonymous read-write-execute page, twice at the same address. */
	void *rwx = map_or_die(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, "rwx page");
	read_function(fd, rwx, 1);
	out("read(2), first function: %d\n", call(rwx));
	read_function(fd, rwx, 2);
	out("read(2), second function at the same address: %d\n", call(rwx));

	/* A write through /proc/self/mem (FOLL_FORCE), as a debugger plants a breakpoint. */
	if (mode == 0) {
		int mem = (int)must(open("/proc/self/mem", O_RDWR), "open /proc/self/mem");
		encode(code, 3);
		if (pwrite(mem, code, sizeof(code), (off_t)(uintptr_t)rwx) != (ssize_t)sizeof(code))
			die("pwrite to /proc/self/mem failed: %s", errno_name(errno));
		close(mem);
		out("/proc/self/mem write: %d\n", call(rwx));
	}

	/* The page goes back to the allocator, and a new one at the same address gets new code. */
	unmap_or_die(rwx, page, "rwx page");
	void *again = map_or_die(rwx, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, "rwx page again");
	read_function(fd, again, 4);
	out("a new page at the same address: %d\n", call(again));
	unmap_or_die(again, page, "rwx page again");

	/* The file mapped shared and executable; write(2) changes the page cache under it. */
	char *shared = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, (off_t)(5 * page));
	if (shared == MAP_FAILED)
		die("mmap of function 5 failed: %s", errno_name(errno));
	out("shared file mapping: %d\n", call(shared));
	encode(code, 6);
	if (pwrite(fd, code, sizeof(code), (off_t)(5 * page)) != (ssize_t)sizeof(code))
		die("pwrite over function 5 failed");
	out("after write(2) to the file: %d\n", call(shared));
	unmap_or_die(shared, page, "function 5");

	close(fd);
	return 0;
}
