eval tests/golden/mini.rules
