set_config reg=mm_row value=1
