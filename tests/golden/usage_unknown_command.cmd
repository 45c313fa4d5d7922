evaluate x y
