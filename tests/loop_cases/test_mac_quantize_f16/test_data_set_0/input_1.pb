
BsJÍ4