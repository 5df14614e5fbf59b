x = rnd((2, 3, 9, 8))
def am(name, x, **a):
    case(name, [N('MaxPool', ['x'], ['y', 'i'], **a)], {'x': x}, outputs=['y', 'i'], opset=12)
am('am_basic', x, kernel_shape=[3, 3])
am('am_pads', x, kernel_shape=[3, 2], pads=[1, 0, 2, 1], strides=[2, 3])
am('am_ceil', x, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, pads=[1, 1, 1, 1])
am('am_dil', x, kernel_shape=[2, 2], dilations=[2, 3], pads=[1, 1, 1, 1])
am('am_col', x, kernel_shape=[3, 2], pads=[1, 0, 2, 1], strides=[2, 3], storage_order=1)
am('am_col_ceil', x, kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, storage_order=1)
am('am_1d', rnd((2, 3, 10)), kernel_shape=[3], pads=[1, 1], strides=[2])
am('am_3d', rnd((1, 2, 5, 6, 7)), kernel_shape=[2, 2, 2], strides=[2, 1, 2], pads=[0, 1, 0, 1, 0, 1])
am('am_3d_col', rnd((1, 2, 5, 6, 7)), kernel_shape=[2, 3, 2], strides=[2, 1, 2], storage_order=1)
am('am_i8', rnd((1, 2, 5, 5), np.int8, -1, 1), kernel_shape=[3, 3], pads=[1, 1, 1, 1])
am('am_u8', rnd((1, 2, 5, 5), np.uint8, 0, 1), kernel_shape=[2, 2])
xi = rnd((1, 2, 6, 6)); xi[0, 0, 1, 1] = np.inf; xi[0, 0, 2, 2] = np.inf; xi[0, 1, :3, :3] = -np.inf; xi[0, 1, 4, 4] = 3e38
am('am_inf', xi, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
xt = np.round(rnd((1, 2, 6, 6)) * 2) / 2
am('am_ties', xt, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
am('am_same', x, kernel_shape=[3, 3], strides=[2, 2], auto_pad='SAME_UPPER')
