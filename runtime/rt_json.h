/*
 * JSON output shared by the trace writers and the driver's reports.
 */
#ifndef NNAC_RT_JSON_H
#define NNAC_RT_JSON_H

#include <stdio.h>

/* s as a JSON string, quotes included: '"' and '\\' escaped, control
 * characters as \uXXXX, other bytes (UTF-8 included) as they are. */
void rt_json_string(FILE *f, const char *s);

#endif
