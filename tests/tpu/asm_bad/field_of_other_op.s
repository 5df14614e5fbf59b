halt mask=15
