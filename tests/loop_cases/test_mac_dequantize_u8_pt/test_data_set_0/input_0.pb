BxJH’e0›г}!‘Kэф|
киzIнI¦jЃБW™W\»›(mМ6¬нSЏ“*И*<—§тЅ^cGбq‰WkVjщyIљЙЅЉJ}CЇЩY