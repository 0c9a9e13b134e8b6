#include "devrec_origin.h"

#include <math.h>
#include <stdlib.h>

#include "gvoip/error.h"

double devrec_origin_of(const devrec_timing *t)
{
    if (!t || t->bytes_per_usec <= 0.0)
        return 0.0;
    double at = (double)t->index_bytes / t->bytes_per_usec;
    /* libpulse's own stream clock does the same sums; doing them here
     * keeps the report's timestamp, which pa_stream_get_time folds away. */
    if (t->record)
        at += (double)t->source_usec - (double)t->sink_usec;
    else
        at -= (double)t->sink_usec;
    return (double)t->timestamp_usec - at;
}

int devrec_origin_add(devrec_origin *o, double usec)
{
    if (!o)
        return GV_EINVAL;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 256;
        double *v = realloc(o->usec, cap * sizeof *v);
        if (!v)
            return GV_ENOMEM;
        o->usec = v;
        o->cap = cap;
    }
    o->usec[o->n++] = usec;
    return GV_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between the ranks of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    return i + 1 < n ? v[i] + frac * (v[i + 1] - v[i]) : v[n - 1];
}

int devrec_origin_median(devrec_origin *o, double *median, double *iqr)
{
    if (!o || o->n == 0 || !median)
        return GV_EINVAL;
    qsort(o->usec, o->n, sizeof *o->usec, cmp_double);
    *median = quantile(o->usec, o->n, 0.5);
    if (iqr)
        *iqr = quantile(o->usec, o->n, 0.75) - quantile(o->usec, o->n, 0.25);
    return GV_OK;
}

void devrec_origin_clear(devrec_origin *o)
{
    if (!o)
        return;
    free(o->usec);
    *o = (devrec_origin){0};
}

int devrec_origin_cuts(const double *origin_usec, size_t k, int rate, size_t *cut,
                       double *start_usec)
{
    if (!origin_usec || !cut || k == 0 || rate <= 0)
        return GV_EINVAL;
    double start = origin_usec[0];
    for (size_t i = 1; i < k; i++)
        if (origin_usec[i] > start)
            start = origin_usec[i];
    for (size_t i = 0; i < k; i++)
        cut[i] = (size_t)llround((start - origin_usec[i]) * rate / 1e6);
    if (start_usec)
        *start_usec = start;
    return GV_OK;
}
