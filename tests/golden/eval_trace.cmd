eval tests/golden/mini.rules tests/golden/patients.csv --trace
