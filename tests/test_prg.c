/*  test_prg.c - fl_prg: known answers (libsodium primitives used directly,
    plus golden words from an independent Python implementation), add/sub
    inverse, context separation, chunk boundaries and tiny lengths. */
#include "fl_prg.h"
#include "fl_test.h"

#include <sodium.h>
#include <stdint.h>

static uint8_t seed[32], ctx[32];

static void
s_fixture (void)
{
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t) i;
        ctx[i] = (uint8_t) (0x40 + i);
    }
}

/*  Reference computed here from the definition, with libsodium primitives
    called directly: key = BLAKE2b-256(key = seed, "libfl-prg-v1" || ctx),
    stream = crypto_stream_chacha20_ietf(key, nonce 0). */
static void
s_reference (uint32_t *out, size_t n)
{
    uint8_t msg[12 + 32], key[32], nonce[12] = {0};
    memcpy (msg, "libfl-prg-v1", 12);
    memcpy (msg + 12, ctx, 32);
    crypto_generichash (key, 32, msg, sizeof msg, seed, 32);
    uint8_t *ks = (uint8_t *) malloc (4 * n + 1);
    crypto_stream_chacha20_ietf (ks, 4 * n, nonce, key);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint32_t) ks[4 * i] | (uint32_t) ks[4 * i + 1] << 8
                 | (uint32_t) ks[4 * i + 2] << 16 | (uint32_t) ks[4 * i + 3] << 24;
    free (ks);
}

static void
test_known_answer (void)
{
    /* Golden values from tools-independent Python (hashlib.blake2b + a pure
       Python RFC 8439 ChaCha20 checked against RFC 8439 §2.3.2):
       key  = e84662f3b441d4e959609f88b006198b14c1330993024d6c1f2c416be0241c83 */
    const uint8_t golden_key[32] = {
        0xe8, 0x46, 0x62, 0xf3, 0xb4, 0x41, 0xd4, 0xe9, 0x59, 0x60, 0x9f, 0x88, 0xb0, 0x06, 0x19, 0x8b,
        0x14, 0xc1, 0x33, 0x09, 0x93, 0x02, 0x4d, 0x6c, 0x1f, 0x2c, 0x41, 0x6b, 0xe0, 0x24, 0x1c, 0x83};
    uint8_t key[32];
    fl_prg_derive_key (key, seed, ctx);
    FL_CHECK (memcmp (key, golden_key, 32) == 0);

    const size_t n = 4096 * 3 + 100;      /* crosses three 16 KiB chunk boundaries */
    uint32_t *got = (uint32_t *) malloc (n * 4), *ref = (uint32_t *) malloc (n * 4);
    fl_prg_expand (got, n, seed, ctx);
    s_reference (ref, n);
    FL_CHECK (memcmp (got, ref, n * 4) == 0);
    FL_CHECK (got[0] == 0xed676570u);
    FL_CHECK (got[1] == 0x1b13cd2au);
    FL_CHECK (got[2] == 0x7f079cf0u);
    FL_CHECK (got[3] == 0x1c3f95ddu);
    FL_CHECK (got[12293] == 0x48cf2b32u);  /* inside the 4th chunk */

    /* add on a zero vector = expand; add on x = x + expand. */
    uint32_t *v = (uint32_t *) calloc (n, 4);
    fl_prg_add (v, n, seed, ctx);
    FL_CHECK (memcmp (v, ref, n * 4) == 0);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        v[i] = (uint32_t) i * 2654435761u;
    fl_prg_add (v, n, seed, ctx);
    for (size_t i = 0; i < n; i++)
        ok &= v[i] == (uint32_t) ((uint32_t) i * 2654435761u + ref[i]);
    FL_CHECK (ok);
    fl_prg_sub (v, n, seed, ctx);
    ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= v[i] == (uint32_t) i * 2654435761u;
    FL_CHECK (ok);
    free (got);
    free (ref);
    free (v);
}

/*  Every length around the chunk size and tiny ones: prefix property (a
    shorter expansion is a prefix of a longer one) and add/sub identity. */
static void
test_lengths (void)
{
    const size_t big = 3 * 4096 + 7;
    uint32_t *full = (uint32_t *) malloc (big * 4);
    fl_prg_expand (full, big, seed, ctx);
    const size_t lens[] = {0, 1, 2, 3, 15, 16, 17, 4095, 4096, 4097, 8191, 8192, 8193, big};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t n = lens[k];
        uint32_t *a = (uint32_t *) malloc (n * 4 + 4), *b = (uint32_t *) malloc (n * 4 + 4);
        a[n] = b[n] = 0xDEADBEEF;          /* canary: nothing written past n */
        fl_prg_expand (a, n, seed, ctx);
        FL_CHECK (memcmp (a, full, n * 4) == 0);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint32_t) (i * 7919u);
        fl_prg_add (b, n, seed, ctx);
        fl_prg_sub (b, n, seed, ctx);
        int ok = 1;
        for (size_t i = 0; i < n; i++)
            ok &= b[i] == (uint32_t) (i * 7919u);
        FL_CHECK (ok);
        FL_CHECK (a[n] == 0xDEADBEEF && b[n] == 0xDEADBEEF);
        free (a);
        free (b);
    }
    fl_prg_add (NULL, 0, seed, ctx);       /* n = 0 touches nothing */
    free (full);
}

/*  Different ctx or seed -> unrelated streams; masks cancel pairwise. */
static void
test_separation (void)
{
    const size_t n = 1000;
    uint32_t a[1000], b[1000], c[1000];
    uint8_t ctx2[32], seed2[32];
    memcpy (ctx2, ctx, 32);
    ctx2[31] ^= 1;                          /* e.g. the next round */
    memcpy (seed2, seed, 32);
    seed2[0] ^= 0x80;
    fl_prg_expand (a, n, seed, ctx);
    fl_prg_expand (b, n, seed, ctx2);
    fl_prg_expand (c, n, seed2, ctx);
    int same_b = 0, same_c = 0;
    for (size_t i = 0; i < n; i++) {
        same_b += a[i] == b[i];
        same_c += a[i] == c[i];
    }
    FL_CHECK (same_b <= 1);
    FL_CHECK (same_c <= 1);
    /* pairwise masks: client u adds, client v subtracts the same seed -> sum unmasked */
    uint32_t xu[1000], xv[1000];
    for (size_t i = 0; i < n; i++) {
        xu[i] = (uint32_t) i;
        xv[i] = (uint32_t) (3 * i);
    }
    fl_prg_add (xu, n, seed2, ctx2);
    fl_prg_sub (xv, n, seed2, ctx2);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= (uint32_t) (xu[i] + xv[i]) == (uint32_t) (4 * i);
    FL_CHECK (ok);
    /* Rough uniformity: mean of the top bit over 32,000 words is 1/2 +- 6 sd. */
    uint32_t *w = (uint32_t *) malloc (32000 * 4);
    fl_prg_expand (w, 32000, seed, ctx);
    int ones = 0;
    for (int i = 0; i < 32000; i++)
        ones += (int) (w[i] >> 31);
    FL_CHECK (ones > 16000 - 6 * 90 && ones < 16000 + 6 * 90);
    free (w);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_CHECK (sodium_init () >= 0);
    s_fixture ();
    FL_RUN (test_known_answer);
    FL_RUN (test_lengths);
    FL_RUN (test_separation);
    FL_TEST_DONE ();
}
