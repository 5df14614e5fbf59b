def bf(name, v):
    case(name, [N('Cast', ['x'], ['b'], to=T.BFLOAT16), N('Cast', ['b'], ['y'], to=T.FLOAT)], {'x': v}, opset=13, engine='ref')
for lo in range(-149, 128, 8):
    e = rng.integers(lo, lo + 8, 300)
    v = (rng.uniform(1, 2, 300) * np.exp2(e.astype(np.float64)) * rng.choice([-1, 1], 300))
    v = np.concatenate([v, np.exp2(np.arange(lo, lo + 8, 1.0)), np.nextafter(np.exp2(np.arange(lo, lo + 8, 1.0)).astype(np.float32), np.float32(0))])
    bf('bf_%d' % (lo + 149), v.astype(np.float32))
    bf('bfd_%d' % (lo + 149), v.astype(np.float64) * (1 + rng.uniform(-1e-9, 1e-9, v.shape)))
bf('bf_special', np.array([0.0, -0.0, np.inf, -np.inf, 1.0, 1.0039062, 1.0039063, 1.0078125], np.float32))
