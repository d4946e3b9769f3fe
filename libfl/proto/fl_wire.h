/*  fl_wire - every libfl message as a validated msgpack map.

    A message is one msgpack map.  Four header keys are always present:

        "v"    uint      protocol version, FL_WIRE_VERSION
        "t"    uint      message type, fl_wire_type_t
        "run"  bin 16    run id (FL_WIRE_RUNIDBYTES)
        "rnd"  uint      round (0 before the first training round)

    plus the body keys of the message type, given by one schema row per type
    in fl_wire.c (docs/WIRE.md lists them).  The codec is schema-driven: the
    writer refuses keys that are not in the type's schema or have the wrong
    kind, and the decoder accepts a message only if it matches the schema
    exactly (no unknown keys, no duplicates, every required key, right
    msgpack types, lengths within the schema's and the caller's limits).
    Adding a message type is adding an enum value here and a schema row there.

    Decoding faces the internet and is fuzzed.  It never hands untrusted
    bytes to msgpack-c's unpacker (which allocates count * 24 bytes for a
    declared array/map count before reading a single element); instead a
    bounded reader walks the raw bytes: every declared count and length is
    checked against the bytes that remain BEFORE anything is allocated, the
    total size against the limits first, nesting against the schema's depth.
    All memory a decoded message owns is bounded by the input length.

    Vectors travel as one bin of little-endian elements (float32, float64,
    uint32, uint64): 4 bytes a parameter instead of 5 as a msgpack array of
    floats, and one memcpy on little-endian hosts.  Bins in the input are not
    aligned; the decoder copies them into aligned arrays the getters return.

    Float scalars and vectors must be finite on both sides: NaN or Inf in an
    update or a model would poison aggregation, so the codec refuses them.

    Writer usage (our own messages):

        fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, run_id, round);
        fl_wire_put_f32s (w, FL_K_DELTA, delta, n_params);
        fl_wire_put_u64 (w, FL_K_N, n_examples);
        fl_wire_put_f64 (w, FL_K_LOSS, loss);
        uint8_t *buf; size_t len;
        if (fl_wire_writer_finish (&w, &buf, &len) == 0) { send...; free (buf); }

    Reader usage (untrusted bytes):

        char why[FL_WIRE_WHYBYTES];
        fl_wire_limits_t limits = fl_wire_limits_default ();
        fl_wire_msg_t *msg = fl_wire_decode (buf, len, &limits, why, sizeof why);
        if (!msg) { zsys_warning ("peer %s: rejected message: %s", peer, why); ... }
        const float *delta; size_t n;
        fl_wire_get_f32s (msg, FL_K_DELTA, &delta, &n);
        fl_wire_msg_destroy (&msg);
*/
#ifndef FL_WIRE_H_INCLUDED
#define FL_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

#define FL_WIRE_VERSION      1u
#define FL_WIRE_RUNIDBYTES   16u     /* "run": the run id (fl_session.h names it) */
#define FL_WIRE_FPBYTES      32u     /* "fp": model fingerprint (BLAKE2b-256) */
#define FL_WIRE_WHYBYTES     256u    /* a comfortable size for the `why` buffer */
#define FL_WIRE_HIST_MAX     4096u   /* EVAL_RESULT score histogram bins */
#define FL_WIRE_MAX_KEYS     64u     /* keys a message map may hold (header + body) */
#define FL_WIRE_MAX_KEYBYTES 32u     /* length of a key name */
#define FL_WIRE_MAX_DEPTH    2u      /* top-level map = 1, a list value = 2 */

/*  Message types.  The numbers are the wire values of "t" and never change
    once released; 0 is invalid.  Types >= FL_WIRE_SECAGG_BASE are reserved
    for secure aggregation (AdvertiseKeys, ShareKeys, MaskedInputCollection,
    ConsistencyCheck, Unmasking: DESIGN.md section 3). */
