/* rng.h: the small deterministic generators behind splits, shuffles, augmentation and synth.
 *
 * Everything random in datasets/ is a pure function of a seed and the indices involved (never
 * of thread timing), built from splitmix64: sl_rng_mix hashes numbers into a seed, sl_rng
 * steps a stream from it.
 */
#ifndef SL_DATASETS_RNG_H
#define SL_DATASETS_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} sl_rng;

static inline uint64_t sl_rng_splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A seed derived from `a` and `b`; chain it for more numbers. */
static inline uint64_t sl_rng_mix(uint64_t a, uint64_t b)
{
    return sl_rng_splitmix(sl_rng_splitmix(a) ^ (b + 0x632be59bd9b4e019ULL));
}

/* FNV-1a of a string, to seed from names. */
static inline uint64_t sl_rng_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}

static inline uint64_t sl_rng_next(sl_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    uint64_t x = r->s;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1). */
static inline double sl_rng_uniform(sl_rng *r)
{
    return (double)(sl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [lo, hi). */
static inline double sl_rng_range(sl_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sl_rng_uniform(r);
}

/* Uniform integer in [0, n), n > 0. */
static inline uint64_t sl_rng_below(sl_rng *r, uint64_t n)
{
    return sl_rng_next(r) % n;
}

/* Standard normal (Box-Muller, one value per call). */
static inline double sl_rng_normal(sl_rng *r)
{
    double u = sl_rng_uniform(r), v = sl_rng_uniform(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

#endif
