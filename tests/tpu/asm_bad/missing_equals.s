sync mask 15
