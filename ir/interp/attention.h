/*
 * The description of an Attention node, shared by the reference kernel
 * (attention.c) and the loop-IR lowering (passes/lower_attn.c): the sizes
 * of the 4-D view in which both compute, read and checked by one function.
 *
 *   Q [B][Hq][Sq][D]     or 3-D [B][Sq][Hq*D]    (q_num_heads)
 *   K [B][Hkv][Skv][D]   or 3-D [B][Skv][Hkv*D]  (kv_num_heads)
 *   V [B][Hkv][Skv][Dv]  or 3-D [B][Skv][Hkv*Dv]
 *   past_key, past_value [B][Hkv][P][D or Dv]; present_* [B][Hkv][T][.]
 *   with T = P + Skv; Y like Q with Dv; qk_matmul_output [B][Hq][Sq][T]
 */
#ifndef NNAC_ATTENTION_H
#define NNAC_ATTENTION_H

#include "op.h"

enum { ATTN_Q, ATTN_K, ATTN_V, ATTN_MASK, ATTN_PAST_K, ATTN_PAST_V, ATTN_NONPAD };
enum { ATTN_Y, ATTN_PRESENT_K, ATTN_PRESENT_V, ATTN_QK };

/* The sizes of one Attention node, in the 4-D view. */
typedef struct AttnDims {
	bool is3d;                     /* Q, K, V are [B][S][H*D] */
	int64_t b, hq, hkv;            /* batch, query heads, key and value heads */
	int64_t sq, skv, past, total;  /* query, new key, past key and all keys (T) */
	int64_t dk, dv;                /* head sizes of Q and K, and of V */
} AttnDims;

/* Fills d from node n and its input shapes, checking every shape and
 * attribute as shape inference does. */
Status attn_parse(Graph *g, const Node *n, AttnDims *d);
/* The factor of the scores: attribute scale, else 1 / sqrt(D). */
double attn_scale(const Node *n, const AttnDims *d);

#endif
