/*  fl_secagg - secure aggregation client and server state machines, no I/O.

    One bucket of one round of secure aggregation: Bonawitz et al., "Practical
    Secure Aggregation for Privacy-Preserving Machine Learning" (CCS 2017),
    the variant secure against an active server (Fig. 4 of the paper: signed
    key advertisements and a ConsistencyCheck round), with the sparse
    neighbour graph of Bell et al., "Secure Single-Server Aggregation with
    (Poly)Logarithmic Overhead" (CCS 2020, "SecAgg+").  The protocol as
    implemented, the state diagrams, the invariants, parameter selection and
    the threat model are in docs/SECAGG.md.

    Sans-I/O: neither machine touches a socket or a clock.  A client consumes
    server messages and emits at most one message per input; the server
    consumes client messages and "deadline passed" events and queues messages
    in an outbox.  The transport (fl_round / fl_wire) carries them.

    Clients inside a bucket are indices 0..n-1; the integrator maps them to
    roster members and gives both machines the roster's Ed25519 identity
    public keys in index order.  Replay protection comes from the session
    context ctx = (protocol version, run id, round, bucket, purpose,
    parameters, round binding), hashed to
    FL_PRG_CTXBYTES and bound into every signature, key derivation, PRG and
    AEAD associated data.

    Messages are flat C structs (arrays of fixed-size records with counts) so
    that fl_wire can translate them to msgpack one-to-one.

    This header is the protocol's one public face.  The code is in five
    parts, each opening with its own definitions, invariants and diagram:
      fl_secagg_ctx.c     session context, key derivation, domain separation
                          (private header fl_secagg_ctx.h)
      fl_secagg_graph.c   neighbour graph, parameters (k, t from gamma,
                          delta), policy, bucket membership, configuration
                          check (private header fl_secagg_graph.h)
      fl_secagg_msg.c     the messages' constructor, destructor and names
      fl_secagg_client.c  the client machine
      fl_secagg_server.c  the server machine
*/
#ifndef FL_SECAGG_H_INCLUDED
#define FL_SECAGG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_prg.h"
#include "fl_shamir.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_SECAGG_VERSION          1u
#define FL_SECAGG_RUNIDBYTES       16u
#define FL_SECAGG_CTXBYTES         FL_PRG_CTXBYTES          /* 32: session context digest */
#define FL_SECAGG_BINDINGBYTES     32u                      /* round binding (model fingerprint) */
#define FL_SECAGG_PUBLICKEYBYTES   32u                      /* X25519 public key */
#define FL_SECAGG_IDPUBLICKEYBYTES 32u                      /* Ed25519 public key */
#define FL_SECAGG_IDSECRETKEYBYTES 64u                      /* Ed25519 secret key (libsodium layout) */
#define FL_SECAGG_SIGBYTES         64u                      /* Ed25519 signature */
#define FL_SECAGG_SHAREBYTES       FL_SHAMIR_SHAREBYTES     /* 40: one Shamir share value */
/*  Share ciphertext: XChaCha20-Poly1305 nonce (24) || E(share of s_sk || share of b) (80)
    || tag (16). */
#define FL_SECAGG_NONCEBYTES       24u
#define FL_SECAGG_PLAINBYTES       (2u * FL_SECAGG_SHAREBYTES)
#define FL_SECAGG_CIPHERTEXTBYTES  (FL_SECAGG_NONCEBYTES + FL_SECAGG_PLAINBYTES + 16u)  /* 120 */
/*  Limits checked before anything is allocated (fl_wire should check them too). */
#define FL_SECAGG_MAX_CLIENTS      65535u   /* Shamir x-coordinates are index + 1 */
#define FL_SECAGG_MAX_LENGTH       (1u << 28)   /* m: coordinates of one input vector */
/*  Pseudo sender / receiver index of the server. */
#define FL_SECAGG_SERVER           UINT32_MAX

