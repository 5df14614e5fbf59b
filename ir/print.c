/*
 * The graph printer.  One line per graph input, constant summary, and live
 * node:
 *     input %x : f32[1,1,28,28]
 *     %y = Conv(%x, %w, %b) {group=1, pads=[2,2,2,2]} +Relu : f32[1,8,28,28]
 *     output %y
 * Constants print as `const %w : f32[8,1,5,5]`.
 */
#include "graph.h"

static void print_attr(FILE *f, const Attr *a)
{
	fprintf(f, "%s=", a->name);
	switch (a->kind) {
	case ATTR_INT: fprintf(f, "%lld", (long long)a->i); return;
	case ATTR_FLOAT: fprintf(f, "%g", a->f); return;
	case ATTR_STRING: fprintf(f, "\"%s\"", a->s); return;
	case ATTR_INTS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++)
			fprintf(f, "%s%lld", i ? "," : "", (long long)a->ints[i]);
		fputc(']', f);
		return;
	case ATTR_FLOATS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++)
			fprintf(f, "%s%g", i ? "," : "", a->floats[i]);
		fputc(']', f);
		return;
	case ATTR_STRINGS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++)
			fprintf(f, "%s\"%s\"", i ? "," : "", a->strings[i]);
		fputc(']', f);
		return;
	case ATTR_TENSOR: {
		char buf[128];
		fprintf(f, "tensor %s", val_type_str(a->t, buf, sizeof(buf)));
		return;
	}
	case ATTR_TENSORS: fprintf(f, "tensors(%d)", a->n); return;
	case ATTR_GRAPH: fputs("graph", f); return;
	case ATTR_OTHER: fputs("?", f); return;
	}
	nnac_unreachable();
}

static void print_tensor_list(Graph *g, FILE *f, const int *idx, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		if (idx[i] < 0)
			fputs("_", f);
		else
			fprintf(f, "%%%s", g->tensors[idx[i]].name);
	}
}

static void print_node(Graph *g, FILE *f, const Node *n)
{
	char buf[128];

	print_tensor_list(g, f, n->out, n->nout);
	fprintf(f, " = %s(", n->op_type);
	print_tensor_list(g, f, n->in, n->nin);
	fputc(')', f);
	if (n->nattr) {
		fputs(" {", f);
		for (int i = 0; i < n->nattr; i++) {
			if (i)
				fputs(", ", f);
			print_attr(f, &n->attr[i]);
		}
		fputc('}', f);
	}
	if (n->fused_act != OP_COUNT)
		fprintf(f, " +%s", op_name(n->fused_act));
	if (n->nout > 0 && n->out[0] >= 0 && g->tensors[n->out[0]].v.dt != DT_UNDEF)
		fprintf(f, " : %s", val_type_str(&g->tensors[n->out[0]].v, buf, sizeof(buf)));
	fputc('\n', f);
}

static bool used_constant(Graph *g, int t)
{
	return g->tensors[t].v.data && g->tensors[t].producer < 0 && graph_uses(g, t) > 0;
}

void graph_print(Graph *g, FILE *f)
{
	char buf[128];

	fprintf(f, "graph \"%s\" opset %lld\n", g->path, (long long)g->opset);
	for (int i = 0; i < g->ninputs; i++)
		fprintf(f, "input %%%s : %s\n", g->tensors[g->inputs[i]].name,
		        val_type_str(&g->tensors[g->inputs[i]].v, buf, sizeof(buf)));
	for (int t = 0; t < g->ntensors; t++)
		if (used_constant(g, t))
			fprintf(f, "const %%%s : %s\n", g->tensors[t].name,
			        val_type_str(&g->tensors[t].v, buf, sizeof(buf)));
	for (int i = 0; i < g->nnodes; i++)
		if (!(g->nodes[i].flags & NODE_DEAD))
			print_node(g, f, &g->nodes[i]);
	for (int i = 0; i < g->noutputs; i++)
		fprintf(f, "output %%%s\n", g->tensors[g->outputs[i]].name);
}
