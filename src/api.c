/* api.c — the public face of the log reader and patient tables. */
#include "csvlog.h"
#include "date.h"
#include "mem.h"
#include "program.h"
#include "tendo.h"

#include <string.h>

tendo_log *tendo_log_open(const tendo_program *p, const char *path, tendo_diags *d)
{
    return logr_open(&p->sch, path, d);
}

int tendo_log_next(tendo_log *l, tendo_patient *pt, tendo_diags *d) { return logr_next(l, pt, d); }
void tendo_log_close(tendo_log *l) { logr_close(l); }
unsigned long tendo_log_rows(const tendo_log *l) { return logr_rows(l); }

tendo_patient *tendo_patient_new(void)
{
    patient *p = mem_alloc(sizeof *p);
    if (p)
        patient_init(p);
    return p;
}

void tendo_patient_free(tendo_patient *pt)
{
    if (!pt)
        return;
    patient_free(pt);
    mem_free(pt);
}

int tendo_parse_date(const char *s, int32_t *day)
{
    return date_parse(s, strlen(s), day);
}
