matrix_multiply flags=acc||conv
