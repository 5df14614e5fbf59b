sync =15
