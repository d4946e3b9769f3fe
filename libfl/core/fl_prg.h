/*  fl_prg - expansion of a 32-byte seed into a mask vector over Z_2^32.

    Secure aggregation hides each client's encoded update x_u behind masks
    that cancel in the sum (Bonawitz et al., CCS 2017, §4, "Masking with
    one-time pads"): a self mask PRG(b_u) and pairwise masks PRG(s_uv).  The
    masks are as long as the model (up to millions of coordinates), so they
    are expanded from short seeds by a PRG, here ChaCha20 from libsodium.

    Definition (version "libfl-prg-v1"):
        key = BLAKE2b-256 (key = seed, message = "libfl-prg-v1" || ctx)
        PRG(seed, ctx)[i] = little-endian u32 at bytes 4i..4i+3 of the
                            crypto_stream_chacha20_ietf keystream under key,
                            with the all-zero 12-byte nonce.
    Binding ctx (the digest of protocol version, run id, round and bucket)
    into the key means one seed never yields the same mask in two rounds or
    buckets; the nonce can then be fixed because each key is used once.

    Limit: the IETF ChaCha20 block counter is 32 bits, so n <= 2^36
    coordinates (256 GiB of mask); exceeding it is a programmer error (assert).
    The functions work in 16 KiB chunks on the stack: no n-sized temporary.
*/
#ifndef FL_PRG_H_INCLUDED
#define FL_PRG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_PRG_SEEDBYTES 32u
#define FL_PRG_CTXBYTES  32u   /* digest of the session context (version, run id, round, bucket) */
#define FL_PRG_KEYBYTES  32u
#define FL_PRG_DOMAIN    "libfl-prg-v1"
#define FL_PRG_MAX_COORDS ((uint64_t) 1 << 36)

/*  vec[i] += PRG(seed, ctx)[i] (mod 2^32) for i < n, in place, chunked. */
void fl_prg_add (uint32_t *vec, size_t n, const uint8_t seed[FL_PRG_SEEDBYTES],
                 const uint8_t ctx[FL_PRG_CTXBYTES]);

/*  vec[i] -= PRG(seed, ctx)[i] (mod 2^32); undoes fl_prg_add exactly. */
void fl_prg_sub (uint32_t *vec, size_t n, const uint8_t seed[FL_PRG_SEEDBYTES],
                 const uint8_t ctx[FL_PRG_CTXBYTES]);

/*  out[i] = PRG(seed, ctx)[i] for i < n. */
void fl_prg_expand (uint32_t *out, size_t n, const uint8_t seed[FL_PRG_SEEDBYTES],
                    const uint8_t ctx[FL_PRG_CTXBYTES]);

/*  The ChaCha20 key for (seed, ctx) as defined above, for tests and for
    other implementations to check against.  key_out is secret: wipe it. */
void fl_prg_derive_key (uint8_t key_out[FL_PRG_KEYBYTES], const uint8_t seed[FL_PRG_SEEDBYTES],
                        const uint8_t ctx[FL_PRG_CTXBYTES]);

#ifdef __cplusplus
}
#endif
#endif
