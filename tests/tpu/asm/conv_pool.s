# The start of a 3x3 convolution over an 8x8 input (padded to 10x10 in the
# unified buffer): three of its nine accumulated matrix multiplies with conv
# addressing, then 2x2 max pooling with strided output.
set_config reg=mm_row_w value=8
set_config reg=mm_step_x value=1
set_config reg=mm_step_y value=10
read_host_memory host_addr=0 ub_row=0 count=100 len=64
read_weights dram_addr=0 rows=64 cols=128
read_weights dram_addr=65536 rows=64 cols=128
matrix_multiply flags=switch|conv ub_row=0 acc_row=0 count=64
matrix_multiply flags=conv|acc|switch ub_row=1 acc_row=0 count=64
	matrix_multiply	flags=acc|conv	ub_row=2	acc_row=0	count=64	# tabs
set_config reg=pool_kh value=2
set_config reg=pool_kw value=2
set_config reg=pool_sy value=2
set_config reg=pool_sx value=2
set_config reg=pool_in_w value=8
set_config reg=pool_out_w value=4
set_config reg=act_out_w value=4
set_config reg=act_out_step_y value=6
activate flags=geom ub_row=200 acc_row=0 count=16 func=tanh pool=max slot=0
activate ub_row=300 acc_row=0 count=16 func=sigmoid pool=avg slot=1
sync mask=0x8
halt
