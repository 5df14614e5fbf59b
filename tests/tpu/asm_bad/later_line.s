# an error after good lines
nop

sync mask=1   # fine
halt flags=0
