/*
 * The checks of the cpu loader's ELF inspection (runtime/elf_check.h),
 * run by nnac-bundletest (tests/elf_test.c).  dir: a scratch folder.
 */
#ifndef NNAC_ELF_TEST_H
#define NNAC_ELF_TEST_H

void elf_tests(const char *dir);

#endif
