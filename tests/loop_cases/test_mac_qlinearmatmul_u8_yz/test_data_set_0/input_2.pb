BazJ
