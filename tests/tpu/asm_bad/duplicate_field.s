matrix_multiply count=1 acc_row=0 count=2
