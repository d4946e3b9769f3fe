/*  fl_prg.c - ChaCha20 mask expansion (see fl_prg.h for the definition).

    The hot loop is "keystream a 16 KiB chunk, then add it into the vector",
    so the vector is read and written once and the chunk stays in L1.  The
    keystream comes from crypto_stream_chacha20_ietf_xor_ic over a zeroed
    block (XOR with zero is the keystream itself), with the block counter
    advanced per chunk, which is what lets us start anywhere in the stream.
*/
#include "fl_prg.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#define S_CHUNK_BYTES 16384u
#define S_CHUNK_WORDS (S_CHUNK_BYTES / 4u)
#define S_BLOCKS_PER_CHUNK (S_CHUNK_BYTES / 64u)

typedef enum { S_SET, S_ADD, S_SUB } s_op_t;

void
fl_prg_derive_key (uint8_t key_out[FL_PRG_KEYBYTES], const uint8_t seed[FL_PRG_SEEDBYTES],
                   const uint8_t ctx[FL_PRG_CTXBYTES])
{
    assert (key_out && seed && ctx);
    int rc = sodium_init ();
    assert (rc >= 0);
    (void) rc;
    crypto_generichash_state st;
    crypto_generichash_init (&st, seed, FL_PRG_SEEDBYTES, FL_PRG_KEYBYTES);
    crypto_generichash_update (&st, (const uint8_t *) FL_PRG_DOMAIN, strlen (FL_PRG_DOMAIN));
    crypto_generichash_update (&st, ctx, FL_PRG_CTXBYTES);
    crypto_generichash_final (&st, key_out, FL_PRG_KEYBYTES);
    sodium_memzero (&st, sizeof st);
}

static inline uint32_t
s_le32 (const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;             /* one unaligned load; lets the add loop vectorise */
    memcpy (&v, p, 4);
    return v;
#else
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
#endif
}

/*  v[i] (op)= le32(ks + 4i).  GCC at -O2 does not auto-vectorise this loop,
    and the add is then ~15% of the cost of the keystream, so the bulk goes
    through 16-byte GNU vector types (SSE2 / NEON baseline, no -march flags);
    memcpy keeps the loads and stores alignment- and aliasing-safe. */
typedef uint32_t s_v4u __attribute__ ((vector_size (16)));

static void
s_combine (uint32_t *v, const uint8_t *ks, size_t words, s_op_t op)
{
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; i + 4 <= words; i += 4) {
        s_v4u a, k;
        memcpy (&k, ks + 4 * i, 16);
        if (op == S_SET)
            a = k;
        else {
            memcpy (&a, v + i, 16);
            a = op == S_ADD ? a + k : a - k;
        }
        memcpy (v + i, &a, 16);
    }
#endif
    for (; i < words; i++) {
        uint32_t k = s_le32 (ks + 4 * i);
        v[i] = op == S_ADD ? v[i] + k : op == S_SUB ? v[i] - k : k;
    }
}

static void
s_apply (uint32_t *vec, size_t n, const uint8_t *seed, const uint8_t *ctx, s_op_t op)
{
    assert (vec || n == 0);
    assert ((uint64_t) n <= FL_PRG_MAX_COORDS);
    if (n == 0)
        return;
    uint8_t key[FL_PRG_KEYBYTES];
    fl_prg_derive_key (key, seed, ctx);
    const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
    uint8_t ks[S_CHUNK_BYTES] __attribute__ ((aligned (64)));
    uint32_t counter = 0;
    for (size_t off = 0; off < n; off += S_CHUNK_WORDS) {
        size_t words = n - off < S_CHUNK_WORDS ? n - off : S_CHUNK_WORDS;
        /* XOR in place over zeros, as crypto_stream_chacha20_ietf itself does:
           keeps the working set to the chunk and the vector slice. */
        memset (ks, 0, words * 4);
        crypto_stream_chacha20_ietf_xor_ic (ks, ks, words * 4, nonce, counter, key);
        counter += S_BLOCKS_PER_CHUNK;
        s_combine (vec + off, ks, words, op);
    }
    sodium_memzero (ks, sizeof ks);
    sodium_memzero (key, sizeof key);
}

void
fl_prg_add (uint32_t *vec, size_t n, const uint8_t seed[FL_PRG_SEEDBYTES],
            const uint8_t ctx[FL_PRG_CTXBYTES])
{
    s_apply (vec, n, seed, ctx, S_ADD);
}

void
fl_prg_sub (uint32_t *vec, size_t n, const uint8_t seed[FL_PRG_SEEDBYTES],
            const uint8_t ctx[FL_PRG_CTXBYTES])
{
    s_apply (vec, n, seed, ctx, S_SUB);
}

void
fl_prg_expand (uint32_t *out, size_t n, const uint8_t seed[FL_PRG_SEEDBYTES],
               const uint8_t ctx[FL_PRG_CTXBYTES])
{
    s_apply (out, n, seed, ctx, S_SET);
}