/*  Neighbour graph (Bell et al. 2020 §3): every client shares its secrets
    with, and masks pairwise with, its neighbourhood.
    COMPLETE: everyone in U1 (Bonawitz et al. 2017).
    HARARY:   the k-regular Harary graph H(k-1, |U1|) on a ring whose order
              is a pseudorandom permutation derived from the hash of the
              session context and all key advertisements (docs/SECAGG.md §4);
              neighbourhood size k counts the client itself, k must be odd. */
typedef enum {
    FL_SECAGG_GRAPH_COMPLETE = 0,
    FL_SECAGG_GRAPH_HARARY   = 1
} fl_secagg_graph_t;

/*  Configuration, identical for every client of a bucket and for its server
    except my_index and id_secret_key.  All pointers are borrowed for the
    duration of _new only (everything is copied). */
typedef struct {
    uint32_t version;                           /* FL_SECAGG_VERSION */
    uint8_t  run_id[FL_SECAGG_RUNIDBYTES];
    uint64_t round;
    uint32_t bucket;
    uint32_t purpose;                           /* FL_SECAGG_PURPOSE_*: what is aggregated (in ctx) */
    uint32_t n;                                 /* clients in the bucket, 2..MAX_CLIENTS */
    uint32_t t;                                 /* reconstruction threshold, 1 < t <= k */
    fl_secagg_graph_t graph;
    uint32_t k;                                 /* HARARY: neighbourhood size incl. self, odd,
                                                   3..n; ignored for COMPLETE (k = |U1|) */
    size_t   m;                                 /* input vector length, 1..MAX_LENGTH */
    const uint8_t *roster_pks;                  /* n x 32 bytes: Ed25519 identity public keys */
    /*  Client only: */
    uint32_t my_index;                          /* 0..n-1 */
    const uint8_t *id_secret_key;               /* 64 bytes, Ed25519 secret key of my_index */
    /*  Optional (NULL = 32 zero bytes): a fingerprint of what this round is
        about (the global model), part of the session context (so of every
        signature, AEAD and key derivation) and signed again in the
        ConsistencyCheck: clients shown different models never agree on a
        key advertisement, so no share of one is revealed to the other. */
    const uint8_t *round_binding;
    /*  Client only, optional (NULL = none): the consortium's policy;
        fl_secagg_client_new refuses (NULL, logged with what was offered and
        what is required) a configuration fl_secagg_policy_check refuses. */
    const struct fl_secagg_policy_s *policy;
} fl_secagg_config_t;

/*  What a secure aggregation sums.  Several aggregations share a (run,
    round, bucket): round 0 statistics, training round r and the evaluation
    of round r's model.  The purpose is part of the session context, so a
    message of one can never be accepted in another (docs/SECAGG.md §2). */
#define FL_SECAGG_PURPOSE_TRAIN 0u     /* model updates (the default: zeroed config) */
#define FL_SECAGG_PURPOSE_STATS 1u     /* round 0 feature statistics */
#define FL_SECAGG_PURPOSE_EVAL  2u     /* federated-evaluation counts */
#define FL_SECAGG_PURPOSE_MAX   2u

/*  --- messages ------------------------------------------------------------ */

typedef enum {
    FL_SECAGG_MSG_ADVERTISE = 1,       /* client -> server: advert */
    FL_SECAGG_MSG_ADVERTISE_LIST,      /* server -> client: adverts (U1) */
    FL_SECAGG_MSG_SHARES,              /* client -> server: ciphertexts, one per neighbour */
    FL_SECAGG_MSG_SHARES_RELAY,        /* server -> client: ciphertexts addressed to it (U2) */
    FL_SECAGG_MSG_MASKED_INPUT,        /* client -> server: masked input y_u */
    FL_SECAGG_MSG_SURVIVORS,           /* server -> client: U3 */
    FL_SECAGG_MSG_CONSISTENCY,         /* client -> server: signature over (ctx, U1, U3, binding) */
    FL_SECAGG_MSG_SIGNATURE_LIST,      /* server -> client: signatures (U4) */
    FL_SECAGG_MSG_UNMASK,              /* client -> server: one share per neighbour in U2 */
    FL_SECAGG_MSG_ABORT,               /* server -> client: bucket aborted (unauthenticated) */
    FL_SECAGG_MSG_KIND_MAX
} fl_secagg_msg_kind_t;

