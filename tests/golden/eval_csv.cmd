eval --format csv tests/golden/mini.rules tests/golden/patients.csv
