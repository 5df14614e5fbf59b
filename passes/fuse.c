/*
 * Activation fusion marks.  An elementwise activation (an OPF_ACT op with a
 * single input) that is the only consumer of a Conv, ConvTranspose, Gemm or
 * MatMul result is recorded on the producer (fused_act, fused_node) and its
 * node marked dead; the producer then writes the activation's output tensor.
 * Backends apply the activation as the layer's epilogue; the interpreter
 * applies it in place after the layer.
 */
#include "passes.h"

static bool can_carry_activation(const Node *n)
{
	return n->op == OP_Conv || n->op == OP_ConvTranspose || n->op == OP_Gemm ||
	       n->op == OP_MatMul;
}

static bool single_input(const Node *n)
{
	for (int i = 1; i < n->nin; i++)
		if (n->in[i] >= 0)
			return false;
	return n->nin >= 1 && n->in[0] >= 0;
}

Status pass_fuse_activations(Graph *g)
{
	for (int i = 0; i < g->nnodes; i++) {
		Node *act = &g->nodes[i], *layer;
		const Tensor *x;

		if ((act->flags & NODE_DEAD) || !(op_flags(act->op) & OPF_ACT) || !single_input(act))
			continue;
		x = node_in(g, act, 0);
		if (x->producer < 0 || graph_uses(g, act->in[0]) != 1)
			continue;
		layer = &g->nodes[x->producer];
		if ((layer->flags & NODE_DEAD) || !can_carry_activation(layer) ||
		    layer->fused_act != OP_COUNT || layer->out[0] != act->in[0])
			continue;
		if (node_out(g, act, 0)->v.dt != x->v.dt)
			continue;
		layer->fused_act = act->op;
		layer->fused_node = i;
		layer->out[0] = act->out[0];
		g->tensors[act->out[0]].producer = x->producer;
		act->flags |= NODE_DEAD;
	}
	return ST_OK;
}
