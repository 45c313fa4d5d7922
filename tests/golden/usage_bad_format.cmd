eval --format xml tests/golden/mini.rules tests/golden/patients.csv
