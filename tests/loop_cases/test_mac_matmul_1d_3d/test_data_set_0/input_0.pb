BaJxK¼;ó¿`þc¿
SR?