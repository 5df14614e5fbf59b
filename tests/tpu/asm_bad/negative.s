activate count=-1
