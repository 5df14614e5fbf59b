# Fields in any order print in .def order; flags in .def order.
matrix_multiply count=4 acc_row=2 ub_row=1 flags=conv|switch|acc
activate slot=9 pool=avg func=sigmoid count=3 acc_row=2 ub_row=1 flags=geom
read_weights slot=0 cols=16 rows=16 dram_addr=0x40 flags=0
write_host_memory len=7 count=6 ub_row=5 host_addr=4
set_config value=00017 reg=precision
sync mask=0x0
