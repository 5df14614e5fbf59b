set_config reg=12 value=1
