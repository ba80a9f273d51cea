/*
 * common.h: what every contpte-lab guest program shares: output through write(2) (no stdio
 * buffering, so each line is one write and lines from raw writes keep their order), argument
 * parsing with clear usage errors, 2 MiB-aligned mappings, and temporary files.
 */
#ifndef FIRMWARE_COMMON_H
#define FIRMWARE_COMMON_H

#include <errno.h>
#include <stddef.h>

/* Exit codes: 0 success, 1 the program found something wrong, 2 bad arguments. */
#define EXIT_BROKEN 1
#define EXIT_USAGE 2

/* Name and usage line of the running program, set once by program_init(). */
void program_init(const char *name, const char *usage);

/* printf-like, one write(2) to stdout (or stderr) per call; fails the program if it cannot. */
void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "<program>: <message>" on stderr, then exit(EXIT_BROKEN). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* "<program>: <message>" and the usage line on stderr, then exit(EXIT_USAGE). */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * A size in bytes: decimal or 0x hex, optional K/M/G suffix (powers of 1024, "128M", "16M").
 * `what` names the argument in the error message.
 */
unsigned long parse_size(const char *text, const char *what);
/* A plain count: decimal or 0x hex, no suffix. */
unsigned long parse_count(const char *text, const char *what);
/* One word out of a NULL-terminated list; returns its index. */
int parse_choice(const char *text, const char *what, const char *const *choices);

unsigned long page_size(void);
/* A size that must be a positive multiple of the page size. */
void check_page_multiple(unsigned long size, const char *what);
/* An alignment: 0 (none) or a power of two that is at least the page size. */
void check_alignment(unsigned long align, const char *what);

/*
 * A free address range of `size` bytes aligned to `align`, for later MAP_FIXED mappings: reserve
 * size + align bytes, pick the aligned start, give the whole reservation back. Real kernels
 * already align large anonymous and file mappings to 2 MiB (thp_get_unmapped_area); doing it
 * here makes the alignment independent of where an mmap implementation happens to place things.
 */
void *reserve_aligned_window(unsigned long size, unsigned long align);

/* mmap that dies with a message on failure; addr != NULL means MAP_FIXED at addr. */
void *map_or_die(void *addr, unsigned long size, int prot, int flags, int fd, const char *what);
void unmap_or_die(void *addr, unsigned long size, const char *what);

/*
 * A new file in /tmp like will-it-scale's (mkstemp on "/tmp/willitscale.XXXXXX"), already
 * unlinked so nothing is left behind; returns its descriptor.
 */
int make_unlinked_tmp_file(void);

/* Writes all of buf, or dies. */
void write_all(int fd, const void *buf, size_t len, const char *what);

/* "ENOENT" for ENOENT, "E<number>" for errnos this table does not know. */
const char *errno_name(int e);

/* r, unless a call returned -1: then death with "<what> failed: <errno name>". Inline, so that
 * the programs that do not use it keep their code where it was. */
static inline long must(long r, const char *what)
{
	if (r == -1)
		die("%s failed: %s", what, errno_name(errno));
	return r;
}

/* "ok", or the errno name of a call that returned -1; errno is read at once, so call it once
 * per result and keep the string. */
static inline const char *ok_or_errno(long r)
{
	return r == -1 ? errno_name(errno) : "ok";
}

#endif /* FIRMWARE_COMMON_H */
