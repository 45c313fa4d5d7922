/* keywords.h — the reserved words of the rule language.  One table serves
 * the scanner, "did you mean" suggestions and the fuzzing dictionary. */
#ifndef TENDO_KEYWORDS_H
#define TENDO_KEYWORDS_H

#include <stddef.h>

struct keyword {
    const char *name;
    int token;
};

const struct keyword *keyword_find(const char *s, size_t n);
/* "'because'" (a bison symbol name) -> "because"; NULL for non-keywords. */
const char *keyword_for_symbol_name(const char *symname);
const struct keyword *keyword_table(size_t *n);

#endif
