#include "load_hist.h"

void load_hist_add(load_hist *h, int64_t us)
{
    uint64_t bin = us < 0 ? 0 : (uint64_t)us / LOAD_HIST_BIN_US;
    h->bins[bin > LOAD_HIST_BINS ? LOAD_HIST_BINS : bin]++;
    h->count++;
}

double load_hist_percentile_ms(const load_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    /* The smallest bin with at least p% of the samples at or below it;
     * reported at the bin's middle. */
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i <= LOAD_HIST_BINS; i++) {
        seen += h->bins[i];
        if (seen >= rank)
            return ((double)i + 0.5) * LOAD_HIST_BIN_US / 1000.0;
    }
    return (double)LOAD_HIST_BINS * LOAD_HIST_BIN_US / 1000.0;
}
