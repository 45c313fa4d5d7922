/* load.c — reading rule files: includes resolved relative to the including
 * file (a cycle is an error), the SHA-256 of every byte read in load order,
 * and the public entry points that wrap the program's life. */
#include "program.h"
#include "mem.h"
#include "tendo.h"

#include <errno.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
    tendo_program *p;
    diag_list *d;
    struct sha256_ctx sha;
    const char *stack[AST_MAX_INCLUDE_DEPTH + 1]; /* real paths being loaded */
    int depth;
    uint32_t root;      /* diag file index of the main rule file */
    char **loaded;      /* real paths of every file read, to refuse a second include */
    size_t nloaded, cap_loaded;
} loader;

/* Reads the whole file (bounded by AST_MAX_FILE) into a NUL-terminated
 * buffer.  On error *err says why; *err_line is the line where the size
 * limit was crossed, 0 for other errors. */
static char *read_file(const char *path, size_t *len, const char **err, unsigned long *err_line)
{
    *err_line = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = strerror(errno);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = mem_alloc(cap);
    while (buf) {
        if (n > AST_MAX_FILE) {
            *err = "file larger than the limit of 4 MiB for a rule file";
            *err_line = 1;
            for (size_t i = 0; i < AST_MAX_FILE; i++)
                *err_line += buf[i] == '\n';
            break;
        }
        if (n + 1 >= cap) {
            char *g = mem_realloc(buf, cap * 2);
            if (!g) {
                *err = "out of memory";
                break;
            }
            buf = g;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                *err = strerror(errno);
                break;
            }
            fclose(f);
            buf[n] = '\0';
            *len = n;
            return buf;
        }
    }
    if (!buf)
        *err = "out of memory";
    fclose(f);
    mem_free(buf);
    return NULL;
}

static char *join_dir(const char *base, const char *rel)
{
    if (rel[0] == '/')
        return mem_strdup(rel);
    const char *slash = strrchr(base, '/');
    size_t dl = slash ? (size_t)(slash - base) + 1 : 0;
    size_t rl = strlen(rel);
    char *s = mem_alloc(dl + rl + 1);
    if (!s)
        return NULL;
    memcpy(s, base, dl);
    memcpy(s + dl, rel, rl + 1);
    return s;
}

static ast_decl *load_file(loader *L, const char *path, src_loc from);

static int was_loaded(const loader *L, const char *real)
{
    for (size_t i = 0; i < L->nloaded; i++)
        if (strcmp(L->loaded[i], real) == 0)
            return 1;
    return 0;
}

static int remember(loader *L, const char *real)
{
    char **v = mem_grow(L->loaded, &L->cap_loaded, L->nloaded + 1, sizeof *v);
    char *copy = mem_strdup(real);
    if (!v || !copy) {
        if (v)
            L->loaded = v;
        mem_free(copy);
        L->d->oom = 1;
        return 0;
    }
    L->loaded = v;
    L->loaded[L->nloaded++] = copy;
    return 1;
}

/* Replace each include declaration by the declarations of the file it names. */
static ast_decl *expand_includes(loader *L, ast_decl *decls, const char *path)
{
    ast_decl **link = &decls;
    while (*link) {
        ast_decl *d = *link;
        if (d->kind != D_INCLUDE) {
            link = &d->next;
            continue;
        }
        char *sub = join_dir(path, d->u.include.path);
        ast_decl *inc = sub ? load_file(L, sub, d->loc) : NULL;
        mem_free(sub);
        if (!sub)
            L->d->oom = 1;
        ast_decl *after = d->next;
        *link = inc;
        while (*link)
            link = &(*link)->next;
        *link = after;
    }
    return decls;
}

static int on_stack(loader *L, const char *real)
{
    for (int i = 0; i < L->depth; i++)
        if (strcmp(L->stack[i], real) == 0)
            return 1;
    return 0;
}