/*  Which secret an unmasking share belongs to. */
#define FL_SECAGG_SHARE_SELF_MASK 1u   /* share of b_v  (v in U3)      */
#define FL_SECAGG_SHARE_MASK_KEY  2u   /* share of s_v^SK (v in U2\U3) */

typedef struct {                        /* AdvertiseKeys record */
    uint32_t index;
    uint8_t  c_pk[FL_SECAGG_PUBLICKEYBYTES];    /* encryption key */
    uint8_t  s_pk[FL_SECAGG_PUBLICKEYBYTES];    /* masking key */
    uint8_t  sig[FL_SECAGG_SIGBYTES];           /* Ed25519 over (ctx, index, c_pk, s_pk) */
} fl_secagg_advert_t;

typedef struct {                        /* one encrypted share pair */
    uint32_t sender, receiver;
    uint8_t  ct[FL_SECAGG_CIPHERTEXTBYTES];
} fl_secagg_ciphertext_t;

typedef struct {                        /* one ConsistencyCheck signature */
    uint32_t index;
    uint8_t  sig[FL_SECAGG_SIGBYTES];
} fl_secagg_signature_t;

typedef struct {                        /* one share revealed in Unmasking */
    uint32_t owner;                     /* v: whose secret */
    uint32_t kind;                      /* FL_SECAGG_SHARE_SELF_MASK or _MASK_KEY */
    uint8_t  value[FL_SECAGG_SHAREBYTES];  /* Shamir share at x = sender + 1 */
} fl_secagg_unmask_share_t;

/*  A message.  sender / receiver are client indices or FL_SECAGG_SERVER.
    Exactly the payload named by kind is valid.  Arrays are owned by the
    message (allocated by fl_secagg_msg_new) and freed by _destroy. */
typedef struct {
    fl_secagg_msg_kind_t kind;
    uint32_t sender;
    uint32_t receiver;
    union {
        fl_secagg_advert_t advert;                                      /* ADVERTISE */
        struct { fl_secagg_advert_t *items;       uint32_t count; } adverts;   /* ADVERTISE_LIST */
        struct { fl_secagg_ciphertext_t *items;   uint32_t count; } shares;    /* SHARES, SHARES_RELAY */
        struct { uint32_t *values;                size_t   count; } masked;    /* MASKED_INPUT */
        struct { uint32_t *ids;                   uint32_t count; } survivors; /* SURVIVORS */
        uint8_t sig[FL_SECAGG_SIGBYTES];                                /* CONSISTENCY */
        struct { fl_secagg_signature_t *items;    uint32_t count; } sigs;      /* SIGNATURE_LIST */
        struct { fl_secagg_unmask_share_t *items; uint32_t count; } unmask;    /* UNMASK */
        uint32_t abort_code;                                            /* ABORT */
    } u;
} fl_secagg_msg_t;

/*  A message of the given kind with room for count array items (count is the
    vector length m for MASKED_INPUT, ignored for ADVERTISE, CONSISTENCY,
    ABORT), zero-filled.  count is checked against FL_SECAGG_MAX_CLIENTS
    (record arrays) or FL_SECAGG_MAX_LENGTH (masked input) before allocating.
    Returns NULL (with a log line) on a bad kind, a count over the limit or
    allocation failure.  Caller owns the result.  This is the constructor
    fl_wire's decoder uses. */
fl_secagg_msg_t *fl_secagg_msg_new (fl_secagg_msg_kind_t kind, size_t count);

/*  Frees the message and its arrays (unmasking shares are wiped first);
    nulls *self_p; safe on NULL and twice. */
