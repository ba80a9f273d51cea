/* common.c: helpers shared by the contpte-lab guest programs (see common.h). */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *program_name = "firmware";
static const char *program_usage = "";

void program_init(const char *name, const char *usage)
{
	program_name = name;
	program_usage = usage;
}

void write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Nowhere left to report to if stderr itself fails; exit with the code anyway. */
			if (fd != 2)
				die("write(%s) failed: %s", what, errno_name(errno));
			_exit(EXIT_BROKEN);
		}
		p += n;
		len -= (size_t)n;
	}
}

static void vwrite_line(int fd, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1; /* a longer line is a bug in the caller; keep what fits */
	write_all(fd, buf, (size_t)n, fd == 1 ? "stdout" : "stderr");
}

void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwrite_line(1, fmt, ap);
	va_end(ap);
}

void err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwrite_line(2, fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	err("%s: %s\n", program_name, buf);
	exit(EXIT_BROKEN);
}

void usage_error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	err("%s: %s\nusage: %s %s\n", program_name, buf, program_name, program_usage);
	exit(EXIT_USAGE);
}

/* Digits in base 10 or 16 with overflow checks; strtoul would also take octal and signs. */
static int parse_number(const char *text, unsigned long *value, const char **rest)
{
	const char *p = text;
	unsigned long base = 10, v = 0;
	int digits = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, digits++) {
		unsigned long d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned long)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned long)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned long)(*p - 'A' + 10);
		else
			break;
		if (v > (~0UL - d) / base)
			return -1;
		v = v * base + d;
	}
	*value = v;
	*rest = p;
	return digits > 0 ? 0 : -1;
}

unsigned long parse_size(const char *text, const char *what)
{
	unsigned long v;
	const char *rest;
	unsigned shift = 0;

	if (parse_number(text, &v, &rest) != 0)
		usage_error("%s: '%s' is not a size (expected bytes in decimal or 0x hex, optionally with K, M or G)", what, text);
	switch (*rest) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		usage_error("%s: '%s' has an unknown suffix (expected K, M or G)", what, text);
	}
	if (shift != 0 && rest[1] != '\0')
		usage_error("%s: '%s' has trailing characters after the suffix", what, text);
	if (v > (~0UL >> shift))
		usage_error("%s: '%s' is too large", what, text);
	return v << shift;
}

unsigned long parse_count(const char *text, const char *what)
{
	unsigned long v;
	const char *rest;

	if (parse_number(text, &v, &rest) != 0 || *rest != '\0')
		usage_error("%s: '%s' is not a count (expected a decimal or 0x hex number)", what, text);
	return v;
}

int parse_choice(const char *text, const char *what, const char *const *choices)
{
	char list[256] = "";

	for (int i = 0; choices[i] != NULL; i++) {
		if (strcmp(text, choices[i]) == 0)
			return i;
		if (i > 0)
			strncat(list, "|", sizeof(list) - strlen(list) - 1);
		strncat(list, choices[i], sizeof(list) - strlen(list) - 1);
	}
	usage_error("%s: '%s' is not one of %s", what, text, list);
}

unsigned long page_size(void)
{
	return (unsigned long)getpagesize();
}

void check_page_multiple(unsigned long size, const char *what)
{
	if (size == 0 || size % page_size() != 0)
		usage_error("%s: %lu is not a positive multiple of the page size (%lu)", what, size, page_size());
}

void check_alignment(unsigned long align, const char *what)
{
	if (align != 0 && ((align & (align - 1)) != 0 || align < page_size()))
		usage_error("%s: %lu is not 0 or a power of two of at least the page size (%lu)", what, align, page_size());
}

void *map_or_die(void *addr, unsigned long size, int prot, int flags, int fd, const char *what)
{
	void *p = mmap(addr, size, prot, flags | (addr != NULL ? MAP_FIXED : 0), fd, 0);

	if (p == MAP_FAILED)
		die("mmap(%s, %lu bytes) failed: %s", what, size, errno_name(errno));
	return p;
}

void unmap_or_die(void *addr, unsigned long size, const char *what)
{
	if (munmap(addr, size) != 0)
		die("munmap(%s, %lu bytes) failed: %s", what, size, errno_name(errno));
}

void *reserve_aligned_window(unsigned long size, unsigned long align)
{
	unsigned long span = size + align;
	char *base = map_or_die(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				"aligned reservation");
	unsigned long start = ((unsigned long)base + align - 1) & ~(align - 1);

	unmap_or_die(base, span, "aligned reservation");
	return (void *)start;
}

int make_unlinked_tmp_file(void)
{
	char path[] = "/tmp/willitscale.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp(/tmp/willitscale.XXXXXX) failed: %s", errno_name(errno));
	if (unlink(path) != 0)
		die("unlink(temporary file) failed: %s", errno_name(errno));
	return fd;
}

const char *errno_name(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ EPERM, "EPERM" },   { ENOENT, "ENOENT" }, { EINTR, "EINTR" },   { EIO, "EIO" },
		{ EBADF, "EBADF" },   { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" },
		{ EFAULT, "EFAULT" }, { EEXIST, "EEXIST" }, { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { EFBIG, "EFBIG" },
		{ ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" }, { EROFS, "EROFS" },   { ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { ENOSYS, "ENOSYS" }, { EOVERFLOW, "EOVERFLOW" },
		{ EOPNOTSUPP, "EOPNOTSUPP" },
	};
	static char other[16];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(other, sizeof(other), "E%d", e);
	return other;
}
