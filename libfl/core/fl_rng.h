/*  fl_rng - a seeded, reproducible random number generator on ChaCha20.

    Every random choice in libfl that must be reproducible (weight
    initialisation, shuffling, train/test splits, partitions, cohort sampling
    in simulations) draws from an fl_rng_t, passed in explicitly: there is no
    global RNG.  The stream is the ChaCha20 keystream (libsodium
    crypto_stream_chacha20) under a 32-byte seed, so a generator seeded from
    randombytes_buf() (fl_rng_new_random) is a CSPRNG, and one seeded from a
    fixed value replays exactly across machines.

    Floating-point samplers (normal, gamma) are for simulation and
    initialisation only; released DP noise uses fl_dp's discrete sampler.
*/
#ifndef FL_RNG_H_INCLUDED
#define FL_RNG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_RNG_SEEDBYTES 32u

typedef struct fl_rng_t fl_rng_t;

/*  A generator whose stream is fully determined by the 32-byte seed.
    Returns NULL only on allocation failure.  Caller owns the result. */
fl_rng_t *fl_rng_new (const uint8_t seed[FL_RNG_SEEDBYTES]);

/*  A generator for (seed, stream): the 32-byte key is BLAKE2b(seed || stream),
    so different streams of one run seed are independent.  Used for "run seed
    42, client 3" style reproducibility.  NULL on allocation failure. */
fl_rng_t *fl_rng_new_u64 (uint64_t seed, uint64_t stream);

/*  A generator keyed from the operating system CSPRNG (randombytes_buf). */
fl_rng_t *fl_rng_new_random (void);

/*  Frees the generator, wiping its key and buffer; nulls *self_p; safe on NULL. */
void fl_rng_destroy (fl_rng_t **self_p);

/*  Fills buf with len bytes of the stream. */
void fl_rng_bytes (fl_rng_t *self, void *buf, size_t len);

uint32_t fl_rng_u32 (fl_rng_t *self);
uint64_t fl_rng_u64 (fl_rng_t *self);

/*  Uniform integer in [0, n), without modulo bias (rejection). n must be > 0. */
uint64_t fl_rng_uniform (fl_rng_t *self, uint64_t n);

/*  Uniform double in [0, 1) with 53 random bits. */
double fl_rng_double (fl_rng_t *self);

/*  Standard normal N(0, 1) (Marsaglia polar method).  Not for released noise. */
double fl_rng_normal (fl_rng_t *self);

/*  Gamma(shape, 1) for shape > 0 (Marsaglia & Tsang 2000, "A simple method for
    generating gamma variables", with the shape < 1 boost).  Used for
    Dirichlet(alpha) label-skew partitions. */
double fl_rng_gamma (fl_rng_t *self, double shape);

/*  Uniformly random permutation of a[0..n) in place (Fisher-Yates). */
void fl_rng_shuffle_u32 (fl_rng_t *self, uint32_t *a, size_t n);

#ifdef __cplusplus
}
#endif
#endif
