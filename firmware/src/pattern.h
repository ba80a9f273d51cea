/*
 * pattern.h: the byte the sweeps store in (or expect from) each page. Never zero, so a page that
 * was lost and faulted back in zero-filled is told apart from one that kept its data, and it
 * varies from page to page, so a page mapped at the wrong place is caught too.
 */
#ifndef FIRMWARE_PATTERN_H
#define FIRMWARE_PATTERN_H

static inline unsigned char page_pattern(unsigned long page)
{
	return (unsigned char)(page % 251 + 1);
}

#endif /* FIRMWARE_PATTERN_H */
