# Generates loop-lowering test cases: model.onnx + test_data_set_0 (inputs, reference outputs)
# Expected outputs are the graph interpreter's, written only after ONNX Runtime (or onnx.reference)
# agreed with them within rtol 1e-3, atol 1e-5: the cases test the lowering against the graph.
import onnx, numpy as np, os, sys, shutil
from onnx import helper as h, TensorProto as T, numpy_helper as nh
import onnxruntime as ort
import onnx.reference as oref
# usage: python3 gen.py c_elem.py (writes the cases into the folder above)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
rng = np.random.default_rng(7)
NP2T = {np.float32: T.FLOAT, np.float64: T.DOUBLE, np.float16: T.FLOAT16, np.int8: T.INT8, np.uint8: T.UINT8,
        np.int32: T.INT32, np.int64: T.INT64, np.bool_: T.BOOL, np.uint32: T.UINT32, np.int16: T.INT16}
def rnd(shape, dt=np.float32, lo=-2, hi=2):
    if np.issubdtype(dt, np.integer):
        return rng.integers(lo * 20, hi * 20, size=shape).astype(dt)
    return rng.uniform(lo, hi, size=shape).astype(dt)
def case(name, nodes, inputs, inits=(), opset=13, outputs=None, engine='ort'):
    """inputs: dict name -> array (graph inputs); inits: dict name -> array"""
    inits = dict(inits)
    vis = [h.make_tensor_value_info(k, NP2T[v.dtype.type], v.shape) for k, v in inputs.items()]
    outs = outputs or [nodes[-1].output[0]]
    ovis = [h.make_tensor_value_info(o, T.UNDEFINED, None) for o in outs]
    g = h.make_graph(nodes, name, vis, ovis, [nh.from_array(v, k) for k, v in inits.items()])
    m = h.make_model(g, opset_imports=[h.make_opsetid('', opset)])
    m.ir_version = min(m.ir_version, 9)
    try:
        mi = onnx.shape_inference.infer_shapes(m)
        known = {v.name: v for v in list(mi.graph.value_info) + list(mi.graph.output)}
        for vi in g.output:
            if vi.name in known and known[vi.name].type.tensor_type.elem_type:
                vi.CopyFrom(known[vi.name])
        m = h.make_model(g, opset_imports=[h.make_opsetid('', opset)])
        m.ir_version = min(m.ir_version, 9)
    except Exception as e:
        print('shape inference failed on', name, e)
    res = None
    try:
        if engine == 'ort':
            s = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
            res = s.run(outs, inputs)
        else:
            raise RuntimeError('ref')
    except Exception as e:
        if engine == 'ort':
            print('ORT failed on', name, str(e).splitlines()[0][:150])
        try:
            res = oref.ReferenceEvaluator(m).run(outs, inputs)
        except Exception as e2:
            print('reference failed on', name, str(e2).splitlines()[-1][:150])
    # the nnac graph interpreter's result is the expectation; others are a cross-check
    import subprocess, tempfile
    with tempfile.TemporaryDirectory() as td:
        onnx.save(m, td + '/m.onnx')
        args = ['/work/main/build-rest/nnac', 'run', td + '/m.onnx', '--output-dir', td + '/o']
        for k, v in inputs.items():
            np.save(td + '/' + k + '.npy', v)
            args += ['--input', '%s=%s/%s.npy' % (k, td, k)]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            print('nnac failed on', name, r.stderr.strip()[:300]); return
        mine = [np.load(td + '/o/' + o + '.npy') for o in outs]
    if res is not None:
        for o, a, b in zip(outs, res, mine):
            a = np.asarray(a)
            if a.shape != b.shape or not np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-3, atol=1e-5, equal_nan=True):
                print('engine disagrees with nnac on', name, o)
    res = mine
    # fill output types for the model
    for vi, r in zip(g.output, res):
        vi.CopyFrom(h.make_tensor_value_info(vi.name, NP2T[r.dtype.type], r.shape))
    m = h.make_model(g, opset_imports=[h.make_opsetid('', opset)])
    m.ir_version = min(m.ir_version, 9)
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, 'test_data_set_0'), exist_ok=True)
    onnx.save(m, os.path.join(d, 'model.onnx'))
    for k, (n, v) in enumerate(inputs.items()):
        open(os.path.join(d, 'test_data_set_0', 'input_%d.pb' % k), 'wb').write(nh.from_array(v, n).SerializeToString())
    for k, (n, v) in enumerate(zip(outs, res)):
        open(os.path.join(d, 'test_data_set_0', 'output_%d.pb' % k), 'wb').write(nh.from_array(np.asarray(v), n).SerializeToString())
N = h.make_node
exec(open(sys.argv[1]).read())
