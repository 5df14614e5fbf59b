sync,mask=1
