eval tests/golden/mini.rules tests/golden/no_such_file.csv