typedef enum {
    FL_WIRE_HELLO         = 1,   /* client -> coordinator: join request */
    FL_WIRE_WELCOME       = 2,   /* coordinator -> client: admitted, model config */
    FL_WIRE_REJECT        = 3,   /* coordinator -> client: not admitted */
    FL_WIRE_STATS_REQUEST = 4,   /* coordinator -> client: send feature statistics (round 0) */
    FL_WIRE_STATS         = 5,   /* client -> coordinator: count, per-feature sum, sum of squares */
    FL_WIRE_STANDARDISE   = 6,   /* coordinator -> client: federated mean and std */
    FL_WIRE_TRAIN         = 7,   /* coordinator -> client: global model + local training config */
    FL_WIRE_UPDATE        = 8,   /* client -> coordinator: model update (delta) */
    FL_WIRE_EVALUATE      = 9,   /* coordinator -> client: evaluate the global model */
    FL_WIRE_EVAL_RESULT   = 10,  /* client -> coordinator: evaluation counts */
    FL_WIRE_HEARTBEAT     = 11,  /* both ways: liveness */
    FL_WIRE_BYE           = 12,  /* either way: orderly leave */
    FL_WIRE_ERROR         = 13,  /* either way: protocol error, then close */
    FL_WIRE_MODEL         = 14,  /* a model file on disk (fl_modelfile), never sent */
    FL_WIRE_SECAGG_BASE   = 32,  /* first type number of secure aggregation messages */
    FL_WIRE_SECAGG        = 32,  /* both ways: one fl_secagg message of one bucket (fl_secagg_wire) */
    FL_WIRE_SELFTEST      = 63,  /* one key of every kind, for codec tests; never sent */
    FL_WIRE_TYPE_LIMIT    = 64   /* every type number is < this */
} fl_wire_type_t;

/*  Value kinds a schema row can name (docs/WIRE.md, "Kinds"). */
typedef enum {
    FL_WIRE_KIND_U64 = 1,   /* msgpack int >= 0 */
    FL_WIRE_KIND_I64,       /* msgpack int in int64 range */
    FL_WIRE_KIND_F64,       /* msgpack float32/float64, finite */
    FL_WIRE_KIND_BOOL,      /* msgpack true/false */
    FL_WIRE_KIND_STR,       /* msgpack str: UTF-8, no control characters, no NUL */
    FL_WIRE_KIND_BIN,       /* msgpack bin */
    FL_WIRE_KIND_F32S,      /* bin of little-endian float32, finite */
    FL_WIRE_KIND_F64S,      /* bin of little-endian float64, finite */
    FL_WIRE_KIND_U32S,      /* bin of little-endian uint32 */
    FL_WIRE_KIND_U64S,      /* bin of little-endian uint64 */
    FL_WIRE_KIND_U32_LIST,  /* msgpack array of ints in [0, 2^32) */
    FL_WIRE_KIND_BIN_LIST   /* msgpack array of bins */
} fl_wire_kind_t;

/*  Decoder limits, chosen by the caller from how much it trusts the peer. */
typedef struct {
    size_t max_message_bytes;   /* whole encoded message */
    size_t max_vector_len;      /* elements of an f32s/f64s/u32s/u64s value */
    size_t max_list_len;        /* entries of a u32_list/bin_list value */
} fl_wire_limits_t;

/*  Authenticated peers: 64 MiB messages, 16 Mi-element vectors, 1 Mi-entry
    lists.  (The byte limit binds first for vectors over ~16 M float32.) */
fl_wire_limits_t fl_wire_limits_default (void);

/*  Peers not yet admitted (before WELCOME): 64 KiB messages, 1024-element
    vectors and lists, so an unauthenticated peer cannot make us allocate
    more than a few times 64 KiB per message. */
fl_wire_limits_t fl_wire_limits_preauth (void);

/*  Name of a message type for log lines ("HELLO", "UPDATE", ...), or
    "UNKNOWN" for a number with no schema row.  Never NULL. */
const char *fl_wire_type_name (int type);

/*  True if `type` has a schema row (is a message this build understands). */
bool fl_wire_type_known (int type);

/* ---- writer ------------------------------------------------------------- */

/*  Every key a message body may hold, spelled once.  The schema table in
    fl_wire.c and every reader and writer use these names, so a misspelt
    key is a compile error rather than a message the peer refuses.  Which
    messages may hold a key, its kind and its bounds are the schema's
    (docs/WIRE.md). */
