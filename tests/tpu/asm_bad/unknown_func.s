activate func=gelu
