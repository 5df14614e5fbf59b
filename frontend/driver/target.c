/*
 * The options naming a target for the dataflow mapper, shared by `nnac map`
 * and `nnac compile --arch`: --arch (a preset or FILE.arch), --dataflow
 * (ws, os, rs, nlr or auto) and --metric (energy, cycles or edp; by default
 * energy, or cycles when the arch gives no energies).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"


static void list_dataflows(char *buf, size_t size, unsigned mask)
{
	size_t len;

	buf[0] = '\0';
	for (int i = 0; i < ARCH_DF_COUNT; i++) {
		if (!(mask >> i & 1u))
			continue;
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "", arch_dataflow_name((ArchDataflow)i));
	}
}

static int parse_dataflow(Cli *cli, const char *cmd, CliTarget *ct)
{
	const char *s = cli->dataflow;
	char list[128];

	ct->df = -1;
	if (!s || strcmp(s, "auto") == 0)
		return 0;
	ct->df = arch_dataflow_from_name(s);
	if (ct->df >= 0)
		return 0;
	list_dataflows(list, sizeof(list), (1u << ARCH_DF_COUNT) - 1);
	fprintf(stderr, "nnac %s: --dataflow '%s': expected %s or auto\n", cmd, s, list);
	return EXIT_USAGE;
}

static int parse_metric(Cli *cli, const char *cmd, CliTarget *ct)
{
	const char *s = cli->metric;
	int m;

	ct->metric_default = !s;
	if (!s)
		return 0;
	m = df_metric_from_name(s);
	if (m >= 0) {
		ct->metric = (DfMetric)m;
		return 0;
	}
	fprintf(stderr, "nnac %s: --metric '%s': expected %s, %s or %s\n", cmd, s,
	        df_metric_name(DF_METRIC_ENERGY), df_metric_name(DF_METRIC_CYCLES),
	        df_metric_name(DF_METRIC_EDP));
	return EXIT_USAGE;
}

/* The target: the arch, what the mapper needs of it, and whether it can
 * take the dataflow and metric asked for. */
static int load_arch(Cli *cli, Arena *ar, CliTarget *ct)
{
	const Arch *a = &ct->arch;
	char list[128];
	Status st;

	st = arch_load(&ct->arch, ar, &cli->diag, cli->arch);
	if (st == ST_OK)
		st = df_target_init(&ct->t, a, &cli->diag);
	if (st != ST_OK)
		return cli_fail(cli, st);
	list_dataflows(list, sizeof(list), a->dataflows);
	if (ct->df >= 0 && !arch_has_dataflow(a, (ArchDataflow)ct->df)) {
		fprintf(stderr, "%s: arch '%s' does not support dataflow %s (it supports: %s)\n", a->path,
		        a->name, arch_dataflow_name((ArchDataflow)ct->df), *list ? list : "none");
		return EXIT_USAGE;
	}
	if (!a->dataflows) {
		fprintf(stderr, "%s: arch '%s' declares no dataflows\n", a->path, a->name);
		return EXIT_USAGE;
	}
	if (ct->metric_default)
		ct->metric = ct->t.energy_known ? DF_METRIC_ENERGY : DF_METRIC_CYCLES;
	else if (ct->metric != DF_METRIC_CYCLES && !ct->t.energy_known) {
		fprintf(stderr, "%s: arch '%s' gives no energy for every level and the MAC: "
		        "--metric %s needs them\n", a->path, a->name, df_metric_name(ct->metric));
		return EXIT_USAGE;
	}
	return 0;
}

int cli_target_load(Cli *cli, Arena *ar, const char *cmd, CliTarget *ct)
{
	int rc;

	memset(ct, 0, sizeof(*ct));
	if (!cli->arch) {
		fprintf(stderr, "nnac %s: --arch is required (a preset such as eyeriss, or FILE.arch)\n",
		        cmd);
		return EXIT_USAGE;
	}
	if ((rc = parse_dataflow(cli, cmd, ct)) || (rc = parse_metric(cli, cmd, ct)))
		return rc;
	return load_arch(cli, ar, ct);
}
