/*
 * page_fault3: port of will-it-scale page_fault3 ("Separate file shared mapping page fault").
 * Shared mapping of a sparse /tmp file: every store is a shared write fault (do_shared_fault,
 * finish_fault), the pattern of the Linux 6.9 contpte fold regression.
 */
#include "page_fault.h"

int main(int argc, char **argv)
{
	return page_fault_main("page_fault3", PF_FILE_SHARED, argc, argv);
}