#define FL_K_MEMBER       "member"
#define FL_K_FP           "fp"
#define FL_K_N_TRAIN      "n_train"
#define FL_K_N_TEST       "n_test"
#define FL_K_FEATURES     "features"
#define FL_K_CLASSES      "classes"
#define FL_K_MODEL        "model"
#define FL_K_CLIENT       "client"
#define FL_K_HIDDEN       "hidden"
#define FL_K_SEED         "seed"
#define FL_K_QAT          "qat"
#define FL_K_REASON       "reason"
#define FL_K_COUNT        "count"
#define FL_K_SUM          "sum"
#define FL_K_SUMSQ        "sumsq"
#define FL_K_MEAN         "mean"
#define FL_K_STD          "std"
#define FL_K_PARAMS       "params"
#define FL_K_EPOCHS       "epochs"
#define FL_K_BATCH        "batch"
#define FL_K_LR           "lr"
#define FL_K_OPT          "opt"
#define FL_K_CAP          "cap"
#define FL_K_CLIP         "clip"
#define FL_K_SA_BUCKET    "sa_bucket"
#define FL_K_SA_INDEX     "sa_index"
#define FL_K_SA_N         "sa_n"
#define FL_K_SA_T         "sa_t"
#define FL_K_SA_K         "sa_k"
#define FL_K_SA_GRAPH     "sa_graph"
#define FL_K_SA_MEMBERS   "sa_members"
#define FL_K_SA_COHORT    "sa_cohort"
#define FL_K_SA_BUCKETS   "sa_buckets"
#define FL_K_ENC_MAX_ABS  "enc_max_abs"
#define FL_K_ENC_SUMMANDS "enc_summands"
#define FL_K_DP_UNIT      "dp_unit"
#define FL_K_DP_CLIP      "dp_clip"
#define FL_K_DP_Q         "dp_q"
#define FL_K_DP_STEPS     "dp_steps"
#define FL_K_DP_Z         "dp_z"
#define FL_K_DP_SIGMA_I   "dp_sigma_i"
#define FL_K_DP_ADAPTIVE  "dp_adaptive"
#define FL_K_DP_LOCAL_Z   "dp_local_z"   /* record-level local DP-SGD: each step's noise multiplier */
#define FL_K_DELTA        "delta"
#define FL_K_N            "n"
#define FL_K_LOSS         "loss"
#define FL_K_CORRECT      "correct"
#define FL_K_LOSS_SUM     "loss_sum"
#define FL_K_TRUE_POS     "true_pos"
#define FL_K_FALSE_POS    "false_pos"
#define FL_K_TRUE_NEG     "true_neg"
#define FL_K_FALSE_NEG    "false_neg"
#define FL_K_HIST_POS     "hist_pos"
#define FL_K_HIST_NEG     "hist_neg"
#define FL_K_BUCKET       "bucket"
#define FL_K_KIND         "kind"
#define FL_K_SENDER       "sender"
#define FL_K_RECEIVER     "receiver"
#define FL_K_RECS         "recs"
#define FL_K_VALS         "vals"
#define FL_K_IDS          "ids"
#define FL_K_SIG          "sig"
#define FL_K_CODE         "code"
#define FL_K_SCHEMA       "schema"
/* Model files, format 2 (fl_modelfile.h): the names of the inputs. */
#define FL_K_FORMAT       "format"
#define FL_K_FNAMES       "feature_names"
#define FL_K_LABEL        "label"
#define FL_K_CNAMES       "class_names"
/* Model files, format 3: the BLAKE2b digest of the trained parameters. */
#define FL_K_DIGEST       "digest"
/* TRAIN, imbalance and regularisation (docs/TRAINING.md) */
#define FL_K_CLASS_WEIGHT "class_weight"
#define FL_K_WEIGHT_DECAY "weight_decay"

typedef struct fl_wire_writer_t fl_wire_writer_t;

/*  Starts a message of `type` for run `run_id` (16 bytes, copied) and
    `round`.  Returns NULL (and logs) if `type` has no schema row or on
    allocation failure.  Caller owns the writer: finish or destroy it. */
fl_wire_writer_t *fl_wire_writer_new (fl_wire_type_t type,
                                      const uint8_t run_id[FL_WIRE_RUNIDBYTES],
                                      uint64_t round);

/*  Frees an unfinished writer; nulls *self_p; safe on NULL and twice. */
void fl_wire_writer_destroy (fl_wire_writer_t **self_p);

/*  Adds body key `key`.  Each returns 0, or -1 and logs (zsys_error) when
    `key` is not in the type's schema, has another kind, was already put,
    or the value breaks the schema (string not UTF-8 or with control
    characters, length outside the schema's bounds, non-finite float, more
    than 2^32-1 bytes).  After a -1 the writer is poisoned: further puts are
    ignored and fl_wire_writer_finish fails, so a caller may check only the
    finish.  Values are copied; the caller keeps ownership of its buffers. */
