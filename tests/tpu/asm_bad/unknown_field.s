read_host_memory host_addr=0 slot=1
