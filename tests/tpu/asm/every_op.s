# One instruction of every opcode, fields in .def order, with comments.
nop
set_config reg=precision value=0
read_host_memory host_addr=0 ub_row=0 count=16 len=256     # 16 input rows
read_weights flags=0 dram_addr=0 rows=256 cols=256 slot=0
read_weights flags=param dram_addr=65536 rows=1 cols=256 slot=3
matrix_multiply flags=switch ub_row=0 acc_row=0 count=16
activate flags=0 ub_row=16 acc_row=0 count=16 func=relu pool=none slot=3
write_host_memory host_addr=4096 ub_row=16 count=16 len=256
sync mask=15
halt
