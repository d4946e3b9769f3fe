/*  fl_rng.c - reproducible ChaCha20-based generator (see fl_rng.h).

    The stream is produced in 1 KiB chunks; chunk i is the ChaCha20 keystream
    under the seed with the 8-byte nonce = little-endian i.  Keeping the
    chunking fixed is what makes a seed replay bit for bit.
*/
#include "fl_rng.h"

#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_CHUNK 1024u

struct fl_rng_t {
    uint8_t key[crypto_stream_chacha20_KEYBYTES];
    uint64_t chunk;          /* index of the next chunk to generate */
    uint8_t buf[S_CHUNK];
    size_t pos;              /* bytes of buf already consumed */
    int have_spare;          /* cached second normal of the polar method */
    double spare;
};

static void
s_refill (fl_rng_t *self)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint64_t c = self->chunk++;
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t) (c >> (8 * i));
    crypto_stream_chacha20 (self->buf, S_CHUNK, nonce, self->key);
    self->pos = 0;
}

fl_rng_t *
fl_rng_new (const uint8_t seed[FL_RNG_SEEDBYTES])
{
    assert (seed);
    if (sodium_init () < 0)
        return NULL;
    fl_rng_t *self = (fl_rng_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    memcpy (self->key, seed, sizeof self->key);
    s_refill (self);
    return self;
}

fl_rng_t *
fl_rng_new_u64 (uint64_t seed, uint64_t stream)
{
    if (sodium_init () < 0)
        return NULL;
    uint8_t in[16], key[FL_RNG_SEEDBYTES];
    for (int i = 0; i < 8; i++) {
        in[i] = (uint8_t) (seed >> (8 * i));
        in[8 + i] = (uint8_t) (stream >> (8 * i));
    }
    crypto_generichash (key, sizeof key, in, sizeof in, NULL, 0);
    fl_rng_t *self = fl_rng_new (key);
    sodium_memzero (key, sizeof key);
    return self;
}

fl_rng_t *
fl_rng_new_random (void)
{
    if (sodium_init () < 0)
        return NULL;
    uint8_t key[FL_RNG_SEEDBYTES];
    randombytes_buf (key, sizeof key);
    fl_rng_t *self = fl_rng_new (key);
    sodium_memzero (key, sizeof key);
    return self;
}

void
fl_rng_destroy (fl_rng_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_memzero (*self_p, sizeof **self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

void
fl_rng_bytes (fl_rng_t *self, void *buf, size_t len)
{
    uint8_t *out = (uint8_t *) buf;
    while (len > 0) {
        if (self->pos == S_CHUNK)
            s_refill (self);
        size_t take = S_CHUNK - self->pos;
        if (take > len)
            take = len;
        memcpy (out, self->buf + self->pos, take);
        self->pos += take;
        out += take;
        len -= take;
    }
}

uint32_t
fl_rng_u32 (fl_rng_t *self)
{
    uint8_t b[4];
    fl_rng_bytes (self, b, 4);
    return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

uint64_t
fl_rng_u64 (fl_rng_t *self)
{
    uint64_t lo = fl_rng_u32 (self);
    return lo | (uint64_t) fl_rng_u32 (self) << 32;
}

uint64_t
fl_rng_uniform (fl_rng_t *self, uint64_t n)
{
    assert (n > 0);
    /* Reject the top partial copy of [0, n) so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    uint64_t x;
    do
        x = fl_rng_u64 (self);
    while (x > limit);
    return x % n;
}

double
fl_rng_double (fl_rng_t *self)
{
    return (double) (fl_rng_u64 (self) >> 11) * 0x1.0p-53;
}

double
fl_rng_normal (fl_rng_t *self)
{
    if (self->have_spare) {
        self->have_spare = 0;
        return self->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * fl_rng_double (self) - 1.0;
        v = 2.0 * fl_rng_double (self) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt (-2.0 * log (s) / s);
    self->spare = v * m;
    self->have_spare = 1;
    return u * m;
}

double
fl_rng_gamma (fl_rng_t *self, double shape)
{
    assert (shape > 0);
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        double u;
        do
            u = fl_rng_double (self);
        while (u == 0.0);
        return fl_rng_gamma (self, shape + 1.0) * pow (u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt (9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = fl_rng_normal (self);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = fl_rng_double (self);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v;
        if (u > 0.0 && log (u) < 0.5 * x * x + d * (1.0 - v + log (v)))
            return d * v;
    }
}

void
fl_rng_shuffle_u32 (fl_rng_t *self, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t) fl_rng_uniform (self, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
