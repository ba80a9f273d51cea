/*
 * page_fault1: port of will-it-scale page_fault1 ("Anonymous memory page fault"). Private
 * anonymous memory: every store faults in a fresh zeroed page (do_anonymous_page).
 */
#include "page_fault.h"

int main(int argc, char **argv)
{
	return page_fault_main("page_fault1", PF_ANON_PRIVATE, argc, argv);
}
