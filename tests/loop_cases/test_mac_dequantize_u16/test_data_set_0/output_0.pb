By0J …+CÂuþÂp=B®G/BëQÃfæmC3³˜Â¤Ð‘Ã…´ÂõènÃp=¾Â™ÙÃŽ’CGáLC{Ô„Ã™™[B=
¯ÁÅSCR¸ÃëQÚBG‘C¤°<CëQÀÂ5’Cáz°A¤pB.ÎÂ®§ C×chÃÌÌÙBRx8Ã®GOÃÂõêBG¡…C¸žÄBIÃfæŽCfF“Ã×#@ÃR¸’Ã\4Bfæ¥BáÚC×ã1Ã5Ã
—)C=Ê!ÃÃ33§B£ðèB¤pÃ)\O?RøuÃ…ë±Á®'C®G$BázB.æB®G«Cp½úBá:Ã{”2Ãp=5ÃÂulC¸”BázßBR¸ÊÁ3Ó¯Cö¨™C£plÂ¤ð`CGa¬B