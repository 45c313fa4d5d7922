check tests/golden/mini.rules
