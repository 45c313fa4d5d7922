eval tests/golden/mini.rules tests/golden/missing_column.csv
