# Two fully connected layers of 512 -> 256 -> 10 on a 256 x 256 array,
# batch 8: the first layer takes two weight tiles (input channels 0..255
# and 256..511), accumulated into the same accumulator rows.

set_config reg=precision value=0

# the input: 8 rows of 512 int8 values, as two 256-element halves
read_host_memory host_addr=0x0 ub_row=0 count=8 len=256
read_host_memory host_addr=0x800 ub_row=8 count=8 len=256

read_weights dram_addr=0 rows=256 cols=256
read_weights dram_addr=0x10000 rows=256 cols=256
read_weights flags=param dram_addr=0x20000 rows=1 cols=256 slot=0

matrix_multiply flags=switch ub_row=0 acc_row=0 count=8
matrix_multiply flags=switch|acc ub_row=8 acc_row=0 count=8
activate ub_row=16 acc_row=0 count=8 func=relu slot=0

# layer 2: 256 -> 10
read_weights dram_addr=0x21000 rows=256 cols=10
read_weights flags=param dram_addr=0x31000 rows=1 cols=10 slot=1
matrix_multiply flags=switch ub_row=16 acc_row=8 count=8
activate ub_row=24 acc_row=8 count=8 slot=1 func=identity
write_host_memory host_addr=0x1000 ub_row=24 count=8 len=10
halt
