/*
 * The ONNX frontend: reads a ModelProto into the graph IR, and ONNX
 * TensorProto files (the backend-test data format) into Values.
 *
 * The protobuf-c code is generated at build time from the onnx.proto that
 * Debian's libonnx-dev installs; nothing outside frontend/onnx sees it.
 */
#ifndef NNAC_ONNX_H
#define NNAC_ONNX_H

#include "graph.h"

/* A binding of a graph input's shape from the command line. */
typedef struct ShapeBinding {
	const char *name;
	int rank;
	int64_t dims[MAX_RANK];
	int used;            /* set by the importer when the name matched */
} ShapeBinding;

typedef struct OnnxOptions {
	ShapeBinding *shapes;
	int nshapes;
} OnnxOptions;

/*
 * Reads the model at path into g, which must be freshly initialized with
 * graph_init().  Records every problem it finds in g->diag (unknown ops and
 * attributes do not stop the import, so `nnac check` can list them all) and
 * returns the worst status.
 */
Status onnx_import(Graph *g, const char *path, const OnnxOptions *opt);
/* The same from the serialized model in buf (a bundle's copy); path names
 * it in diagnostics and locates external data. */
Status onnx_import_mem(Graph *g, const char *path, const uint8_t *buf, size_t len,
                       const OnnxOptions *opt);

/* Reads one serialized TensorProto file into v (data in arena a); name, if
 * not NULL, receives the tensor's name ("" when unnamed). */
Status onnx_read_tensor_file(const char *path, Arena *a, Diag *d, Value *v, const char **name);
/* The same from len serialized bytes; path names them and locates
 * external data. */
Status onnx_read_tensor_mem(const char *path, const uint8_t *buf, size_t len, Arena *a, Diag *d,
                            Value *v, const char **name);

/* Parses "name=1,3,224,224" into b, cutting arg at the '=' (b->name
 * points into it); false with a message in d otherwise. */
bool onnx_parse_shape_binding(char *arg, ShapeBinding *b, Diag *d);

#endif
