/*  fl_roster - the consortium roster and members' long-term identity keys.

    The roster is the consortium's membership list, one file held by every
    member and by the coordinator (DESIGN §6).  For each member it names a
    member id, the Ed25519 identity public key that signs its secure-
    aggregation key advertisements (Bonawitz et al., CCS 2017, §6: the
    active-adversary variant needs a PKI so the server cannot invent
    sybils), and the CURVE public key its ZeroMQ connection authenticates
    with (the coordinator's zauth allows exactly these keys).  The
    coordinator has its own entry: clients need its CURVE key to connect.

    File format: CZMQ ZPL (zconfig), e.g.

        roster
            coordinator
                identity = "<Ed25519 public key, 64 hex chars>"
                curve = "<CURVE public key, 40 Z85 chars>"
                endpoint = "tcp://coord.example:5555"      (optional)
            policy                                          (optional)
                gamma = 0.15
                min_bucket = 3
                graphs = "complete harary"
            member = "hospital-01"
                identity = "..."
                curve = "..."

    The policy is the consortium's secure-aggregation policy that every
    client enforces on the sessions the coordinator announces
    (fl_secagg_policy_t, docs/SECAGG.md §6.1); absent, the default
    (fl_secagg_policy_default: gamma 0.15, buckets of at least 3, both
    graphs).  It is part of the roster digest.

    Loading is strict: every key is decoded and length-checked, identity
    keys must be valid Ed25519 points, member ids, identity keys and CURVE
    keys must be unique (the coordinator's included), unknown entries are
    refused, and sizes are checked before allocating.

    The second half of this header loads and saves identity key files made by
    fl-keygen: NAME.identity (public, 64 hex chars) and NAME.identity_secret
    (libsodium's 64-byte Ed25519 secret key, 128 hex chars, mode 0600).
*/
#ifndef FL_ROSTER_H_INCLUDED
#define FL_ROSTER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_secagg.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_ROSTER_MAX_MEMBERS     65535u  /* = FL_SHAMIR_MAX_PARTIES: one share index each */
#define FL_ROSTER_ID_MAX          64u     /* member id: 1..64 of [A-Za-z0-9._-], alnum first */
#define FL_ROSTER_IDENTITYBYTES   32u     /* Ed25519 public key */
#define FL_ROSTER_CURVE_Z85_LEN   40u     /* CURVE public key, Z85 text */
#define FL_ROSTER_CURVEBYTES      32u
#define FL_ROSTER_MAX_FILE_BYTES  (64u << 20)   /* refuse larger roster files before parsing */
#define FL_IDENTITY_SECRETBYTES   64u     /* crypto_sign_SECRETKEYBYTES: seed || public key */

typedef struct fl_roster_t fl_roster_t;

/*  An empty roster (no coordinator, no members), for building rosters in
    tools and tests.  NULL on allocation failure.  Caller owns it. */
fl_roster_t *fl_roster_new (void);

/*  Loads and validates a roster file.  NULL + zsys_error naming the file and
    the entry on: missing/unreadable/oversized file, invalid ZPL, no "roster"
    section, missing or repeated coordinator, unknown entry, bad key encoding
    or length, invalid Ed25519 point, invalid member id (characters, length),
    duplicate member id, identity key or CURVE key, no members (empty roster),
    more than FL_ROSTER_MAX_MEMBERS members. */
fl_roster_t *fl_roster_load (const char *path);

/*  Loads an entry file: the same format and the same checks as
    fl_roster_load, except that the coordinator and members may be absent
    (at least one coordinator, member or policy entry is required).  This is
    what `fl-keygen --name` writes to NAME.entry and what
    `fl-keygen roster merge/add` reads (docs/SECURITY.md, "The roster").
    NULL + zsys_error on the same errors otherwise.  Caller owns it. */
fl_roster_t *fl_roster_load_entries (const char *path);

/*  Writes the roster in the format above, atomically (path.tmp, fsync,
    rename).  -1 + zsys_error if there is no coordinator, no member, or on
    an I/O error.  Overwrites an existing file at path. */
int fl_roster_save (const fl_roster_t *self, const char *path);

/*  Frees the roster, nulls *self_p; safe on NULL and twice. */
void fl_roster_destroy (fl_roster_t **self_p);

/*  Sets the coordinator entry.  curve_z85 is a 40-char Z85 CURVE public key;
    endpoint may be NULL.  -1 + zsys_error on a bad key or a key already used
    by a member; -1 if a coordinator was already set. */
int fl_roster_set_coordinator (fl_roster_t *self, const uint8_t identity_pk[FL_ROSTER_IDENTITYBYTES],
                               const char *curve_z85, const char *endpoint);

/*  Appends a member.  -1 + zsys_error on invalid id, bad key, duplicate id
    or key, or a full roster.  The member's position is fl_roster_size - 1. */
int fl_roster_add_member (fl_roster_t *self, const char *id,
                          const uint8_t identity_pk[FL_ROSTER_IDENTITYBYTES], const char *curve_z85);

/*  Number of members (the coordinator is not a member). */
size_t fl_roster_size (const fl_roster_t *self);

/*  Accessors for member i < fl_roster_size (assert otherwise).  Pointers are
    owned by the roster and valid until it is destroyed. */
