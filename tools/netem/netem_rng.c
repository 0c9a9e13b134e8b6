#include "netem_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void netem_rng_seed(netem_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mixing the stream in before splitmix keeps nearby seeds and streams
     * far apart; splitmix never yields the all-zero xoshiro state in
     * practice, but guard anyway since that state is a fixed point. */
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95u);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

uint64_t netem_rng_next(netem_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double netem_rng_uniform(netem_rng *r)
{
    return (double)(netem_rng_next(r) >> 11) * 0x1.0p-53;
}

int netem_rng_chance(netem_rng *r, double percent)
{
    if (percent <= 0)
        return 0;
    if (percent >= 100)
        return 1;
    return netem_rng_uniform(r) * 100.0 < percent;
}

double netem_rng_normal(netem_rng *r)
{
    /* 1 - u is in (0, 1], so the logarithm is finite. */
    double u1 = 1.0 - netem_rng_uniform(r);
    double u2 = netem_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}
