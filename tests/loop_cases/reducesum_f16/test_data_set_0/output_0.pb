
ByJeDD$GцLнFXKж5"I╒Knио╥Mг▌G╜е%г