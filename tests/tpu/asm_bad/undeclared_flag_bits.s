matrix_multiply flags=8