static ast_decl *load_file(loader *L, const char *path, src_loc from)
{
    const char *err = NULL;
    if (L->depth >= AST_MAX_INCLUDE_DEPTH) {
        diag_at(L->d, DIAG_ERROR, from, "includes nested deeper than the limit of %d", AST_MAX_INCLUDE_DEPTH);
        return NULL;
    }
    char *real = realpath(path, NULL); /* libc-allocated: freed with free() */
    if (real && on_stack(L, real)) {
        diag_at(L->d, DIAG_ERROR, from, "include cycle: '%s' is already being loaded", path);
        free(real);
        return NULL;
    }
    if (real && was_loaded(L, real)) {
        /* Its declarations are already in: a second copy would only
         * report every name twice, far from this line. */
        diag_at(L->d, DIAG_ERROR, from, "'%s' is already included", path);
        free(real);
        return NULL;
    }
    size_t len = 0;
    unsigned long err_line;
    char *text = read_file(path, &len, &err, &err_line);
    if (!text) {
        if (from.file == SRC_NONE)
            diag_data(L->d, path, err_line, "cannot read rule file: %s", err);
        else
            diag_at(L->d, DIAG_ERROR, from, "cannot read '%s': %s", path, err);
        free(real);
        return NULL;
    }
    sha256_update(&L->sha, len, (const uint8_t *)text);
    uint32_t id = diag_add_file(L->d, path, text, len);
    if (id == SRC_NONE) {
        free(real);
        return NULL;
    }
    if (L->depth == 0)
        L->root = id;
    if (real && !remember(L, real)) {
        free(real);
        return NULL;
    }
    int ok;
    ast_decl *decls = ast_parse(&L->p->ar, L->d, id, &ok);
    const char *p = L->d->files[id].path;
    if (ok) {
        L->stack[L->depth++] = real ? real : p;
        decls = expand_includes(L, decls, p);
        L->depth--;
    }
    free(real);
    return decls;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

tendo_program *tendo_load(const char *path, tendo_diags *d)
{
    tendo_program *p = mem_calloc(1, sizeof *p);
    if (!p) {
        d->oom = 1;
        return NULL;
    }
    arena_init(&p->ar);
    loader L = { .p = p, .d = d };
    sha256_init(&L.sha);
    size_t before = d->nerrors;
    ast_decl *decls = load_file(&L, path, (src_loc){ SRC_NONE, 0, 0 });
    for (size_t i = 0; i < L.nloaded; i++)
        mem_free(L.loaded[i]);
    mem_free(L.loaded);
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&L.sha, sizeof digest, digest);
    hex(digest, sizeof digest, p->sha256);
    /* A check that fails without recording why ran out of memory: the
     * half-checked program must not be used. */
    if (d->nerrors == before && !d->oom && !check_program(p, decls, d, L.root) && d->nerrors == before)
        d->oom = 1;
    /* Any allocation that failed while building the program (some are
     * only noticed as a missing piece) makes it unusable. */
    if (p->ar.failed)
        d->oom = 1;
    if (d->nerrors != before || d->oom) {
        tendo_program_free(p);
        return NULL;
    }
    return p;
}

void tendo_program_free(tendo_program *p)
{
    if (!p)
        return;
    rx_set_free(p->regexes);
    arena_free(&p->ar);
    mem_free(p);
}

const char *tendo_program_id(const tendo_program *p) { return p->id; }
const char *tendo_program_version(const tendo_program *p) { return p->version; }
const char *tendo_program_sha256(const tendo_program *p) { return p->sha256; }

const char *tendo_version(void)
{
#ifdef TENDO_VERSION
    return TENDO_VERSION;
#else
    return "0.0.0";
#endif
}

tendo_diags *tendo_diags_new(void)
{
    diag_list *d = mem_alloc(sizeof *d);
    if (d)
        diag_init(d);
    return d;
}

void tendo_diags_free(tendo_diags *d)
{
    if (!d)
        return;
    diag_free(d);
    mem_free(d);
}

size_t tendo_diags_errors(const tendo_diags *d) { return d->nerrors + (size_t)d->oom; }
void tendo_diags_print(tendo_diags *d, FILE *out) { diag_print(d, out); }

void tendo_diags_clear(tendo_diags *d)
{
    diag_truncate(d, 0);
    d->nerrors = 0;
    d->oom = 0;
}
