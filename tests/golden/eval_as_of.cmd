eval tests/golden/mini.rules tests/golden/patients.csv --as-of 2024-02-25 --format csv
