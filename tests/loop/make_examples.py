#!/usr/bin/env python3
"""Writes the three DianNao examples of tests/loop/ (diannao_classifier.loop,
diannao_conv.loop, diannao_pool.loop): the loop nests of the DianNao paper
(Chen et al., "DianNao: A Small-Footprint High-Throughput Accelerator for
Ubiquitous Machine-Learning", ASPLOS 2014, section 3) written in nnac's loop
IR, with small shapes so that the interpreter runs them in milliseconds.

The weights are seeded pseudo-random f32 values, written in the shortest
form that reads back to the same f32, as nnac's printer writes them, so the
files are canonical (print(parse(x)) == x).  The files are committed; run
this script only to change them:  python3 tests/loop/make_examples.py
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def fmt_f32(x):
    """The shortest %.Ng form of f32 x that reads back to x, marked as float."""
    for prec in range(1, 18):
        s = "%.*g" % (prec, x)
        if f32(float(s)) == x:
            break
    if "." not in s and "e" not in s:
        s += ".0"
    return s


def data_block(name, values):
    lines = [", ".join(fmt_f32(v) for v in values[i:i + 8]) for i in range(0, len(values), 8)]
    return "data %s = {\n%s\n}\n" % (name, ",\n".join("\t" + l for l in lines))


def weights(rng, n, scale):
    return [f32(rng.uniform(-scale, scale)) for _ in range(n)]


CLASSIFIER = """\
# DianNao's classifier layer (ASPLOS 2014, the tiled code of section 3):
# Nn = 64 output neurons, Ni = 64 input neurons, each output the sigmoid of
# sum[n] += synapse[n][i] * neuron_i[i].  The NFU computes Tn = 16 outputs
# from Ti = 16 inputs per step (16 x 16 multipliers, 16 adder trees); the
# loops nnn and iii tile Nn and Ni by Tnn = Tii = 32 so that one tile of
# synapses fits the SB, and nn/ii walk a tile by Tn/Ti.
level dram
# NBin: input neurons, 2 KB
level nbin 2048
# NBout: partial sums of output neurons, 2 KB
level nbout 2048
# SB: synapses, 32 KB
level sb 32768

buf neuron_i : f32[64] @dram input "x"
buf synapse : f32[64, 64] @dram const
buf neuron_n : f32[64] @dram output "y"

