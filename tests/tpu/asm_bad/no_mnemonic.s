*halt
