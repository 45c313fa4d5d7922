check tests/golden/three_errors.rules
