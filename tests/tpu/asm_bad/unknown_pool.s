activate pool=min
