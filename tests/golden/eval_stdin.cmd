eval --format csv tests/golden/mini.rules -
