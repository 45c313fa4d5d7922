eval --as-of 2024-02-30 tests/golden/mini.rules tests/golden/patients.csv
