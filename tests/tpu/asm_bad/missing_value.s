sync mask= # nothing