int fl_wire_put_u64 (fl_wire_writer_t *self, const char *key, uint64_t value);
int fl_wire_put_i64 (fl_wire_writer_t *self, const char *key, int64_t value);
int fl_wire_put_f64 (fl_wire_writer_t *self, const char *key, double value);
int fl_wire_put_bool (fl_wire_writer_t *self, const char *key, bool value);
/*  NUL-terminated UTF-8 string. */
int fl_wire_put_str (fl_wire_writer_t *self, const char *key, const char *value);
/*  `len` raw bytes. */
int fl_wire_put_bin (fl_wire_writer_t *self, const char *key, const void *data, size_t len);
/*  Vectors of `n` elements, written as one bin of little-endian elements. */
int fl_wire_put_f32s (fl_wire_writer_t *self, const char *key, const float *v, size_t n);
/*  As fl_wire_put_f32s, but the vector's n * 4 body bytes are left out of
    what fl_wire_writer_finish returns: the caller appends them (v's floats
    little-endian; on a little-endian host, v's bytes) to get exactly the
    message fl_wire_put_f32s would have made.  Must be the last put: any put
    after it poisons the writer.  For one large vector (a model) sent in
    many messages, stored and sent once (docs/WIRE.md, framing).  v is
    checked (finite, length bounds) but not copied.  Errors as
    fl_wire_put_f32s. */
int fl_wire_put_f32s_external (fl_wire_writer_t *self, const char *key, const float *v, size_t n);
int fl_wire_put_f64s (fl_wire_writer_t *self, const char *key, const double *v, size_t n);
int fl_wire_put_u32s (fl_wire_writer_t *self, const char *key, const uint32_t *v, size_t n);
int fl_wire_put_u64s (fl_wire_writer_t *self, const char *key, const uint64_t *v, size_t n);
/*  A msgpack array of `n` unsigned ints (for short lists such as client ids). */
int fl_wire_put_u32_list (fl_wire_writer_t *self, const char *key, const uint32_t *v, size_t n);
/*  A msgpack array of `n` bins, item i being lens[i] bytes at items[i]. */
int fl_wire_put_bin_list (fl_wire_writer_t *self, const char *key,
                          const uint8_t *const *items, const size_t *lens, size_t n);

/*  Checks that every required key of the type was put, then serialises the
    message into a malloc'd buffer: *buf (caller frees with free()) of *len
    bytes.  Consumes the writer in every case (*self_p is nulled).  Returns
    0, or -1 (and logs, *buf = NULL, *len = 0) if the writer was poisoned, a
    required key is missing, or allocation failed. */
int fl_wire_writer_finish (fl_wire_writer_t **self_p, uint8_t **buf, size_t *len);

/* ---- decoder ------------------------------------------------------------ */

typedef struct fl_wire_msg_t fl_wire_msg_t;

/*  Decodes and validates `len` untrusted bytes at `buf` against the schema
    of the message's type and `limits` (NULL = fl_wire_limits_default()).
    Returns an owned message (free with fl_wire_msg_destroy), independent of
    `buf`, or NULL with a one-line human reason written to `why` (truncated
    to why_cap; `why` may be NULL) when the input is: empty or truncated
    (including any declared count or length past the end of the input),
    followed by trailing bytes, larger than limits->max_message_bytes, not a
    map at the top level, of another protocol version, of an unknown type,
    missing a header or required body key, carrying an unknown or duplicate
    key or a key that is not a short string, a value of the wrong msgpack type,
    a bin whose length is not a multiple of the element size or outside the
    schema's bounds, a vector or list longer than the schema's or the limits'
    maximum, a non-finite float, an invalid string, nested deeper than
    FL_WIRE_MAX_DEPTH, an ext type or the never-used byte 0xc1; or on
    allocation failure.  Never reads outside [buf, buf + len), never
    allocates more than a small multiple of `len`.  Does not log: the caller
    knows the peer and logs the reason. */
fl_wire_msg_t *fl_wire_decode (const uint8_t *buf, size_t len,
                               const fl_wire_limits_t *limits,
                               char *why, size_t why_cap);