kernel classifier "Gemm_0" {
\tbuf sum : f32[32] @nbout
\tbuf in_tile : f32[32] @nbin
\tbuf syn_tile : f32[32, 32] @sb
\tfor nnn in 0..64 step 32 {
\t\tfor nn in 0..32 step 16 {
\t\t\tfor n in 0..16 spatial {
\t\t\t\tfill sum[nn + n] = 0.0
\t\t\t}
\t\t}
\t\tfor iii in 0..64 step 32 {
\t\t\t# load one Tii tile of inputs into NBin and the synapses into SB
\t\t\tfor i in 0..32 {
\t\t\t\tcopy in_tile[i] = neuron_i[iii + i]
\t\t\t}
\t\t\tfor n in 0..32 {
\t\t\t\tfor i in 0..32 {
\t\t\t\t\tcopy syn_tile[n, i] = synapse[nnn + n, iii + i]
\t\t\t\t}
\t\t\t}
\t\t\tfor nn in 0..32 step 16 {
\t\t\t\tfor ii in 0..32 step 16 {
\t\t\t\t\t# one NFU step: Tn x Ti products summed into Tn partial sums
\t\t\t\t\tfor n in 0..16 spatial {
\t\t\t\t\t\tfor i in 0..16 spatial {
\t\t\t\t\t\t\tmac sum[nn + n] += syn_tile[nn + n, ii + i] * in_tile[ii + i] : f32 * f32 -> f32
\t\t\t\t\t\t}
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
\t\t}
\t\t# NFU-3: the sigmoid, then the outputs leave NBout
\t\tfor nn in 0..32 step 16 {
\t\t\tfor n in 0..16 spatial {
\t\t\t\tapply neuron_n[nnn + nn + n] = Sigmoid(sum[nn + n])
\t\t\t}
\t\t}
\t}
}

"""

CONV = """\
# DianNao's convolutional layer (ASPLOS 2014, section 3): Ni = 8 input
# feature maps of 14 x 14, Nn = 16 output maps of 12 x 12, a 3 x 3 kernel
# with private weights per map pair, then bias and ReLU.  The output plane is
# tiled by Tx = Ty = 4 (loops yy, xx): the input tile with its halo, 8 maps
# of 6 x 6, goes to NBin; the output maps by Tn = 8 (loop nn), the NFU
# computing 8 partial sums from 8 inputs per step.  All synapses fit the SB
# and are loaded once.
level dram
level nbin 2048
level nbout 2048
level sb 32768

buf neuron_i : f32[8, 14, 14] @dram input "x"
buf synapse : f32[16, 8, 3, 3] @dram const
buf bias : f32[16] @dram const
buf neuron_n : f32[16, 12, 12] @dram output "y"

kernel conv "Conv_0" {
\tbuf syn : f32[16, 8, 3, 3] @sb
\tbuf tile : f32[8, 6, 6] @nbin
\tbuf sum : f32[8] @nbout
\tfor n in 0..16 {
\t\tfor i in 0..8 {
\t\t\tfor ky in 0..3 {
\t\t\t\tfor kx in 0..3 {
\t\t\t\t\tcopy syn[n, i, ky, kx] = synapse[n, i, ky, kx]
\t\t\t\t}
\t\t\t}
\t\t}
\t}
\tfor yy in 0..12 step 4 {
\t\tfor xx in 0..12 step 4 {
\t\t\t# the input tile: Ty + Ky - 1 rows of Tx + Kx - 1 neurons per map
\t\t\tfor i in 0..8 {
\t\t\t\tfor ty in 0..6 {
\t\t\t\t\tfor tx in 0..6 {
\t\t\t\t\t\tcopy tile[i, ty, tx] = neuron_i[i, yy + ty, xx + tx]
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
\t\t\tfor nn in 0..16 step 8 {
\t\t\t\tfor y in 0..4 {
\t\t\t\t\tfor x in 0..4 {
\t\t\t\t\t\tfor n in 0..8 spatial {
\t\t\t\t\t\t\tcopy sum[n] = bias[nn + n]
\t\t\t\t\t\t}
\t\t\t\t\t\tfor ky in 0..3 {
\t\t\t\t\t\t\tfor kx in 0..3 {
\t\t\t\t\t\t\t\tfor n in 0..8 spatial {
\t\t\t\t\t\t\t\t\tfor i in 0..8 spatial {
\t\t\t\t\t\t\t\t\t\tmac sum[n] += syn[nn + n, i, ky, kx] * tile[i, y + ky, x + kx] : f32 * f32 -> f32
\t\t\t\t\t\t\t\t\t}
\t\t\t\t\t\t\t\t}
\t\t\t\t\t\t\t}
\t\t\t\t\t\t}
\t\t\t\t\t\tfor n in 0..8 spatial {
\t\t\t\t\t\t\tapply neuron_n[nn + n, yy + y, xx + x] = Relu(sum[n])
\t\t\t\t\t\t}
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}

"""

POOL = """\
# DianNao's pooling layer (ASPLOS 2014, section 3): max over 2 x 2 windows
# with stride 2 (sx = sy = 2) on Ni = 16 maps of 12 x 12.  The input plane
# is tiled by Tx = Ty = 6 (loops yy, xx) and the maps by Ti = 8 (loop ii);
# y and x step by the stride over input coordinates, so the output index is
# (yy + y)/2.  NFU-2 keeps the running maxima in NBout.
level dram
level nbout 2048

buf neuron_i : f32[16, 12, 12] @dram input "x"
buf neuron_n : f32[16, 6, 6] @dram output "y"

kernel pool "MaxPool_0" {
\tbuf value : f32[8] @nbout
\tfor yy in 0..12 step 6 {
\t\tfor xx in 0..12 step 6 {
\t\t\tfor ii in 0..16 step 8 {
\t\t\t\tfor y in 0..6 step 2 {
\t\t\t\t\tfor x in 0..6 step 2 {
\t\t\t\t\t\tfor i in 0..8 spatial {
\t\t\t\t\t\t\tfill value[i] = -inf
\t\t\t\t\t\t}
\t\t\t\t\t\tfor ky in 0..2 {
\t\t\t\t\t\t\tfor kx in 0..2 {
\t\t\t\t\t\t\t\tfor i in 0..8 spatial {
\t\t\t\t\t\t\t\t\treduce max value[i] <- neuron_i[ii + i, yy + y + ky, xx + x + kx]
\t\t\t\t\t\t\t\t}
\t\t\t\t\t\t\t}
\t\t\t\t\t\t}
\t\t\t\t\t\tfor i in 0..8 spatial {
\t\t\t\t\t\t\tcopy neuron_n[ii + i, (yy + y)/2, (xx + x)/2] = value[i]
\t\t\t\t\t\t}
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}
"""


def write(name, text):
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def main():
    rng = random.Random(2014)
    write("diannao_classifier.loop",
          CLASSIFIER + data_block("synapse", weights(rng, 64 * 64, 0.25)))
    write("diannao_conv.loop",
          CONV + data_block("synapse", weights(rng, 16 * 8 * 3 * 3, 0.3)) + "\n" +
          data_block("bias", weights(rng, 16, 0.1)))
    write("diannao_pool.loop", POOL)


if __name__ == "__main__":
    main()