void fl_secagg_msg_destroy (fl_secagg_msg_t **self_p);

/*  Name of a message kind ("ADVERTISE", ...), "?" if out of range. */
const char *fl_secagg_msg_kind_name (int kind);

/*  Session context digest: BLAKE2b-256 over a domain label and the
    little-endian encoding of (version, run id, round, bucket, purpose, n,
    t, graph, k, m, round binding) (docs/SECAGG.md §2).  The protocol
    parameters are included so two parties configured differently never
    agree on anything; the round binding (the global model's hash) so that
    clients shown different models cannot complete one aggregation: their
    advertisement signatures, share AEAD and mask keys all differ from the
    first message on (Pasquini et al., CCS 2022, model inconsistency). */
void fl_secagg_ctx_digest (const fl_secagg_config_t *cfg, uint8_t out[FL_SECAGG_CTXBYTES]);

/*  --- parameter selection ------------------------------------------------ */

/*  Statistical security and correctness targets used by params_choose
    (Bell et al. 2020 use sigma = 40, eta = 30 in their concrete parameters). */
#define FL_SECAGG_SIGMA_BITS 40
#define FL_SECAGG_ETA_BITS   30

/*  Chooses the neighbourhood size k (incl. self; k == n means the complete
    graph) and the reconstruction threshold t for n clients of which at most
    a fraction gamma is corrupt (colluding with the coordinator) and a
    fraction delta drops out, such that, with the neighbourhood a uniformly
    random (k-1)-subset of the other clients and union-bounding over the n
    clients:
      privacy:     n * P[corrupt among k-1 neighbours >= 2t - k] <= 2^-sigma
                   (then corrupt holders plus one share from each honest
                   holder never give t shares of both secrets of an honest
                   client, nor t shares of either from corrupt holders alone);
      correctness: n * P[dropped among the k holders > k - t] <= 2^-eta.
    Tails are exact hypergeometric (docs/SECAGG.md §5).  Returns the smallest
    odd k (or k = n) with a feasible t, and the smallest such t.
    Returns -1 with a log line (and writes nothing) when n < 3 or
    n > FL_SECAGG_MAX_CLIENTS, gamma or delta outside [0, 1), or no (k, t)
    satisfies both bounds even for the complete graph (e.g. gamma + delta
    too large for n). */
int fl_secagg_params_choose (uint32_t n, double gamma, double delta,
                             uint32_t *k_out, uint32_t *t_out)
    __attribute__ ((warn_unused_result));

/*  params_choose with the dropout assumption picked for the bucket: tries
    delta = 0.25, 0.2, 0.15, 0.1, 0.05, 0 in that order and returns the first
    (largest) for which params_choose finds a safe (k, t), in *delta_out,
    *k_out and *t_out.  Privacy does not depend on delta (2t - k >= c* is
    fixed by gamma alone, see threshold_min below); a smaller delta only
    means fewer dropouts the bucket survives (t <= k - d*), so small
    consortia (3 to 7 clients at gamma = 0.15) run securely with the
    dropout tolerance they can afford instead of being refused.
    Returns 0; -1 (no log, nothing written) when n < 3, n > MAX_CLIENTS,
    gamma outside [0, 1), or no delta in the list is feasible. */
int fl_secagg_params_choose_auto (uint32_t n, double gamma, double *delta_out,
                                  uint32_t *k_out, uint32_t *t_out)
    __attribute__ ((warn_unused_result));

/*  Least reconstruction threshold that keeps an honest client's secrets
    private (the privacy condition of params_choose alone, docs/SECAGG.md
    §5): with n_C = ceil(gamma n) corrupt clients and u's neighbourhood of
    k (incl. u; k = n: the complete graph), c* = the least c with
    n P[C_u >= c] <= 2^-sigma, and t = max(2, ceil((k + c*) / 2)), i.e.
    2t - k >= c*.  On the complete graph c* = n_C + 1, so 2t > n + n_C:
    Bonawitz et al. 2017 §6's active-server bound.  The dropout fraction
    plays no part: it decides liveness (t <= k - d*), not privacy.  This is
    the t params_choose returns for the k it picks, so a client recomputing
    it from (n, k, gamma) gets exactly what an honest coordinator sent.
    Returns 0 and *t_out; -1 (no log) if n < 2, n > MAX_CLIENTS, k < 2,
    k > n, gamma outside [0, 1), or no t <= k satisfies it (c* > k - 1). */
