# The largest value of every field, in decimal and in hex.
sync mask=255
set_config reg=pool_out_w value=0xffffffff
set_config reg=11 value=4294967295
read_host_memory host_addr=0xFFFFFFFF ub_row=0xffffff count=16777215 len=0xffff
write_host_memory host_addr=4294967295 ub_row=16777215 count=0xffffff len=65535
read_weights flags=param dram_addr=0xffffffff rows=0xffffff cols=0xffffff slot=255
matrix_multiply flags=7 ub_row=0xffffffff acc_row=0xffffff count=0xffffff
activate flags=geom ub_row=0xffffffff acc_row=0xffffff count=0xffffff func=3 pool=2 slot=0xff
# and the smallest: every field omitted is 0
read_host_memory
write_host_memory
read_weights
matrix_multiply
activate
set_config
sync
