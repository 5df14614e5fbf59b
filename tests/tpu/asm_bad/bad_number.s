sync mask=12x
