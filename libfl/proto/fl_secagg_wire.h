/*  fl_secagg_wire - secure-aggregation messages on the wire.

    fl_secagg's state machines speak in fl_secagg_msg_t structs and know
    nothing of bytes; this module maps each one to a SECAGG wire message
    (docs/WIRE.md) and back.  Decoding checks, per message kind, that exactly
    the right payload key is present, that every record has its exact size,
    and that counts are within fl_secagg's limits, before allocating the
    struct.  Semantic checks (signatures, AEAD tags, phase, membership) stay
    in fl_secagg.

    Records (little-endian): advert = index u32, c_pk 32, s_pk 32, sig 64
    (132 bytes); ciphertext = sender u32, receiver u32, ct 120 (128);
    signature = index u32, sig 64 (68); unmasking share = owner u32, kind
    u32, value 40 (48).
*/
#ifndef FL_SECAGG_WIRE_H_INCLUDED
#define FL_SECAGG_WIRE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_secagg.h"
#include "fl_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_SECAGG_WIRE_ADVERTBYTES 132u
#define FL_SECAGG_WIRE_CIPHERBYTES 128u
#define FL_SECAGG_WIRE_SIGRECBYTES 68u
#define FL_SECAGG_WIRE_SHAREBYTES  48u

/*  Encodes msg, a message of secure aggregation bucket `bucket` in (run_id,
    round), into (*buf, *len) (malloc'd, caller frees).  -1 on encoding failure
    (logged). */
int fl_secagg_msg_to_wire (const fl_secagg_msg_t *msg, const uint8_t run_id[FL_WIRE_RUNIDBYTES],
                           uint64_t round, uint32_t bucket, uint8_t **buf, size_t *len);

/*  Decodes a validated SECAGG wire message into a new fl_secagg_msg_t
    (caller owns; fl_secagg_msg_destroy) and its bucket.  NULL with a reason
    in why for: an unknown kind, a missing or superfluous payload key, a
    record of the wrong size, a count over the limit, sender or receiver out
    of range. */
fl_secagg_msg_t *fl_secagg_msg_from_wire (const fl_wire_msg_t *m, uint32_t *bucket, char *why, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
