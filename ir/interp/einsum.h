/*
 * The parsed Einsum equation that the loop lowering (passes/lower_einsum.c)
 * shares with the reference kernel (einsum.c), so that both read an
 * equation the same way.
 */
#ifndef NNAC_EINSUM_H
#define NNAC_EINSUM_H

#include "op.h"

enum { EIN_LETTERS = 52, EIN_LABELS = EIN_LETTERS + MAX_RANK };

/* One input's or the output's axes as label ids: letters 'A'..'Z' are
 * 0..25, 'a'..'z' 26..51, ellipsis axis q (of E) EIN_LETTERS + q. */
typedef struct EinTerm {
	int rank;
	int lab[MAX_RANK];
} EinTerm;

typedef struct EinPlan {
	int nin;
	EinTerm *in;                 /* [nin] */
	EinTerm out;
	int ell;                     /* ellipsis axes E, broadcast over the inputs */
	int64_t size[EIN_LABELS];    /* by label id; -1: unused */
	int order[EIN_LABELS];       /* the output's labels, then the summed ones */
	int nlab;                    /* used labels */
	int64_t steps;               /* product of the used labels' sizes */
} EinPlan;

/* The plan of node n's equation over its nin input types x (arrays from
 * arena a).  An axis of size 1 of an input is read at index 0 whatever
 * its label's size (the ellipsis axes broadcast). */
Status einsum_plan(Graph *g, const Node *n, Arena *a, const Value *const *x, int nin,
                   EinPlan *p);
/* Label l's letter, '.' for an ellipsis axis. */
char einsum_label_char(int l);

#endif
