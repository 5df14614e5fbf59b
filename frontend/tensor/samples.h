/*
 * Sample inputs of a model from the files of a folder (frontend/tensor):
 * what `nnac compile --calibrate DIR` reads.
 */
#ifndef NNAC_SAMPLES_H
#define NNAC_SAMPLES_H

#include "graph.h"

/*
 * Sample inputs from the .npy and .pb (serialized ONNX TensorProto) files
 * of folder dir, taken in strcmp order of their names; other files are
 * ignored.  A model with one input takes each file as one sample.  With k
 * inputs every file must be named INPUT_REST.npy or INPUT_REST.pb, where
 * INPUT is an input's name with '/' and '\' written as '_' (the longest
 * such name wins when several match); each input must have the same
 * number of files, and sample i takes the i-th file (in name order) of
 * every input.  Types must match the graph's inputs exactly: an error names
 * the file ("calib/x3.npy: shape [1,3,32,32] does not match input 'data'
 * [1,3,28,28]").  *samples is in arena a, laid out as calib_collect (passes/calib.h) wants.
 */
Status samples_load_dir(Graph *g, const char *dir, Arena *a, Value **samples, int *nsamples);

#endif
