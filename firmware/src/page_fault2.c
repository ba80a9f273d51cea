/*
 * page_fault2: port of will-it-scale page_fault2 ("Separate file private mapping page fault").
 * Private mapping of a sparse /tmp file: every store is a copy-on-write fault (do_cow_fault).
 */
#include "page_fault.h"

int main(int argc, char **argv)
{
	return page_fault_main("page_fault2", PF_FILE_PRIVATE, argc, argv);
}
