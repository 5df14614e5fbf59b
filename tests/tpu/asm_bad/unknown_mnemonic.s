# a typo in the mnemonic
sync mask=1
matmul count=3
