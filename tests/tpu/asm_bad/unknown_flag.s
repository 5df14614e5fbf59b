matrix_multiply flags=acc|swtich
