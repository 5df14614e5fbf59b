/*
 * The accelerator description language (docs/arch.md): the parser
 * (arch_parse.y, arch_lex.l), files, and the presets of models/arch/NAME.arch,
 * which CMake compiles into the library so that `arch_load("eyeriss", ...)`
 * needs no data files.  What is read is an Arch (ir/arch.h).
 */
#ifndef NNAC_ARCH_LANG_H
#define NNAC_ARCH_LANG_H

#include "arch.h"

/* Parses a description; on error the Diag holds one `PATH:LINE:COL: error:
 * MSG` with the source line and a caret, and *a is not to be used. */
Status arch_parse(Arch *a, Arena *ar, Diag *d, const char *path, const char *text, size_t len);
Status arch_parse_file(Arch *a, Arena *ar, Diag *d, const char *path);
/* A preset compiled into the library by name (tpu-v1, eyeriss, ...). */
Status arch_preset(Arch *a, Arena *ar, Diag *d, const char *name);
/* A file when name_or_path holds a '/' or ends in .arch, else a preset. */
Status arch_load(Arch *a, Arena *ar, Diag *d, const char *name_or_path);

int arch_preset_count(void);
const char *arch_preset_name(int i);
/* The embedded text of preset i (for printing or tests). */
const char *arch_preset_text(int i, size_t *len);

/* For the parser: records `PATH:LINE:COL: error: MSG` with the source line
 * of text and a caret under column col (tabs kept so the caret lines up). */
Status arch_error_at(Diag *d, const char *path, const char *text, int line, int col,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