const char *fl_roster_member_id (const fl_roster_t *self, size_t i);
const uint8_t *fl_roster_identity_pk (const fl_roster_t *self, size_t i);   /* 32 bytes */
const char *fl_roster_curve_pk (const fl_roster_t *self, size_t i);         /* 40 Z85 chars */
const uint8_t *fl_roster_curve_pk_bin (const fl_roster_t *self, size_t i);  /* 32 bytes */

/*  Member position, or -1 if no member matches (the coordinator's keys
    never match: use the coordinator accessors).  Lookups are hashed. */
int fl_roster_find_by_id (const fl_roster_t *self, const char *id);
int fl_roster_find_by_curve (const fl_roster_t *self, const char *z85);
int fl_roster_find_by_identity (const fl_roster_t *self, const uint8_t pk[FL_ROSTER_IDENTITYBYTES]);

/*  Coordinator entry; the key accessors return NULL when none is set. */
bool fl_roster_has_coordinator (const fl_roster_t *self);
const uint8_t *fl_roster_coordinator_identity_pk (const fl_roster_t *self);
const char *fl_roster_coordinator_curve_pk (const fl_roster_t *self);
const char *fl_roster_coordinator_endpoint (const fl_roster_t *self);  /* NULL if none */

#define FL_ROSTER_DIGESTBYTES 32u
/*  A digest of the roster's content, so sites can check they hold the same
    membership (fl-coordinator writes it in its report, fl-client logs it at
    start): BLAKE2b-256 (crypto_generichash) over a version label, the
    coordinator's entry (identity key, CURVE key, endpoint) if present, then
    every member in file order (id, identity key, CURVE key), then, only if
    the roster has a "policy" section, 'P', gamma (IEEE-754 bits, u64 LE),
    min_bucket u32, graphs u32 (so rosters without a policy keep the digest
    they had), each field length-prefixed or fixed-size so no two rosters
    share an encoding.
    Independent of the file's layout (comments, indentation, key spelling):
    two files that load to the same roster have the same digest; adding,
    removing, reordering or re-keying a member, or changing the policy,
    changes it.  Writes
    FL_ROSTER_DIGESTBYTES bytes to out. */
void fl_roster_digest (const fl_roster_t *self, uint8_t out[FL_ROSTER_DIGESTBYTES]);

/*  The consortium's secure-aggregation policy: the roster's "policy"
    section, or fl_secagg_policy_default when it has none.  Never fails. */
void fl_roster_policy (const fl_roster_t *self, fl_secagg_policy_t *out);

/*  Whether the file had a "policy" section (or set_policy was called). */
bool fl_roster_has_policy (const fl_roster_t *self);

/*  Sets the policy (tools and tests; saved and digested with the roster).
    -1 + zsys_error if fl_secagg_policy_valid refuses it. */
int fl_roster_set_policy (fl_roster_t *self, const fl_secagg_policy_t *policy);

/*  True iff id is a valid member id (1..FL_ROSTER_ID_MAX chars of
    [A-Za-z0-9._-], first one alphanumeric: safe as a file name). */
/*  The members' CURVE public keys as an in-memory zauth certificate store:
    each certificate carries the metadata "fl-member" = member id, which
    ZeroMQ attaches to every frame from that peer (fl_transport reads it).
    The coordinator's key is not included.  Caller owns the store (or passes
    it to fl_transport_server_new, which takes it).  NULL on allocation
    failure. */
struct _zcertstore_t;
struct _zcertstore_t *fl_roster_certstore (const fl_roster_t *self);

/*  Loads this site's CURVE certificate written by fl-keygen: path is the
    public file (NAME.curve); the secret is read from path + "_secret".
    Refused (NULL, logged) if either file is missing or malformed, the
    secret file is readable by group or others, or it holds no secret key.
    Caller owns the certificate (zcert_destroy). */
struct _zcert_t;
struct _zcert_t *fl_curve_cert_load (const char *path);

bool fl_roster_id_valid (const char *id);

/* ---- identity key files ------------------------------------------------ */

/*  Writes an Ed25519 identity key pair: public_path gets the public key as
    64 hex chars + newline (mode 0644), secret_path the 64-byte secret key as
    128 hex chars + newline (mode 0600, created with O_EXCL).  Refuses (-1 +
    zsys_error) if either file exists; on a later failure removes what it
    created.  The secret is wiped from every intermediate buffer. */
int fl_identity_save (const char *public_path, const char *secret_path,
                      const uint8_t pk[FL_ROSTER_IDENTITYBYTES],
                      const uint8_t sk[FL_IDENTITY_SECRETBYTES]);

/*  Loads an identity secret key file into sodium_malloc'd memory (64 bytes,
    read-only protected).  NULL + zsys_error if the file is missing, not a
    regular file, readable or writable by group or others (mode & 077), not
    exactly 128 hex chars (plus optional trailing newline), or if the public
    half does not match the seed (corrupt key).  Free with
    fl_identity_secret_destroy. */
uint8_t *fl_identity_load_secret (const char *path);

/*  Wipes and frees a secret key from fl_identity_load_secret; nulls *sk_p. */
void fl_identity_secret_destroy (uint8_t **sk_p);

/*  Reads a public identity file (64 hex chars + optional newline) into pk.
    -1 + zsys_error on a missing file, bad length or encoding, or a key that
    is not a valid Ed25519 point.  Writes nothing on failure. */
int fl_identity_load_public (const char *path, uint8_t pk[FL_ROSTER_IDENTITYBYTES]);

#ifdef __cplusplus
}
#endif
#endif
