/*
 * page_fault.h: the will-it-scale page_fault1/2/3 loop, shared by the three ports.
 *
 * Follows antonblanchard/will-it-scale tests/page_fault{1,2,3}.c (@040e50f): per iteration,
 * mmap MEMSIZE bytes, store one byte to every page (one counted op per store, so one op per
 * write fault), munmap. The ports run a fixed number of iterations instead of forever, take the
 * size as an argument (default 128 MiB, the original MEMSIZE) and, by default, place every
 * mapping at the same 2 MiB-aligned address.
 */
#ifndef FIRMWARE_PAGE_FAULT_H
#define FIRMWARE_PAGE_FAULT_H

#include <sys/mman.h>

#include "common.h"

enum page_fault_kind {
	PF_ANON_PRIVATE, /* page_fault1: MAP_PRIVATE|MAP_ANONYMOUS */
	PF_FILE_PRIVATE, /* page_fault2: MAP_PRIVATE of a sparse /tmp file (copy-on-write writes) */
	PF_FILE_SHARED,  /* page_fault3: MAP_SHARED of a sparse /tmp file (shared write faults) */
};

/* The mmap flags of each kind (wis_harness maps the same three). */
static inline int page_fault_map_flags(enum page_fault_kind kind)
{
	switch (kind) {
	case PF_ANON_PRIVATE:
		return MAP_PRIVATE | MAP_ANONYMOUS;
	case PF_FILE_PRIVATE:
		return MAP_PRIVATE;
	case PF_FILE_SHARED:
		return MAP_SHARED;
	}
	die("unknown page fault kind %d", (int)kind);
}

/* Parses [size [iterations [align]]], runs the loop between markers, prints one line. */
int page_fault_main(const char *name, enum page_fault_kind kind, int argc, char **argv);

#endif /* FIRMWARE_PAGE_FAULT_H */
