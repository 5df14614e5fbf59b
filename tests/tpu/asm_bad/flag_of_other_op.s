activate flags=switch