int fl_secagg_threshold_min (uint32_t n, uint32_t k, double gamma, uint32_t *t_out)
    __attribute__ ((warn_unused_result));

/*  --- the consortium's security policy (client side) ---------------------- */

/*  What every client enforces on a session the coordinator announces,
    whatever the coordinator says (docs/SECAGG.md §6.1).  It comes from the
    roster every site holds (fl_roster_policy: section "policy"), so it is
    covered by the roster digest sites compare.
      gamma:      fraction of a bucket assumed to collude with the
                  coordinator, [0, 1): sets the least threshold;
      min_bucket: the smallest bucket a client joins (>= 2; a bucket of 2
                  shows each member the other's input: never the default);
      graphs:     allowed neighbour graphs, bit (1u << FL_SECAGG_GRAPH_*).
    The dropout fraction is not part of it: it only decides how many
    members may drop before a bucket aborts, which the coordinator can
    force anyway (docs/SECAGG.md §5). */
typedef struct fl_secagg_policy_s {
    double   gamma;
    uint32_t min_bucket;
    unsigned graphs;
} fl_secagg_policy_t;

#define FL_SECAGG_POLICY_GAMMA      0.15   /* default: = fl-coordinator's default --sa-corrupt */
#define FL_SECAGG_POLICY_MIN_BUCKET 3u
#define FL_SECAGG_POLICY_GRAPHS     ((1u << FL_SECAGG_GRAPH_COMPLETE) | (1u << FL_SECAGG_GRAPH_HARARY))

/*  The default policy (gamma 0.15, buckets of at least 3, both graphs). */
void fl_secagg_policy_default (fl_secagg_policy_t *policy);

/*  0 if the policy itself is well formed; else -1 with the reason in why
    (cap bytes, may be NULL): gamma outside [0, 1), min_bucket < 2 or above
    FL_SECAGG_MAX_CLIENTS, no graph or an unknown graph bit. */
int fl_secagg_policy_valid (const fl_secagg_policy_t *policy, char *why, size_t cap);

/*  Checks a session a coordinator announced (n clients, threshold t, graph,
    k; k is ignored for COMPLETE, where it is n) against the policy: refuses
    (-1, reason in why naming what was offered and what the policy requires)
    n < min_bucket, a graph not allowed, t > k, for HARARY an even k, k < 3
    or k >= n, a k below the least k the policy's gamma admits
    (params_choose (n, gamma, 0)), and t below fl_secagg_threshold_min (n,
    k, gamma).  On success returns 0 and, if t_min is not NULL, the least
    threshold the policy requires for this (n, k) (what the distributed-DP
    noise check must assume).  Source: Bonawitz et al. 2017 §6 (2t > n +
    n_C), Bell et al. 2020 §4 (the neighbourhood version, docs/SECAGG.md §5). */
int fl_secagg_policy_check (const fl_secagg_policy_t *policy, uint32_t n, uint32_t t, fl_secagg_graph_t graph,
                            uint32_t k, uint32_t *t_min, char *why, size_t cap)
    __attribute__ ((warn_unused_result));

/*  --- bucket membership (both ends compute it) ---------------------------- */

