activate func=4
