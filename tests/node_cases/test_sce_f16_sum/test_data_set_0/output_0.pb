
ByJ@D