/*  The one rule that splits a cohort into buckets, run by the coordinator
    to form the buckets and by every client to verify its own, so the
    coordinator chooses who is in the cohort but not who is in which bucket
    (docs/SECAGG.md §4.1).  cohort: count roster positions, strictly
    ascending (roster order); buckets: 1..count.  Writes order[0..count):
    a permutation of 0..count-1 from a Fisher-Yates shuffle driven by
    ChaCha20 (fl_rng) keyed by BLAKE2b-256("libfl secagg buckets v1",
    run_id, round u64, purpose u32, buckets u32, count u32, cohort u32...);
    bucket b is cohort[order[i]] for i in [b count / buckets,
    (b + 1) count / buckets), in that order (a member's index in its
    bucket is i - b count / buckets).  Returns 0, or -1 (no log) on a
    cohort not strictly ascending, count 0 or above FL_SECAGG_MAX_COHORT,
    buckets outside 1..count, allocation failure. */
int fl_secagg_buckets_derive (const uint8_t run_id[FL_SECAGG_RUNIDBYTES], uint64_t round, uint32_t purpose,
                              const uint32_t *cohort, uint32_t count, uint32_t buckets, uint32_t *order)
    __attribute__ ((warn_unused_result));

#define FL_SECAGG_MAX_COHORT (1u << 24)

/*  --- client ---------------------------------------------------------------- */

typedef enum {
    FL_SECAGG_CLIENT_NEW = 0,     /* made; call fl_secagg_client_start */
    FL_SECAGG_CLIENT_ADVERTISED,  /* sent ADVERTISE; waits ADVERTISE_LIST */
    FL_SECAGG_CLIENT_SHARED,      /* sent SHARES; waits SHARES_RELAY */
    FL_SECAGG_CLIENT_MASKED,      /* sent MASKED_INPUT; waits SURVIVORS */
    FL_SECAGG_CLIENT_SIGNED,      /* sent CONSISTENCY; waits SIGNATURE_LIST */
    FL_SECAGG_CLIENT_DONE,        /* sent UNMASK; all secrets wiped */
    FL_SECAGG_CLIENT_ABORTED      /* refused something; all secrets wiped */
} fl_secagg_client_state_t;

typedef struct fl_secagg_client_t fl_secagg_client_t;

/*  New client for one bucket.  Copies cfg.  Returns NULL with a log line on
    invalid parameters (n, t, k, m, my_index out of range; NULL keys; even k
    for HARARY), parameters weaker than cfg.policy (when given), if
    sodium_init fails, or on allocation failure. */
fl_secagg_client_t *fl_secagg_client_new (const fl_secagg_config_t *cfg);

/*  Frees the client, wiping every secret; nulls *self_p; safe twice. */
void fl_secagg_client_destroy (fl_secagg_client_t **self_p);

/*  Sets the encoded input x (m values in Z_2^32), copied into guarded
    memory.  Must be called before the SHARES_RELAY message is handled.
    -1 if the client is past SHARED or aborted. */
int fl_secagg_client_set_input (fl_secagg_client_t *self, const uint32_t *x);

/*  AdvertiseKeys: makes the two fresh X25519 key pairs and returns the signed
    ADVERTISE message in *out (caller owns it).  -1 if not in state NEW. */
int fl_secagg_client_start (fl_secagg_client_t *self, fl_secagg_msg_t **out);

/*  Consumes one server message.  On success returns 0 and sets *out to the
    message to send (or NULL if none: after ABORT).  On any protocol
    violation -- wrong phase, wrong receiver, forged or unknown signature,
    AEAD failure, survivor set not a subset of U2, below threshold or
    without this client,
    signatures over a different set, ... -- the client moves to ABORTED,
    wipes its secrets, sets *out = NULL and returns -1;
    fl_secagg_client_error tells why.  The input message is borrowed. */
int fl_secagg_client_handle (fl_secagg_client_t *self, const fl_secagg_msg_t *in,
                             fl_secagg_msg_t **out);

fl_secagg_client_state_t fl_secagg_client_state (const fl_secagg_client_t *self);
const char *fl_secagg_client_state_name (int state);
/*  Why the client aborted ("" if it did not).  Names the offending client
    when there is one (e.g. "AEAD tag failed on share from client 7"). */
