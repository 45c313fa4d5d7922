eval --format json tests/golden/mini.rules tests/golden/patients.csv
