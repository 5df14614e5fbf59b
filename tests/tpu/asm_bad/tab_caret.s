	matrix_multiply	count=1	slot=2