/*  fl_wire_decode, and on failure logs
        zsys_warning ("peer %s: rejected message: %s", peer, why)
    (the common "reject and log" path).  `peer` is a name for the log line. */
fl_wire_msg_t *fl_wire_decode_from (const char *peer, const uint8_t *buf, size_t len,
                                    const fl_wire_limits_t *limits);

/*  Bounded structural pre-scan of untrusted msgpack bytes: succeeds (0) only
    if `buf` holds exactly one msgpack object, no container nested deeper
    than `max_depth` (the top object is depth 1), no declared array/map count
    larger than the bytes left (every element needs at least one byte), no
    str/bin/ext length past the end, no 0xc1.  After a 0, msgpack_unpack on
    the same bytes allocates O(len).  On -1 writes the reason to `why`.
    fl_wire_decode does this itself; this is for other msgpack consumers. */
int fl_wire_scan (const uint8_t *buf, size_t len, size_t max_depth,
                  char *why, size_t why_cap);

/*  Frees a decoded message; nulls *self_p; safe on NULL and twice. */
void fl_wire_msg_destroy (fl_wire_msg_t **self_p);

/*  Header of a decoded message. */
fl_wire_type_t fl_wire_type (const fl_wire_msg_t *self);
uint64_t fl_wire_round (const fl_wire_msg_t *self);
/*  FL_WIRE_RUNIDBYTES bytes owned by the message. */
const uint8_t *fl_wire_run_id (const fl_wire_msg_t *self);

/*  True if body key `key` is present (required keys always are). */
bool fl_wire_has (const fl_wire_msg_t *self, const char *key);

/*  Typed getters.  Each returns 0 and fills the outputs, or -1 (outputs
    untouched) if the key is an absent optional key.  Asking for a key that
    is not in the type's schema, or with the getter of another kind, is a
    programmer error (assert; release builds answer -1 as if absent).  Pointers returned point into the message,
    are suitably aligned for their element type, and stay valid until
    fl_wire_msg_destroy; an empty vector gives a non-NULL pointer and n 0. */
int fl_wire_get_u64 (const fl_wire_msg_t *self, const char *key, uint64_t *value);
int fl_wire_get_i64 (const fl_wire_msg_t *self, const char *key, int64_t *value);
int fl_wire_get_f64 (const fl_wire_msg_t *self, const char *key, double *value);
int fl_wire_get_bool (const fl_wire_msg_t *self, const char *key, bool *value);
/*  NUL-terminated copy (the wire string has no NUL); `len` may be NULL. */
int fl_wire_get_str (const fl_wire_msg_t *self, const char *key, const char **value, size_t *len);
int fl_wire_get_bin (const fl_wire_msg_t *self, const char *key, const uint8_t **data, size_t *len);
/*  Vectors and u32 lists: element pointer and element count. */
/*  Conveniences for the common cases.  fl_wire_get_cstr: the string value of
    key, or NULL if absent (the message owns it).  fl_wire_copy_f32s /
    _f64s: copy the vector under key into out, which holds exactly n values;
    -1 (out untouched) if the key is absent or its length is not n. */
const char *fl_wire_get_cstr (const fl_wire_msg_t *self, const char *key);
int fl_wire_copy_f32s (const fl_wire_msg_t *self, const char *key, float *out, size_t n);
int fl_wire_copy_f64s (const fl_wire_msg_t *self, const char *key, double *out, size_t n);

int fl_wire_get_f32s (const fl_wire_msg_t *self, const char *key, const float **v, size_t *n);
int fl_wire_get_f64s (const fl_wire_msg_t *self, const char *key, const double **v, size_t *n);
int fl_wire_get_u32s (const fl_wire_msg_t *self, const char *key, const uint32_t **v, size_t *n);
int fl_wire_get_u64s (const fl_wire_msg_t *self, const char *key, const uint64_t **v, size_t *n);
int fl_wire_get_u32_list (const fl_wire_msg_t *self, const char *key, const uint32_t **v, size_t *n);
/*  Number of items of a bin list (0 if absent). */
size_t fl_wire_bin_list_len (const fl_wire_msg_t *self, const char *key);
/*  Item `index` (< fl_wire_bin_list_len) of a bin list; -1 if the list is
    absent (an index past the end is a programmer error: assert, or -1 in
    release builds). */
int fl_wire_get_bin_list_item (const fl_wire_msg_t *self, const char *key, size_t index,
                               const uint8_t **data, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
