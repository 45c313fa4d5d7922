/* keywords.c — reserved words, sorted for binary search. */
#include "keywords.h"
#include "parse_ctx.h"
#include "parser.h"

#include <string.h>

/* Sorted by name (strcmp order); units map to TOK_UNIT and carry their
 * canonical spelling as the token value. */
static const struct keyword table[] = {
    { "advance", TOK_ADVANCE }, { "ago", TOK_AGO }, { "all", TOK_ALL },
    { "and", TOK_AND }, { "any", TOK_ANY }, { "avoid", TOK_AVOID },
    { "because", TOK_BECAUSE }, { "count", TOK_COUNT }, { "daily", TOK_DAILY },
    { "date", TOK_DATE }, { "day", TOK_DAYS }, { "days", TOK_DAYS },
    { "default", TOK_DEFAULT }, { "do", TOK_DO }, { "effort", TOK_EFFORT },
    { "else", TOK_ELSE }, { "false", TOK_FALSE }, { "first", TOK_FIRST },
    { "flag", TOK_FLAG }, { "for", TOK_FOR }, { "from", TOK_FROM },
    { "hold", TOK_HOLD }, { "if", TOK_IF }, { "in", TOK_IN },
    { "include", TOK_INCLUDE }, { "kg", TOK_UNIT }, { "km", TOK_UNIT },
    { "knee", TOK_KNEE }, { "last", TOK_LAST }, { "lb", TOK_UNIT },
    { "load", TOK_LOAD }, { "log", TOK_LOG }, { "max", TOK_MAX },
    { "mean", TOK_MEAN }, { "min", TOK_MIN }, { "minutes", TOK_UNIT },
    { "modify", TOK_MODIFY }, { "next", TOK_NEXT }, { "no", TOK_NO },
    { "not", TOK_NOT }, { "note", TOK_NOTE }, { "number", TOK_NUMBER_T },
    { "optional", TOK_OPTIONAL }, { "or", TOK_OR }, { "otherwise", TOK_OTHERWISE },
    { "previous", TOK_PREVIOUS }, { "protocol", TOK_PROTOCOL }, { "range", TOK_RANGE },
    { "reduce", TOK_REDUCE }, { "refer", TOK_REFER }, { "regress", TOK_REGRESS },
    { "required", TOK_REQUIRED }, { "row", TOK_ROWS }, { "rows", TOK_ROWS },
    { "s", TOK_UNIT }, { "score", TOK_SCORE }, { "seconds", TOK_UNIT },
    { "session", TOK_SESSION }, { "sessions", TOK_SESSIONS }, { "since", TOK_SINCE },
    { "source", TOK_SOURCE }, { "stage", TOK_STAGE }, { "stop", TOK_STOP },
    { "sum", TOK_SUM }, { "surface", TOK_SURFACE }, { "tempo", TOK_TEMPO },
    { "text", TOK_TEXT }, { "then", TOK_THEN }, { "times", TOK_TIMES },
    { "title", TOK_TITLE }, { "to", TOK_TO }, { "trend", TOK_TREND },
    { "true", TOK_TRUE }, { "twice", TOK_TWICE }, { "value", TOK_VALUE },
    { "version", TOK_VERSION }, { "volume", TOK_VOLUME }, { "when", TOK_WHEN },
    { "x", TOK_X }, { "yes", TOK_YES },
};

const struct keyword *keyword_find(const char *s, size_t n)
{
    size_t lo = 0, hi = sizeof table / sizeof table[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(table[mid].name, s, n);
        if (c == 0 && table[mid].name[n] != '\0')
            c = 1;
        if (c == 0)
            return &table[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *keyword_for_symbol_name(const char *symname)
{
    size_t n = strlen(symname);
    if (n < 3 || symname[0] != '\'' || symname[n - 1] != '\'')
        return NULL;
    const struct keyword *k = keyword_find(symname + 1, n - 2);
    return k ? k->name : NULL;
}

const struct keyword *keyword_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}
