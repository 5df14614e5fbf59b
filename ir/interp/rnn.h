/*
 * The description of a recurrent node (RNN, GRU, LSTM), shared by the
 * reference kernels (rnn.c) and the loop-IR lowering (passes/lower_rnn.c):
 * sizes, direction, layout, clip and the activation list, read and checked
 * by one function.
 *
 * Gate order in W, R and B: RNN i; GRU z r h; LSTM i o f c; peepholes P:
 * i o f.  Layouts (layout=1 puts the batch first):
 *   X    [seq, batch, input]          or [batch, seq, input]
 *   Y    [seq, ndir, batch, hidden]   or [batch, seq, ndir, hidden]
 *   Y_h  [ndir, batch, hidden]        or [batch, ndir, hidden]   (also
 *        initial_h, initial_c, Y_c)
 */
#ifndef NNAC_RNN_H
#define NNAC_RNN_H

#include "op.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P, IN_MAX };
enum { OUT_Y, OUT_H, OUT_C, OUT_MAX };
enum { MAX_ACTS = 3 };

typedef enum ActKind {
	ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_HARD_SIGMOID, ACT_LEAKY_RELU,
	ACT_THRESHOLDED_RELU, ACT_SCALED_TANH, ACT_AFFINE, ACT_ELU, ACT_SOFTSIGN,
	ACT_SOFTPLUS, ACT_COUNT
} ActKind;

typedef struct Act {
	ActKind kind;
	double alpha, beta;
} Act;

typedef struct Rnn {
	int gates;           /* G: W has G*hidden rows (RNN 1, GRU 3, LSTM 4) */
	int nact;            /* activations per direction */
	int ndir;
	bool reverse;        /* the single direction runs backwards */
	bool batch_major;    /* layout=1 */
	int64_t seq, batch, input, hidden;
	bool has_clip;
	double clip;         /* activation inputs are clamped to [-clip, clip] */
	bool linear_before_reset, input_forget;
	Act act[2][MAX_ACTS];  /* [direction][f, g, h] */
} Rnn;

/* Fills r from node n and its input types; v[i] is NULL when input i is
 * absent.  Reports invalid attributes and shapes. */
Status rnn_parse(Graph *g, const Node *n, const Value *const *v, Rnn *r);

#endif
