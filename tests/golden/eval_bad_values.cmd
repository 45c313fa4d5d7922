eval --format csv tests/golden/mini.rules tests/golden/bad_values.csv