const char *fl_secagg_client_error (const fl_secagg_client_t *self);

/*  Did this client reveal a share of neighbour v's self mask / mask key?
    (Bit 0: self mask, bit 1: mask key.  Never both: invariant C1.) */
unsigned fl_secagg_client_revealed (const fl_secagg_client_t *self, uint32_t v);

/*  --- server ---------------------------------------------------------------- */

typedef enum {
    FL_SECAGG_SERVER_ADVERTISE = 0,   /* collects ADVERTISE (U1) */
    FL_SECAGG_SERVER_SHARE,           /* collects SHARES (U2) */
    FL_SECAGG_SERVER_MASKED,          /* collects MASKED_INPUT, sums them (U3) */
    FL_SECAGG_SERVER_CONSISTENCY,     /* collects CONSISTENCY (U4) */
    FL_SECAGG_SERVER_UNMASK,          /* collects UNMASK (U5) */
    FL_SECAGG_SERVER_DONE,            /* result available */
    FL_SECAGG_SERVER_ABORTED          /* fewer than t alive, or reconstruction failed */
} fl_secagg_server_state_t;

typedef struct fl_secagg_server_t fl_secagg_server_t;

/*  New server for one bucket (cfg.my_index and cfg.id_secret_key are
    ignored).  NULL with a log line on invalid parameters (as client_new). */
fl_secagg_server_t *fl_secagg_server_new (const fl_secagg_config_t *cfg);

/*  Frees the server, wiping reconstructed secrets and queued messages. */
void fl_secagg_server_destroy (fl_secagg_server_t **self_p);

/*  Consumes one client message.  Returns 0 if accepted, -1 if rejected:
    sender out of range or not in the set expected for this phase, wrong
    phase (including after the phase's deadline), duplicate, wrong lengths,
    an invalid signature (ADVERTISE and CONSISTENCY are verified here so one
    bad client cannot make every honest client abort), a ciphertext set not
    addressed exactly to the sender's neighbourhood, an unmasking share of
    the wrong kind.  Rejection never changes the state; the reason is in
    fl_secagg_server_error.  The input message is borrowed. */
int fl_secagg_server_handle (fl_secagg_server_t *self, const fl_secagg_msg_t *in);

/*  The current phase's deadline passed: close it with whoever answered, queue
    the next phase's messages, or abort the bucket (fewer than t alive, a
    neighbourhood below threshold, or a failed reconstruction) and queue
    ABORT to everyone still involved.  Closing Unmasking reconstructs and
    removes the masks.  Returns 0 if the protocol continues or is DONE, -1 if
    it aborted (now or before). */
int fl_secagg_server_deadline (fl_secagg_server_t *self);

/*  Next queued outgoing message (caller owns it), NULL if none. */
fl_secagg_msg_t *fl_secagg_server_next_out (fl_secagg_server_t *self);

fl_secagg_server_state_t fl_secagg_server_state (const fl_secagg_server_t *self);
const char *fl_secagg_server_state_name (int state);
/*  Reason for the last rejection or for the abort ("" if none). */
const char *fl_secagg_server_error (const fl_secagg_server_t *self);

/*  In DONE: *sum = sum over U3 of the inputs, mod 2^32 (m values, borrowed,
    valid until destroy), *m, and optionally the survivor set U3 (borrowed
    ids, count).  -1 if not DONE. */
int fl_secagg_server_result (const fl_secagg_server_t *self, const uint32_t **sum, size_t *m,
                             const uint32_t **survivors, uint32_t *survivor_count);

/*  Size of the set U1..U5 (which = 1..5) so far, for metrics and tests. */
uint32_t fl_secagg_server_set_size (const fl_secagg_server_t *self, int which);

/*  Neighbourhood size k actually in use (|U1| for COMPLETE); 0 before U1 closes. */
uint32_t fl_secagg_server_k (const fl_secagg_server_t *self);

#ifdef __cplusplus
}
#endif
#endif
