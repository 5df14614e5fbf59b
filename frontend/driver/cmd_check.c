/*
 * nnac check: every node nnac cannot handle and why, before any work;
 * nnac print: the graph IR after the passes; nnac ops: the op table.
 */
#include <stdio.h>

#include "cli.h"
#include "loop.h"
#include "passes.h"

int cmd_check(Cli *cli)
{
	OnnxOptions oo = {cli->shapes, cli->nshapes};
	Graph g;
	Status st;
	int live = 0;

	graph_init(&g, &cli->diag, cli->model);
	st = onnx_import(&g, cli->model, &oo);
	if (g.nnodes > 0 && st != ST_IO && st != ST_NOMEM) {
		Status st2 = pass_infer_shapes(&g, true);
		if (st == ST_OK)
			st = st2;
	}
	for (int i = 0; i < g.nnodes; i++)
		live += !(g.nodes[i].flags & NODE_DEAD);
	diag_print(&cli->diag, stdout);
	if (st == ST_OK)
		printf("%s: all %d node%s supported (opset %lld)\n", cli->model, live,
		       live == 1 ? " is" : "s are", (long long)g.opset);
	else
		printf("%s: %d problem%s found in %d node%s\n", cli->model, cli->diag.n,
		       cli->diag.n == 1 ? "" : "s", live, live == 1 ? "" : "s");
	graph_free(&g);
	return status_exit_code(st);
}

int cmd_print(Cli *cli)
{
	Graph g;
	int rc;

	graph_init(&g, &cli->diag, cli->model);
	rc = cli_load(cli, &g, true);
	if (rc == 0)
		graph_print(&g, stdout);
	graph_free(&g);
	return rc;
}

/* The loop IR's nodes (ir/loopstmt.def), then the ops `apply` accepts. */
static void print_loop_nodes(void)
{
	for (int k = 0; k < LN_COUNT; k++)
		printf("%-22s %s\n", loop_node_keyword((LoopNodeKind)k),
		       loop_node_synopsis((LoopNodeKind)k));
	printf("\napply accepts:");
	for (int op = 0; op < OP_COUNT; op++)
		if (loop_apply_arity((OpKind)op) > 0)
			printf(" %s", op_name((OpKind)op));
	printf("\n");
}

int cmd_ops(Cli *cli)
{
	if (cli->loops) {
		print_loop_nodes();
		return 0;
	}
	for (int op = 0; op < OP_COUNT; op++)
		printf("%-22s %s\n", op_name((OpKind)op), op_synopsis((OpKind)op));
	return 0;
}
