/*  fl_wire.c - schema-driven msgpack codec for every libfl message.

    Why it looks like this:

    - One schema row per message type (s_schemas below) drives both the
      writer and the decoder, so adding a message type is adding a row.

    - The writer uses msgpack-c's packer: the output is plain msgpack any
      implementation reads.

    - The decoder does NOT use msgpack-c's unpacker on untrusted bytes.
      msgpack_unpack allocates count * sizeof (msgpack_object) for every
      declared array/map count before it reads an element, so six bytes
      declaring 2^32 elements ask for 64 GiB.  Instead a bounded reader
      (s_head, s_skip) walks the raw bytes; like zproto's codecs, every read
      is checked against the bytes left and every failure returns -1 with a
      reason.  Decoding is two passes:
        1. structure: top-level map of at most FL_WIRE_MAX_KEYS string keys,
           every value well-formed, no declared count or length past the end,
           no nesting deeper than FL_WIRE_MAX_DEPTH, no trailing bytes;
        2. schema: header keys first ("v" before anything else, because a
           message of another version may mean other things), then each body
           key against the type's row, copying values out of the input.
      Every allocation in pass 2 is bounded by the byte span of the value it
      holds (plus small per-item bookkeeping), so a decoded message costs at
      most a small multiple of the input length, which the caller bounded
      with limits->max_message_bytes before we started.
*/
#include "fl_wire.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_COUNT(a) (sizeof (a) / sizeof ((a)[0]))
#define S_SCAN_MAX_DEPTH 64     /* recursion bound for fl_wire_scan */

/* ---- schema ------------------------------------------------------------- */

typedef struct {
    const char *key;
    fl_wire_kind_t kind;
    bool required;
    size_t min_len;     /* STR/BIN: bytes; vectors and lists: elements */
    size_t max_len;     /* same unit; 0 = bounded only by the limits */
    size_t item_min;    /* BIN_LIST: bytes of each item */
    size_t item_max;    /* BIN_LIST: 0 = no bound beyond the message */
} s_field_t;

typedef struct {
    const char *name;
    const s_field_t *fields;
    size_t nfields;
} s_schema_t;

/* Row helpers: required / optional, with bounds where the kind has them. */
#define S_REQ(k, kind)              { k, FL_WIRE_KIND_##kind, true, 0, 0, 0, 0 }
#define S_OPT(k, kind)              { k, FL_WIRE_KIND_##kind, false, 0, 0, 0, 0 }
#define S_REQ_N(k, kind, lo, hi)    { k, FL_WIRE_KIND_##kind, true, lo, hi, 0, 0 }
#define S_OPT_N(k, kind, lo, hi)    { k, FL_WIRE_KIND_##kind, false, lo, hi, 0, 0 }

#define S_IDBYTES     128   /* member ids */
#define S_NAMEBYTES   64    /* model and optimizer names */
#define S_SPECBYTES   256   /* hidden-layer spec such as "64,32" */
#define S_REASONBYTES 1024  /* human-readable reasons */

static const s_field_t s_hello[] = {
    S_REQ_N (FL_K_MEMBER, STR, 1, S_IDBYTES),
    S_REQ_N (FL_K_FP, BIN, FL_WIRE_FPBYTES, FL_WIRE_FPBYTES),
    S_REQ (FL_K_N_TRAIN, U64),
    S_REQ (FL_K_N_TEST, U64),
    S_REQ (FL_K_FEATURES, U64),
    S_REQ (FL_K_CLASSES, U64),
    S_REQ_N (FL_K_MODEL, STR, 0, S_NAMEBYTES),   /* "" = no preference */
};
static const s_field_t s_welcome[] = {
    S_REQ (FL_K_CLIENT, U64),
    S_REQ_N (FL_K_MODEL, STR, 1, S_NAMEBYTES),
    S_REQ_N (FL_K_HIDDEN, STR, 0, S_SPECBYTES),
    S_REQ (FL_K_FEATURES, U64),
    S_REQ (FL_K_CLASSES, U64),
    S_REQ (FL_K_SEED, U64),
    S_OPT (FL_K_QAT, U64),                       /* FL_MODEL_QAT_*; absent = 0 (float) */
};
static const s_field_t s_reject[] = {
    S_REQ_N (FL_K_REASON, STR, 0, S_REASONBYTES),
};
static const s_field_t s_stats[] = {
    S_REQ (FL_K_COUNT, U64),
    S_REQ (FL_K_SUM, F64S),
    S_REQ (FL_K_SUMSQ, F64S),
};
static const s_field_t s_standardise[] = {
    S_REQ (FL_K_MEAN, F32S),
    S_REQ (FL_K_STD, F32S),
};
static const s_field_t s_train[] = {
    S_REQ (FL_K_PARAMS, F32S),
    S_REQ_N (FL_K_FP, BIN, FL_WIRE_FPBYTES, FL_WIRE_FPBYTES),
    S_REQ (FL_K_EPOCHS, U64),
    S_REQ (FL_K_BATCH, U64),
    S_REQ (FL_K_LR, F64),
    S_REQ_N (FL_K_OPT, STR, 1, S_NAMEBYTES),
    S_REQ (FL_K_SEED, U64),
    S_REQ (FL_K_CAP, U64),
    S_OPT (FL_K_CLIP, F64),
    /* secure aggregation of this round (all present or none; docs/SECURITY.md) */
    S_OPT (FL_K_SA_BUCKET, U64),
    S_OPT (FL_K_SA_INDEX, U64),
    S_OPT (FL_K_SA_N, U64),
    S_OPT (FL_K_SA_T, U64),
    S_OPT (FL_K_SA_K, U64),
    S_OPT (FL_K_SA_GRAPH, U64),
    { FL_K_SA_MEMBERS, FL_WIRE_KIND_BIN_LIST, false, 2, 65535, 1, S_IDBYTES },
    /* the whole cohort (roster positions, ascending) and the bucket count,
       from which every client re-derives its bucket (fl_secagg_buckets_derive) */
    S_OPT (FL_K_SA_COHORT, U32S),
    S_OPT (FL_K_SA_BUCKETS, U64),
    S_OPT (FL_K_ENC_MAX_ABS, F64),
    S_OPT (FL_K_ENC_SUMMANDS, U64),
    /* differential privacy of this round (docs/PRIVACY.md): the unit
       (FL_SESSION_DP_RECORD | FL_SESSION_DP_CLIENT); record-level also the
       per-example clipping norm, the Poisson rate and the local steps */
    S_OPT (FL_K_DP_UNIT, U64),
    S_OPT (FL_K_DP_CLIP, F64),
    S_OPT (FL_K_DP_Q, F64),
    S_OPT (FL_K_DP_STEPS, U64),
    /* distributed noise (secure rounds): the noise multiplier and this
       client's share sigma_i of discrete Gaussian noise, in grid units */
    S_OPT (FL_K_DP_Z, F64),
    S_OPT (FL_K_DP_SIGMA_I, F64),
    /* client-level adaptive clipping (docs/PRIVACY.md "Adaptive clipping"):
       1 = append the shifted unclipped indicator to the (masked) update */
    S_OPT (FL_K_DP_ADAPTIVE, U64),
    /* imbalance and regularisation (docs/TRAINING.md): class weights
       (1 = balanced from the member's own label counts) and L2 weight decay;
       absent = none / 0 (sent only when set, so older clients still join
       runs without them) */
    S_OPT (FL_K_CLASS_WEIGHT, U64),
    S_OPT (FL_K_WEIGHT_DECAY, F64),
    /* record-level local DP-SGD: the noise multiplier the member applies to
       each of its local steps (its presence selects the mechanism) */
    S_OPT (FL_K_DP_LOCAL_Z, F64),
};
static const s_field_t s_update[] = {
    S_REQ (FL_K_DELTA, F32S),
    S_REQ (FL_K_N, U64),
    S_REQ (FL_K_LOSS, F64),
};
/*  The secure-aggregation session of a bucket, in STATS_REQUEST and
    EVALUATE of a secure run (all present or none; the client checks). */
#define S_SESSION_FIELDS                                                     \
    S_OPT (FL_K_SA_BUCKET, U64),                                               \
    S_OPT (FL_K_SA_INDEX, U64),                                                \
    S_OPT (FL_K_SA_N, U64),                                                    \
    S_OPT (FL_K_SA_T, U64),                                                    \
    S_OPT (FL_K_SA_K, U64),                                                    \
    S_OPT (FL_K_SA_GRAPH, U64),                                                \
    { FL_K_SA_MEMBERS, FL_WIRE_KIND_BIN_LIST, false, 2, 65535, 1, S_IDBYTES }, \
    S_OPT (FL_K_SA_COHORT, U32S),                                              \
    S_OPT (FL_K_SA_BUCKETS, U64)
static const s_field_t s_stats_request[] = {
    S_SESSION_FIELDS,
};
static const s_field_t s_evaluate[] = {
    S_REQ (FL_K_PARAMS, F32S),
    S_REQ_N (FL_K_FP, BIN, FL_WIRE_FPBYTES, FL_WIRE_FPBYTES),
    S_SESSION_FIELDS,
};
static const s_field_t s_eval_result[] = {
    S_REQ (FL_K_N, U64),
    S_REQ (FL_K_CORRECT, U64),
    S_REQ (FL_K_LOSS_SUM, F64),
    S_REQ (FL_K_TRUE_POS, U64),
    S_REQ (FL_K_FALSE_POS, U64),
    S_REQ (FL_K_TRUE_NEG, U64),
    S_REQ (FL_K_FALSE_NEG, U64),
    S_REQ_N (FL_K_HIST_POS, U64S, 0, FL_WIRE_HIST_MAX),
    S_REQ_N (FL_K_HIST_NEG, U64S, 0, FL_WIRE_HIST_MAX),
    S_OPT (FL_K_CLASSES, U64),                   /* multi-class (> 2, empty histograms); absent = binary */
};
static const s_field_t s_bye[] = {
    S_OPT_N (FL_K_REASON, STR, 0, S_REASONBYTES),
};
static const s_field_t s_error[] = {
    S_REQ_N (FL_K_REASON, STR, 0, S_REASONBYTES),
};
/*  One secure-aggregation message (fl_secagg_msg_t); which optional key is
    present depends on "kind", checked by fl_secagg_msg_from_wire.  Records
    are fixed-size little-endian structs: adverts 132 bytes, ciphertexts
    128, signatures 68, unmasking shares 48. */
static const s_field_t s_secagg[] = {
    S_REQ (FL_K_BUCKET, U64),
    S_REQ (FL_K_KIND, U64),
    S_REQ (FL_K_SENDER, U64),
    S_REQ (FL_K_RECEIVER, U64),
    { FL_K_RECS, FL_WIRE_KIND_BIN_LIST, false, 0, 65535, 48, 132 },
    S_OPT (FL_K_VALS, U32S),
    S_OPT_N (FL_K_IDS, U32_LIST, 0, 65535),
    S_OPT_N (FL_K_SIG, BIN, 64, 64),
    S_OPT (FL_K_CODE, U64),
};
static const s_field_t s_model[] = {
    S_REQ_N (FL_K_MODEL, STR, 1, S_NAMEBYTES),
    S_REQ_N (FL_K_HIDDEN, STR, 0, S_SPECBYTES),
    S_REQ (FL_K_FEATURES, U64),
    S_REQ (FL_K_CLASSES, U64),
    S_REQ_N (FL_K_FP, BIN, FL_WIRE_FPBYTES, FL_WIRE_FPBYTES),
    S_REQ (FL_K_PARAMS, F32S),
    S_OPT (FL_K_MEAN, F32S),
    S_OPT (FL_K_STD, F32S),
    S_OPT (FL_K_QAT, U64),                       /* FL_MODEL_QAT_*; absent = 0 (float) */
    S_OPT_N (FL_K_SCHEMA, BIN, 1, 4u << 20),     /* fl_schema zconfig text, multi-line, no NUL
                                                 (<= FL_SCHEMA_MAX_FILEBYTES); absent = none */
    S_OPT (FL_K_FORMAT, U64),                    /* model file format; absent = 1 (no names) */
    { FL_K_FNAMES, FL_WIRE_KIND_BIN_LIST, false, 1, 100000, 1, 255 },   /* one per feature */
    S_OPT_N (FL_K_LABEL, STR, 1, 255),
    { FL_K_CNAMES, FL_WIRE_KIND_BIN_LIST, false, 2, 1000, 1, 255 },     /* one per class */
    S_OPT_N (FL_K_DIGEST, BIN, 32, 32),         /* format 3: fl_modelfile_digest of fp and params */
};
/*  One key of every kind, so tests exercise kinds that only secure
    aggregation rows will use.  Programs never send it; a peer that does gets
    "unexpected message" from its state machine like any out-of-place type. */
static const s_field_t s_selftest[] = {
    S_REQ ("u", U64),
    S_REQ ("i", I64),
    S_REQ ("f", F64),
    S_REQ ("b", BOOL),
    S_REQ_N ("s", STR, 1, 16),
    S_REQ_N ("bin", BIN, 0, 64),
    S_REQ_N ("f32s", F32S, 0, 0),
    S_REQ_N ("f64s", F64S, 0, 100),
    S_REQ_N ("u32s", U32S, 1, 100),
    S_REQ_N ("u64s", U64S, 0, 100),
    S_REQ_N ("ids", U32_LIST, 0, 100),
    { "shares", FL_WIRE_KIND_BIN_LIST, true, 0, 100, 4, 48 },
    S_OPT ("opt", U64),
};

#define S_ROW(name, fields) { name, fields, S_COUNT (fields) }
#define S_EMPTY(name)       { name, NULL, 0 }

/*  Indexed by the wire type number; a row with name NULL is an unknown type.
    Secure aggregation rows go at FL_WIRE_SECAGG_BASE and up. */
static const s_schema_t s_schemas[FL_WIRE_TYPE_LIMIT] = {
    [FL_WIRE_HELLO]         = S_ROW ("HELLO", s_hello),
    [FL_WIRE_WELCOME]       = S_ROW ("WELCOME", s_welcome),
    [FL_WIRE_REJECT]        = S_ROW ("REJECT", s_reject),
    [FL_WIRE_STATS_REQUEST] = S_ROW ("STATS_REQUEST", s_stats_request),
    [FL_WIRE_STATS]         = S_ROW ("STATS", s_stats),
    [FL_WIRE_STANDARDISE]   = S_ROW ("STANDARDISE", s_standardise),
    [FL_WIRE_TRAIN]         = S_ROW ("TRAIN", s_train),
    [FL_WIRE_UPDATE]        = S_ROW ("UPDATE", s_update),
    [FL_WIRE_EVALUATE]      = S_ROW ("EVALUATE", s_evaluate),
    [FL_WIRE_EVAL_RESULT]   = S_ROW ("EVAL_RESULT", s_eval_result),
    [FL_WIRE_HEARTBEAT]     = S_EMPTY ("HEARTBEAT"),
    [FL_WIRE_BYE]           = S_ROW ("BYE", s_bye),
    [FL_WIRE_ERROR]         = S_ROW ("ERROR", s_error),
    [FL_WIRE_MODEL]         = S_ROW ("MODEL", s_model),
    [FL_WIRE_SECAGG]        = S_ROW ("SECAGG", s_secagg),
    [FL_WIRE_SELFTEST]      = S_ROW ("SELFTEST", s_selftest),
};

/* Header keys, in the order the writer emits them. */
enum { S_H_V, S_H_T, S_H_RUN, S_H_RND, S_NHEADER };
static const char *const s_header_keys[S_NHEADER] = { "v", "t", "run", "rnd" };

static const s_schema_t *
s_schema (int type)
{
    if (type <= 0 || type >= FL_WIRE_TYPE_LIMIT || s_schemas[type].name == NULL)
        return NULL;
    /* A row may not exceed what a message map can hold. */
    assert (s_schemas[type].nfields + S_NHEADER <= FL_WIRE_MAX_KEYS);
    return &s_schemas[type];
}

static int
s_field_index (const s_schema_t *schema, const char *key, size_t key_len)
{
    for (size_t i = 0; i < schema->nfields; i++)
        if (strlen (schema->fields[i].key) == key_len
            && memcmp (schema->fields[i].key, key, key_len) == 0)
            return (int) i;
    return -1;
}

static const char *
s_kind_name (fl_wire_kind_t kind)
{
    switch (kind) {
        case FL_WIRE_KIND_U64:      return "unsigned integer";
        case FL_WIRE_KIND_I64:      return "integer";
        case FL_WIRE_KIND_F64:      return "float";
        case FL_WIRE_KIND_BOOL:     return "bool";
        case FL_WIRE_KIND_STR:      return "str";
        case FL_WIRE_KIND_BIN:      return "bin";
        case FL_WIRE_KIND_F32S:     return "bin of float32";
        case FL_WIRE_KIND_F64S:     return "bin of float64";
        case FL_WIRE_KIND_U32S:     return "bin of uint32";
        case FL_WIRE_KIND_U64S:     return "bin of uint64";
        case FL_WIRE_KIND_U32_LIST: return "array of uint32";
        case FL_WIRE_KIND_BIN_LIST: return "array of bin";
    }
    return "?";
}

/* Element size of the bin-vector kinds, 0 for the others. */
static size_t
s_elem_size (fl_wire_kind_t kind)
{
    switch (kind) {
        case FL_WIRE_KIND_F32S: case FL_WIRE_KIND_U32S: return 4;
        case FL_WIRE_KIND_F64S: case FL_WIRE_KIND_U64S: return 8;
        default: return 0;
    }
}

fl_wire_limits_t
fl_wire_limits_default (void)
{
    fl_wire_limits_t limits = { 64u << 20, 16u << 20, 1u << 20 };
    return limits;
}

fl_wire_limits_t
fl_wire_limits_preauth (void)
{
    fl_wire_limits_t limits = { 64u << 10, 1024, 1024 };
    return limits;
}

const char *
fl_wire_type_name (int type)
{
    const s_schema_t *schema = s_schema (type);
    return schema ? schema->name : "UNKNOWN";
}

bool
fl_wire_type_known (int type)
{
    return s_schema (type) != NULL;
}

/* ---- little-endian element copies ---------------------------------------- */

/*  Copies `count` elements of `esize` bytes between host order and
    little-endian (the same operation both ways).  dst and src may be
    unaligned. */
static void
s_le_copy (void *dst, const void *src, size_t count, size_t esize)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy (dst, src, count * esize);
#else
    uint8_t *d = dst;
    const uint8_t *s = src;
    for (size_t i = 0; i < count; i++)
        for (size_t b = 0; b < esize; b++)
            d[i * esize + b] = s[i * esize + esize - 1 - b];
#endif
}

/*  UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), with no C0 or
    C1 control characters and no DEL: our strings are identifiers and
    one-line reasons that end up in log lines. */
static bool
s_str_valid (const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t extra;
        uint32_t min;
        if (c < 0x80) { extra = 0; min = 0; }
        else if ((c & 0xe0) == 0xc0) { extra = 1; min = 0x80; c &= 0x1f; }
        else if ((c & 0xf0) == 0xe0) { extra = 2; min = 0x800; c &= 0x0f; }
        else if ((c & 0xf8) == 0xf0) { extra = 3; min = 0x10000; c &= 0x07; }
        else return false;
        if (extra > n - i - 1)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
            return false;
        i += extra + 1;
    }
    return true;
}

static bool
s_f32s_finite (const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite (v[i]))
            return false;
    return true;
}

static bool
s_f64s_finite (const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite (v[i]))
            return false;
    return true;
}

/* ---- writer ------------------------------------------------------------- */

struct fl_wire_writer_t {
    const s_schema_t *schema;
    fl_wire_type_t type;
    uint8_t run_id[FL_WIRE_RUNIDBYTES];
    uint64_t round;
    msgpack_sbuffer body;       /* body key/value pairs, packed as they come */
    msgpack_packer pk;
    size_t nbody;
    bool seen[FL_WIRE_MAX_KEYS];
    bool poisoned;
    bool external;              /* a vector body was left to the caller: no more puts */
};

fl_wire_writer_t *
fl_wire_writer_new (fl_wire_type_t type, const uint8_t run_id[FL_WIRE_RUNIDBYTES],
                    uint64_t round)
{
    assert (run_id);
    const s_schema_t *schema = s_schema ((int) type);
    if (!schema) {
        zsys_error ("fl_wire: cannot write message type %d: no schema row", (int) type);
        return NULL;
    }
    fl_wire_writer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->schema = schema;
    self->type = type;
    memcpy (self->run_id, run_id, FL_WIRE_RUNIDBYTES);
    self->round = round;
    msgpack_sbuffer_init (&self->body);
    msgpack_packer_init (&self->pk, &self->body, msgpack_sbuffer_write);
    return self;
}

void
fl_wire_writer_destroy (fl_wire_writer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        msgpack_sbuffer_destroy (&(*self_p)->body);
        free (*self_p);
        *self_p = NULL;
    }
}

static int
s_poison (fl_wire_writer_t *self, const char *key, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (detail, sizeof detail, fmt, ap);
    va_end (ap);
    zsys_error ("fl_wire: %s key '%s': %s", self->schema->name, key, detail);
    self->poisoned = true;
    return -1;
}

/*  Common start of every put: the key must be in the schema with `kind` and
    not yet written.  Packs the key and returns the field, or NULL. */
static const s_field_t *
s_put_begin (fl_wire_writer_t *self, const char *key, fl_wire_kind_t kind)
{
    assert (self);
    assert (key);
    if (self->poisoned)
        return NULL;
    if (self->external) {
        s_poison (self, key, "put after an external vector (it must be the last put)");
        return NULL;
    }
    int idx = s_field_index (self->schema, key, strlen (key));
    if (idx < 0) {
        s_poison (self, key, "not in the schema");
        return NULL;
    }
    const s_field_t *field = &self->schema->fields[idx];
    if (field->kind != kind) {
        s_poison (self, key, "is %s, not %s", s_kind_name (field->kind), s_kind_name (kind));
        return NULL;
    }
    if (self->seen[idx]) {
        s_poison (self, key, "put twice");
        return NULL;
    }
    self->seen[idx] = true;
    size_t klen = strlen (key);
    if (msgpack_pack_str (&self->pk, klen) || msgpack_pack_str_body (&self->pk, key, klen)) {
        s_poison (self, key, "out of memory");
        return NULL;
    }
    self->nbody++;
    return field;
}

static int
s_put_end (fl_wire_writer_t *self, const char *key, int rc)
{
    if (rc != 0)
        return s_poison (self, key, "out of memory");
    return 0;
}

/* Length bounds of a field (max 0 = unbounded by the schema). */
static bool
s_len_ok (const s_field_t *field, size_t n)
{
    return n >= field->min_len && (field->max_len == 0 || n <= field->max_len);
}

int
fl_wire_put_u64 (fl_wire_writer_t *self, const char *key, uint64_t value)
{
    if (!s_put_begin (self, key, FL_WIRE_KIND_U64))
        return -1;
    return s_put_end (self, key, msgpack_pack_uint64 (&self->pk, value));
}

int
fl_wire_put_i64 (fl_wire_writer_t *self, const char *key, int64_t value)
{
    if (!s_put_begin (self, key, FL_WIRE_KIND_I64))
        return -1;
    return s_put_end (self, key, msgpack_pack_int64 (&self->pk, value));
}

int
fl_wire_put_f64 (fl_wire_writer_t *self, const char *key, double value)
{
    if (!s_put_begin (self, key, FL_WIRE_KIND_F64))
        return -1;
    if (!isfinite (value))
        return s_poison (self, key, "value is not finite");
    return s_put_end (self, key, msgpack_pack_double (&self->pk, value));
}

int
fl_wire_put_bool (fl_wire_writer_t *self, const char *key, bool value)
{
    if (!s_put_begin (self, key, FL_WIRE_KIND_BOOL))
        return -1;
    return s_put_end (self, key, value ? msgpack_pack_true (&self->pk)
                                       : msgpack_pack_false (&self->pk));
}

int
fl_wire_put_str (fl_wire_writer_t *self, const char *key, const char *value)
{
    assert (value);
    const s_field_t *field = s_put_begin (self, key, FL_WIRE_KIND_STR);
    if (!field)
        return -1;
    size_t n = strlen (value);
    if (!s_len_ok (field, n))
        return s_poison (self, key, "string of %zu bytes, allowed %zu..%zu",
                         n, field->min_len, field->max_len);
    if (!s_str_valid ((const uint8_t *) value, n))
        return s_poison (self, key, "string is not UTF-8 or holds control characters");
    return s_put_end (self, key, msgpack_pack_str (&self->pk, n)
                                 || msgpack_pack_str_body (&self->pk, value, n));
}

int
fl_wire_put_bin (fl_wire_writer_t *self, const char *key, const void *data, size_t len)
{
    assert (data || len == 0);
    const s_field_t *field = s_put_begin (self, key, FL_WIRE_KIND_BIN);
    if (!field)
        return -1;
    if (!s_len_ok (field, len) || len > UINT32_MAX)
        return s_poison (self, key, "bin of %zu bytes, allowed %zu..%zu",
                         len, field->min_len, field->max_len);
    return s_put_end (self, key, msgpack_pack_bin (&self->pk, len)
                                 || msgpack_pack_bin_body (&self->pk, data, len));
}

/* Makes room for `extra` more bytes in `sb` with one realloc. */
static int
s_reserve (msgpack_sbuffer *sb, size_t extra)
{
    if (sb->alloc - sb->size >= extra)
        return 0;
    if (extra > SIZE_MAX - sb->size)
        return -1;
    char *data = realloc (sb->data, sb->size + extra);
    if (!data)
        return -1;
    sb->data = data;
    sb->alloc = sb->size + extra;
    return 0;
}

/* Shared body of the bin-vector puts: bounds, then the little-endian bytes. */
static int
s_put_vector (fl_wire_writer_t *self, const char *key, fl_wire_kind_t kind,
              const void *v, size_t n, bool finite)
{
    assert (v || n == 0);
    const s_field_t *field = s_put_begin (self, key, kind);
    if (!field)
        return -1;
    size_t esize = s_elem_size (kind);
    if (!s_len_ok (field, n) || n > UINT32_MAX / esize)
        return s_poison (self, key, "vector of %zu elements, allowed %zu..%zu",
                         n, field->min_len, field->max_len ? field->max_len : UINT32_MAX / esize);
    if (!finite)
        return s_poison (self, key, "vector holds NaN or Inf");
    /* Grow the body once to its final size rather than doubling through
       every power of two (each step a realloc and copy of a large vector). */
    if (s_reserve (&self->body, n * esize + 5))
        return s_poison (self, key, "out of memory");
    int rc = msgpack_pack_bin (&self->pk, n * esize);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (rc == 0)
        rc = msgpack_pack_bin_body (&self->pk, v, n * esize);
#else
    uint8_t chunk[4096];
    size_t per = sizeof chunk / esize;
    for (size_t i = 0; rc == 0 && i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        s_le_copy (chunk, (const uint8_t *) v + i * esize, k, esize);
        rc = msgpack_pack_bin_body (&self->pk, chunk, k * esize);
    }
#endif
    return s_put_end (self, key, rc);
}

int
fl_wire_put_f32s (fl_wire_writer_t *self, const char *key, const float *v, size_t n)
{
    return s_put_vector (self, key, FL_WIRE_KIND_F32S, v, n, s_f32s_finite (v, n));
}

int
fl_wire_put_f32s_external (fl_wire_writer_t *self, const char *key, const float *v, size_t n)
{
    assert (v || n == 0);
    const s_field_t *field = s_put_begin (self, key, FL_WIRE_KIND_F32S);
    if (!field)
        return -1;
    if (!s_len_ok (field, n) || n > UINT32_MAX / 4)
        return s_poison (self, key, "vector of %zu elements, allowed %zu..%zu",
                         n, field->min_len, field->max_len ? field->max_len : UINT32_MAX / 4);
    if (!s_f32s_finite (v, n))
        return s_poison (self, key, "vector holds NaN or Inf");
    self->external = true;
    return s_put_end (self, key, msgpack_pack_bin (&self->pk, n * 4));
}

int
fl_wire_put_f64s (fl_wire_writer_t *self, const char *key, const double *v, size_t n)
{
    return s_put_vector (self, key, FL_WIRE_KIND_F64S, v, n, s_f64s_finite (v, n));
}

int
fl_wire_put_u32s (fl_wire_writer_t *self, const char *key, const uint32_t *v, size_t n)
{
    return s_put_vector (self, key, FL_WIRE_KIND_U32S, v, n, true);
}

int
fl_wire_put_u64s (fl_wire_writer_t *self, const char *key, const uint64_t *v, size_t n)
{
    return s_put_vector (self, key, FL_WIRE_KIND_U64S, v, n, true);
}

int
fl_wire_put_u32_list (fl_wire_writer_t *self, const char *key, const uint32_t *v, size_t n)
{
    assert (v || n == 0);
    const s_field_t *field = s_put_begin (self, key, FL_WIRE_KIND_U32_LIST);
    if (!field)
        return -1;
    if (!s_len_ok (field, n) || n > UINT32_MAX)
        return s_poison (self, key, "list of %zu entries, allowed %zu..%zu",
                         n, field->min_len, field->max_len);
    int rc = msgpack_pack_array (&self->pk, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = msgpack_pack_uint32 (&self->pk, v[i]);
    return s_put_end (self, key, rc);
}

int
fl_wire_put_bin_list (fl_wire_writer_t *self, const char *key,
                      const uint8_t *const *items, const size_t *lens, size_t n)
{
    assert ((items && lens) || n == 0);
    const s_field_t *field = s_put_begin (self, key, FL_WIRE_KIND_BIN_LIST);
    if (!field)
        return -1;
    if (!s_len_ok (field, n) || n > UINT32_MAX)
        return s_poison (self, key, "list of %zu entries, allowed %zu..%zu",
                         n, field->min_len, field->max_len);
    for (size_t i = 0; i < n; i++)
        if (lens[i] < field->item_min || (field->item_max && lens[i] > field->item_max)
            || lens[i] > UINT32_MAX)
            return s_poison (self, key, "item %zu of %zu bytes, allowed %zu..%zu",
                             i, lens[i], field->item_min, field->item_max);
    int rc = msgpack_pack_array (&self->pk, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = msgpack_pack_bin (&self->pk, lens[i]);
        if (rc == 0)
            rc = msgpack_pack_bin_body (&self->pk, items[i], lens[i]);
    }
    return s_put_end (self, key, rc);
}

int
fl_wire_writer_finish (fl_wire_writer_t **self_p, uint8_t **buf, size_t *len)
{
    assert (self_p && *self_p);
    assert (buf && len);
    fl_wire_writer_t *self = *self_p;
    *buf = NULL;
    *len = 0;
    int rc = self->poisoned ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < self->schema->nfields; i++)
        if (self->schema->fields[i].required && !self->seen[i]) {
            zsys_error ("fl_wire: %s: required key '%s' was not put",
                        self->schema->name, self->schema->fields[i].key);
            rc = -1;
        }
    if (rc == 0) {
        /* The header is at most ~60 bytes; reserve header + body at once so
           the output is one exact allocation and one copy of the body. */
        msgpack_sbuffer out;
        msgpack_packer pk;
        msgpack_sbuffer_init (&out);
        msgpack_packer_init (&pk, &out, msgpack_sbuffer_write);
        rc = s_reserve (&out, 64 + self->body.size)
          || msgpack_pack_map (&pk, S_NHEADER + self->nbody)
          || msgpack_pack_str_with_body (&pk, "v", 1)
          || msgpack_pack_uint32 (&pk, FL_WIRE_VERSION)
          || msgpack_pack_str_with_body (&pk, "t", 1)
          || msgpack_pack_uint32 (&pk, (uint32_t) self->type)
          || msgpack_pack_str_with_body (&pk, "run", 3)
          || msgpack_pack_bin_with_body (&pk, self->run_id, FL_WIRE_RUNIDBYTES)
          || msgpack_pack_str_with_body (&pk, "rnd", 3)
          || msgpack_pack_uint64 (&pk, self->round)
          || msgpack_sbuffer_write (&out, self->body.data, self->body.size)
          ? -1 : 0;
        if (rc == 0) {
            *len = out.size;
            *buf = (uint8_t *) msgpack_sbuffer_release (&out);
        }
        else {
            zsys_error ("fl_wire: %s: out of memory", self->schema->name);
            msgpack_sbuffer_destroy (&out);
        }
    }
    fl_wire_writer_destroy (self_p);
    return rc;
}

/* ---- bounded reader ----------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    char *why;
    size_t why_cap;
} s_cur_t;

/* msgpack families, after folding the encodings of each. */
typedef enum { S_NIL, S_BOOL, S_UINT, S_NINT, S_F32, S_F64, S_STR, S_BIN, S_ARRAY, S_MAP, S_EXT } s_fam_t;

typedef struct {
    s_fam_t fam;
    uint64_t u;         /* S_UINT (every int encoding with a value >= 0) */
    int64_t i;          /* S_NINT (negative) */
    double f;           /* S_F32, S_F64 */
    bool b;             /* S_BOOL */
    size_t n;           /* S_STR/S_BIN/S_EXT: bytes; S_ARRAY/S_MAP: declared count */
    size_t off;         /* S_STR/S_BIN/S_EXT: offset of the payload */
} s_head_t;

static const char *
s_fam_name (s_fam_t fam)
{
    static const char *const names[] = {
        "nil", "bool", "unsigned integer", "negative integer", "float32",
        "float64", "str", "bin", "array", "map", "ext"
    };
    return names[fam];
}

static int
s_fail (s_cur_t *c, const char *fmt, ...)
{
    if (c->why && c->why_cap) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (c->why, c->why_cap, fmt, ap);
        va_end (ap);
    }
    return -1;
}

/*  Printable rendering of an untrusted key for a reason string: printable
    ASCII as is, other bytes as \xHH, at most FL_WIRE_MAX_KEYBYTES bytes. */
typedef struct { char s[4 * FL_WIRE_MAX_KEYBYTES + 4]; } s_keyname_t;

static s_keyname_t
s_keyname (const uint8_t *p, size_t n)
{
    s_keyname_t out;
    size_t o = 0;
    for (size_t i = 0; i < n && i < FL_WIRE_MAX_KEYBYTES; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '\'')
            out.s[o++] = (char) p[i];
        else
            o += (size_t) snprintf (out.s + o, sizeof out.s - o, "\\x%02x", p[i]);
    }
    if (n > FL_WIRE_MAX_KEYBYTES)
        out.s[o++] = '.', out.s[o++] = '.', out.s[o++] = '.';
    out.s[o] = '\0';
    return out;
}

static inline size_t
s_left (const s_cur_t *c)
{
    return c->len - c->pos;
}

/* Big-endian unsigned of k bytes at the cursor; caller checked k bytes remain. */
static uint64_t
s_be (s_cur_t *c, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = (v << 8) | c->p[c->pos + i];
    c->pos += k;
    return v;
}

/*  Reads one object header at the cursor.  Scalars, str, bin and ext are
    consumed whole (their payload is checked to fit); for arrays and maps
    only the header is consumed and the declared count is checked against
    the bytes left (each element takes at least one byte), so no caller can
    be made to loop or allocate beyond the input. */
static int
s_head (s_cur_t *c, s_head_t *h)
{
    memset (h, 0, sizeof *h);
    size_t at = c->pos;
    if (s_left (c) < 1)
        return s_fail (c, "truncated: message ends at byte %zu where a value was expected", at);
    uint8_t b = c->p[c->pos++];
    size_t need = 0;                    /* bytes of length/value after the tag */
    static const uint8_t extra[32] = {  /* for tags 0xc0..0xdf */
        0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 1, 1, 1, 1, 1, 1, 2, 4, 2, 4, 2, 4 };
    if (b >= 0xc0 && b <= 0xdf)
        need = extra[b - 0xc0];
    if (b >= 0xd4 && b <= 0xd8)
        need = 1;                       /* fixext: the type byte; payload below */
    if (s_left (c) < need)
        return s_fail (c, "truncated: value at byte %zu needs %zu more bytes, %zu left",
                       at, need, s_left (c));

    if (b <= 0x7f) { h->fam = S_UINT; h->u = b; return 0; }
    if (b >= 0xe0) { h->fam = S_NINT; h->i = (int8_t) b; return 0; }
    if (b <= 0x8f) { h->fam = S_MAP; h->n = b & 0x0f; }
    else if (b <= 0x9f) { h->fam = S_ARRAY; h->n = b & 0x0f; }
    else if (b <= 0xbf) { h->fam = S_STR; h->n = b & 0x1f; }
    else switch (b) {
        case 0xc0: h->fam = S_NIL; return 0;
        case 0xc1: return s_fail (c, "invalid byte 0xc1 at byte %zu", at);
        case 0xc2: case 0xc3: h->fam = S_BOOL; h->b = b == 0xc3; return 0;
        case 0xc4: case 0xc5: case 0xc6: h->fam = S_BIN; h->n = (size_t) s_be (c, need); break;
        case 0xc7: case 0xc8: case 0xc9:
            h->fam = S_EXT;
            h->n = (size_t) s_be (c, need);
            if (s_left (c) < 1)
                return s_fail (c, "truncated: ext at byte %zu has no type byte", at);
            c->pos++;
            break;
        case 0xca: {
            uint32_t u = (uint32_t) s_be (c, 4);
            float f;
            memcpy (&f, &u, 4);
            h->fam = S_F32;
            h->f = f;
            return 0;
        }
        case 0xcb: {
            uint64_t u = s_be (c, 8);
            memcpy (&h->f, &u, 8);
            h->fam = S_F64;
            return 0;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            h->fam = S_UINT; h->u = s_be (c, need); return 0;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            uint64_t u = s_be (c, need);
            int64_t v;
            /* sign-extend the need-byte two's complement value */
            if (need < 8 && (u >> (8 * need - 1)) & 1)
                u |= ~UINT64_C (0) << (8 * need);
            memcpy (&v, &u, 8);
            if (v >= 0) { h->fam = S_UINT; h->u = (uint64_t) v; }
            else { h->fam = S_NINT; h->i = v; }
            return 0;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            h->fam = S_EXT;
            h->n = (size_t) 1 << (b - 0xd4);
            c->pos++;                   /* type byte */
            break;
        case 0xd9: case 0xda: case 0xdb: h->fam = S_STR; h->n = (size_t) s_be (c, need); break;
        case 0xdc: case 0xdd: h->fam = S_ARRAY; h->n = (size_t) s_be (c, need); break;
        case 0xde: case 0xdf: h->fam = S_MAP; h->n = (size_t) s_be (c, need); break;
        default: assert (false);
    }
    if (h->fam == S_ARRAY) {
        if (h->n > s_left (c))
            return s_fail (c, "truncated: array at byte %zu declares %zu elements, %zu bytes left",
                           at, h->n, s_left (c));
        return 0;
    }
    if (h->fam == S_MAP) {
        if (h->n > s_left (c) / 2)
            return s_fail (c, "truncated: map at byte %zu declares %zu entries, %zu bytes left",
                           at, h->n, s_left (c));
        return 0;
    }
    /* str, bin, ext: the payload must fit */
    if (h->n > s_left (c))
        return s_fail (c, "truncated: %s at byte %zu declares %zu bytes, %zu left",
                       s_fam_name (h->fam), at, h->n, s_left (c));
    h->off = c->pos;
    c->pos += h->n;
    return 0;
}

/*  Skips one object, `depth` being the depth of its container (0 for the
    top object).  Recursion is bounded by max_depth; loops by the input
    length, since every element consumes at least one byte. */
static int
s_skip (s_cur_t *c, size_t depth, size_t max_depth, bool allow_ext)
{
    size_t at = c->pos;
    s_head_t h;
    if (s_head (c, &h))
        return -1;
    if (h.fam == S_EXT && !allow_ext)
        return s_fail (c, "ext type at byte %zu is not allowed", at);
    if (h.fam != S_ARRAY && h.fam != S_MAP)
        return 0;
    if (depth + 1 > max_depth)
        return s_fail (c, "nesting deeper than %zu levels at byte %zu", max_depth, at);
    size_t items = h.fam == S_MAP ? 2 * h.n : h.n;
    for (size_t i = 0; i < items; i++)
        if (s_skip (c, depth + 1, max_depth, allow_ext))
            return -1;
    return 0;
}

int
fl_wire_scan (const uint8_t *buf, size_t len, size_t max_depth, char *why, size_t why_cap)
{
    s_cur_t c = { buf, len, 0, why, why_cap };
    if (!buf || len == 0)
        return s_fail (&c, "empty message");
    if (max_depth > S_SCAN_MAX_DEPTH)
        max_depth = S_SCAN_MAX_DEPTH;
    if (s_skip (&c, 0, max_depth, true))
        return -1;
    if (c.pos != len)
        return s_fail (&c, "trailing bytes: %zu after the message's %zu", len - c.pos, c.pos);
    return 0;
}

/* ---- decoded message ---------------------------------------------------- */

typedef struct {
    bool present;
    union { uint64_t u; int64_t i; double f; bool b; } s;
    void *data;         /* STR: NUL-terminated copy; BIN: bytes; vectors and
                           lists: aligned elements; BIN_LIST: items back to back */
    size_t n;           /* STR/BIN: bytes; vectors/lists: elements; BIN_LIST: items */
    size_t *item_off;   /* BIN_LIST: offset of item i in data */
    size_t *item_len;   /* BIN_LIST: bytes of item i */
} s_value_t;

struct fl_wire_msg_t {
    fl_wire_type_t type;
    uint64_t round;
    uint8_t run_id[FL_WIRE_RUNIDBYTES];
    const s_schema_t *schema;
    s_value_t values[];         /* one per schema field */
};

void
fl_wire_msg_destroy (fl_wire_msg_t **self_p)
{
    assert (self_p);
    fl_wire_msg_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->schema->nfields; i++) {
        free (self->values[i].data);
        free (self->values[i].item_off);
        free (self->values[i].item_len);
    }
    free (self);
    *self_p = NULL;
}

/* A key/value pair located by the structure pass. */
typedef struct {
    size_t key_off, key_len;
    size_t val_off;
} s_pair_t;

/*  malloc that never returns NULL for 0 bytes, so empty vectors still give a
    non-NULL pointer. */
static void *
s_alloc (size_t bytes)
{
    return malloc (bytes ? bytes : 1);
}

/* Parses the value at c->pos as `field`, filling `val`.  `key` is for reasons. */
static int
s_parse_value (s_cur_t *c, const s_field_t *field, const fl_wire_limits_t *limits,
               const char *type_name, s_value_t *val)
{
    const char *key = field->key;
    s_head_t h;
    if (s_head (c, &h))
        return -1;
    fl_wire_kind_t kind = field->kind;
    bool ok;
    switch (kind) {
        case FL_WIRE_KIND_U64: case FL_WIRE_KIND_I64: ok = h.fam == S_UINT || h.fam == S_NINT; break;
        case FL_WIRE_KIND_F64:  ok = h.fam == S_F32 || h.fam == S_F64; break;
        case FL_WIRE_KIND_BOOL: ok = h.fam == S_BOOL; break;
        case FL_WIRE_KIND_STR:  ok = h.fam == S_STR; break;
        case FL_WIRE_KIND_U32_LIST: case FL_WIRE_KIND_BIN_LIST: ok = h.fam == S_ARRAY; break;
        default: ok = h.fam == S_BIN; break;    /* BIN and the bin vectors */
    }
    if (!ok)
        return s_fail (c, "%s key '%s': expected %s, got %s",
                       type_name, key, s_kind_name (kind), s_fam_name (h.fam));

    switch (kind) {
        case FL_WIRE_KIND_U64:
            if (h.fam == S_NINT)
                return s_fail (c, "%s key '%s': negative value %lld for an unsigned key",
                               type_name, key, (long long) h.i);
            val->s.u = h.u;
            break;
        case FL_WIRE_KIND_I64:
            if (h.fam == S_UINT && h.u > INT64_MAX)
                return s_fail (c, "%s key '%s': %llu is out of the int64 range",
                               type_name, key, (unsigned long long) h.u);
            val->s.i = h.fam == S_UINT ? (int64_t) h.u : h.i;
            break;
        case FL_WIRE_KIND_F64:
            if (!isfinite (h.f))
                return s_fail (c, "%s key '%s': float is not finite", type_name, key);
            val->s.f = h.f;
            break;
        case FL_WIRE_KIND_BOOL:
            val->s.b = h.b;
            break;
        case FL_WIRE_KIND_STR:
        case FL_WIRE_KIND_BIN:
            if (!s_len_ok (field, h.n))
                return s_fail (c, "%s key '%s': %s of %zu bytes, allowed %zu..%zu",
                               type_name, key, s_kind_name (kind), h.n, field->min_len,
                               field->max_len ? field->max_len : (size_t) UINT32_MAX);
            if (kind == FL_WIRE_KIND_STR && !s_str_valid (c->p + h.off, h.n))
                return s_fail (c, "%s key '%s': string is not UTF-8 or holds control characters",
                               type_name, key);
            val->data = s_alloc (h.n + 1);
            if (!val->data)
                return s_fail (c, "out of memory");
            memcpy (val->data, c->p + h.off, h.n);
            ((char *) val->data)[h.n] = '\0';
            val->n = h.n;
            break;
        case FL_WIRE_KIND_F32S: case FL_WIRE_KIND_F64S:
        case FL_WIRE_KIND_U32S: case FL_WIRE_KIND_U64S: {
            size_t esize = s_elem_size (kind);
            if (h.n % esize)
                return s_fail (c, "%s key '%s': bin of %zu bytes is not a multiple of %zu",
                               type_name, key, h.n, esize);
            size_t count = h.n / esize;
            if (count > limits->max_vector_len || (field->max_len && count > field->max_len))
                return s_fail (c, "%s key '%s': %zu elements exceeds the maximum %zu",
                               type_name, key, count,
                               field->max_len && field->max_len < limits->max_vector_len
                               ? field->max_len : limits->max_vector_len);
            if (count < field->min_len)
                return s_fail (c, "%s key '%s': %zu elements, fewer than %zu",
                               type_name, key, count, field->min_len);
            val->data = s_alloc (h.n);
            if (!val->data)
                return s_fail (c, "out of memory");
            s_le_copy (val->data, c->p + h.off, count, esize);
            val->n = count;
            if ((kind == FL_WIRE_KIND_F32S && !s_f32s_finite (val->data, count))
                || (kind == FL_WIRE_KIND_F64S && !s_f64s_finite (val->data, count)))
                return s_fail (c, "%s key '%s': vector holds NaN or Inf", type_name, key);
            break;
        }
        case FL_WIRE_KIND_U32_LIST:
        case FL_WIRE_KIND_BIN_LIST: {
            size_t count = h.n;         /* <= bytes left, checked by s_head */
            if (count > limits->max_list_len || (field->max_len && count > field->max_len))
                return s_fail (c, "%s key '%s': list of %zu entries exceeds the maximum %zu",
                               type_name, key, count,
                               field->max_len && field->max_len < limits->max_list_len
                               ? field->max_len : limits->max_list_len);
            if (count < field->min_len)
                return s_fail (c, "%s key '%s': list of %zu entries, fewer than %zu",
                               type_name, key, count, field->min_len);
            val->n = count;
            if (kind == FL_WIRE_KIND_U32_LIST) {
                uint32_t *v = s_alloc (count * sizeof *v);
                if (!v)
                    return s_fail (c, "out of memory");
                val->data = v;
                for (size_t i = 0; i < count; i++) {
                    s_head_t e;
                    if (s_head (c, &e))
                        return -1;
                    if (e.fam != S_UINT || e.u > UINT32_MAX)
                        return s_fail (c, "%s key '%s': entry %zu is not an integer in [0, 2^32)",
                                       type_name, key, i);
                    v[i] = (uint32_t) e.u;
                }
                break;
            }
            val->item_off = s_alloc (count * sizeof (size_t));
            val->item_len = s_alloc (count * sizeof (size_t));
            if (!val->item_off || !val->item_len)
                return s_fail (c, "out of memory");
            /* First pass: check the items and locate them in the input. */
            size_t total = 0;
            for (size_t i = 0; i < count; i++) {
                s_head_t e;
                if (s_head (c, &e))
                    return -1;
                if (e.fam != S_BIN)
                    return s_fail (c, "%s key '%s': item %zu is %s, not bin",
                                   type_name, key, i, s_fam_name (e.fam));
                if (e.n < field->item_min || (field->item_max && e.n > field->item_max))
                    return s_fail (c, "%s key '%s': item %zu of %zu bytes, allowed %zu..%zu",
                                   type_name, key, i, e.n, field->item_min, field->item_max);
                val->item_off[i] = e.off;       /* input offset for now */
                val->item_len[i] = e.n;
                total += e.n;                   /* <= input length: no overflow */
            }
            uint8_t *blob = s_alloc (total);
            if (!blob)
                return s_fail (c, "out of memory");
            val->data = blob;
            for (size_t i = 0, o = 0; i < count; i++) {
                memcpy (blob + o, c->p + val->item_off[i], val->item_len[i]);
                val->item_off[i] = o;
                o += val->item_len[i];
            }
            break;
        }
    }
    return 0;
}

/* Reads a header value at `off` as an unsigned integer. */
static int
s_header_uint (s_cur_t *c, size_t off, const char *key, uint64_t *out)
{
    s_head_t h;
    c->pos = off;
    if (s_head (c, &h))
        return -1;
    if (h.fam != S_UINT)
        return s_fail (c, "header key '%s': expected unsigned integer, got %s",
                       key, h.fam == S_NINT ? "negative integer" : s_fam_name (h.fam));
    *out = h.u;
    return 0;
}

fl_wire_msg_t *
fl_wire_decode (const uint8_t *buf, size_t len, const fl_wire_limits_t *limits,
                char *why, size_t why_cap)
{
    fl_wire_limits_t deflimits = fl_wire_limits_default ();
    if (!limits)
        limits = &deflimits;
    s_cur_t c = { buf, len, 0, why, why_cap };
    if (!buf || len == 0) {
        s_fail (&c, "empty message");
        return NULL;
    }
    if (len > limits->max_message_bytes) {
        s_fail (&c, "message of %zu bytes exceeds the limit of %zu bytes",
                len, limits->max_message_bytes);
        return NULL;
    }

    /* Pass 1: structure.  A top-level map of short string keys, every value
       well-formed and nested at most FL_WIRE_MAX_DEPTH deep, nothing after. */
    s_head_t top;
    if (s_head (&c, &top))
        return NULL;
    if (top.fam != S_MAP) {
        s_fail (&c, "top level is %s, not a map", s_fam_name (top.fam));
        return NULL;
    }
    if (top.n > FL_WIRE_MAX_KEYS) {
        s_fail (&c, "map has %zu keys, more than %u", top.n, FL_WIRE_MAX_KEYS);
        return NULL;
    }
    s_pair_t pairs[FL_WIRE_MAX_KEYS];
    for (size_t i = 0; i < top.n; i++) {
        size_t at = c.pos;
        s_head_t k;
        if (s_head (&c, &k))
            return NULL;
        if (k.fam != S_STR) {
            s_fail (&c, "key at byte %zu is %s, not str", at, s_fam_name (k.fam));
            return NULL;
        }
        if (k.n == 0 || k.n > FL_WIRE_MAX_KEYBYTES) {
            s_fail (&c, "key at byte %zu has %zu bytes, allowed 1..%u", at, k.n,
                    FL_WIRE_MAX_KEYBYTES);
            return NULL;
        }
        pairs[i].key_off = k.off;
        pairs[i].key_len = k.n;
        pairs[i].val_off = c.pos;
        if (s_skip (&c, 1, FL_WIRE_MAX_DEPTH, false))
            return NULL;
    }
    if (c.pos != len) {
        s_fail (&c, "trailing bytes: %zu after the message's %zu", len - c.pos, c.pos);
        return NULL;
    }

    /* Pass 2a: header.  Version first: another version may mean other things. */
    int hidx[S_NHEADER] = { -1, -1, -1, -1 };
    for (size_t i = 0; i < top.n; i++)
        for (int h = 0; h < S_NHEADER; h++)
            if (pairs[i].key_len == strlen (s_header_keys[h])
                && memcmp (buf + pairs[i].key_off, s_header_keys[h], pairs[i].key_len) == 0) {
                if (hidx[h] >= 0) {
                    s_fail (&c, "duplicate key '%s'", s_header_keys[h]);
                    return NULL;
                }
                hidx[h] = (int) i;
            }
    for (int h = 0; h < S_NHEADER; h++)
        if (hidx[h] < 0) {
            s_fail (&c, "missing header key '%s'", s_header_keys[h]);
            return NULL;
        }
    uint64_t version = 0, type = 0, round = 0;   /* set by s_header_uint; gcc -O3 cannot see it */
    if (s_header_uint (&c, pairs[hidx[S_H_V]].val_off, "v", &version))
        return NULL;
    if (version != FL_WIRE_VERSION) {
        s_fail (&c, "wrong protocol version %llu (this build speaks %u)",
                (unsigned long long) version, FL_WIRE_VERSION);
        return NULL;
    }
    if (s_header_uint (&c, pairs[hidx[S_H_T]].val_off, "t", &type))
        return NULL;
    const s_schema_t *schema = type < FL_WIRE_TYPE_LIMIT ? s_schema ((int) type) : NULL;
    if (!schema) {
        s_fail (&c, "unknown message type %llu", (unsigned long long) type);
        return NULL;
    }
    c.pos = pairs[hidx[S_H_RUN]].val_off;
    s_head_t run;
    if (s_head (&c, &run))
        return NULL;
    if (run.fam != S_BIN || run.n != FL_WIRE_RUNIDBYTES) {
        s_fail (&c, "header key 'run': expected a %u-byte bin, got %s of %zu",
                FL_WIRE_RUNIDBYTES, s_fam_name (run.fam), run.n);
        return NULL;
    }
    if (s_header_uint (&c, pairs[hidx[S_H_RND]].val_off, "rnd", &round))
        return NULL;

    fl_wire_msg_t *msg = calloc (1, sizeof *msg + schema->nfields * sizeof (s_value_t));
    if (!msg) {
        s_fail (&c, "out of memory");
        return NULL;
    }
    msg->type = (fl_wire_type_t) type;
    msg->round = round;
    memcpy (msg->run_id, buf + run.off, FL_WIRE_RUNIDBYTES);
    msg->schema = schema;

    /* Pass 2b: body keys against the schema row. */
    for (size_t i = 0; i < top.n; i++) {
        if ((int) i == hidx[0] || (int) i == hidx[1] || (int) i == hidx[2] || (int) i == hidx[3])
            continue;
        const char *kp = (const char *) buf + pairs[i].key_off;
        int f = s_field_index (schema, kp, pairs[i].key_len);
        if (f < 0) {
            s_fail (&c, "unknown key '%s' for %s",
                    s_keyname ((const uint8_t *) kp, pairs[i].key_len).s, schema->name);
            goto malformed;
        }
        if (msg->values[f].present) {
            s_fail (&c, "duplicate key '%s'", schema->fields[f].key);
            goto malformed;
        }
        msg->values[f].present = true;
        c.pos = pairs[i].val_off;
        if (s_parse_value (&c, &schema->fields[f], limits, schema->name, &msg->values[f]))
            goto malformed;
    }
    for (size_t f = 0; f < schema->nfields; f++)
        if (schema->fields[f].required && !msg->values[f].present) {
            s_fail (&c, "missing required key '%s' for %s", schema->fields[f].key, schema->name);
            goto malformed;
        }
    return msg;

malformed:
    fl_wire_msg_destroy (&msg);
    return NULL;
}

fl_wire_msg_t *
fl_wire_decode_from (const char *peer, const uint8_t *buf, size_t len,
                     const fl_wire_limits_t *limits)
{
    char why[FL_WIRE_WHYBYTES];
    fl_wire_msg_t *msg = fl_wire_decode (buf, len, limits, why, sizeof why);
    if (!msg)
        zsys_warning ("peer %s: rejected message: %s", peer ? peer : "?", why);
    return msg;
}

/* ---- getters ------------------------------------------------------------ */

fl_wire_type_t
fl_wire_type (const fl_wire_msg_t *self)
{
    assert (self);
    return self->type;
}

uint64_t
fl_wire_round (const fl_wire_msg_t *self)
{
    assert (self);
    return self->round;
}

const uint8_t *
fl_wire_run_id (const fl_wire_msg_t *self)
{
    assert (self);
    return self->run_id;
}

/*  The value of `key`, which must be in the schema with `kind`: a programmer
    error otherwise, caught by assert in debug builds; release builds treat
    the key as absent rather than read a wrong slot. */
static const s_value_t *
s_value (const fl_wire_msg_t *self, const char *key, fl_wire_kind_t kind)
{
    static const s_value_t absent = { .present = false };
    assert (self);
    assert (key);
    int f = s_field_index (self->schema, key, strlen (key));
    assert (f >= 0 && "key not in this message type's schema");
    if (f < 0)
        return &absent;
    assert (self->schema->fields[f].kind == kind && "getter of the wrong kind");
    if (self->schema->fields[f].kind != kind)
        return &absent;
    return &self->values[f];
}

bool
fl_wire_has (const fl_wire_msg_t *self, const char *key)
{
    assert (self);
    assert (key);
    int f = s_field_index (self->schema, key, strlen (key));
    assert (f >= 0 && "key not in this message type's schema");
    return f >= 0 && self->values[f].present;
}

int
fl_wire_get_u64 (const fl_wire_msg_t *self, const char *key, uint64_t *value)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_U64);
    if (!v->present)
        return -1;
    *value = v->s.u;
    return 0;
}

int
fl_wire_get_i64 (const fl_wire_msg_t *self, const char *key, int64_t *value)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_I64);
    if (!v->present)
        return -1;
    *value = v->s.i;
    return 0;
}

int
fl_wire_get_f64 (const fl_wire_msg_t *self, const char *key, double *value)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_F64);
    if (!v->present)
        return -1;
    *value = v->s.f;
    return 0;
}

int
fl_wire_get_bool (const fl_wire_msg_t *self, const char *key, bool *value)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_BOOL);
    if (!v->present)
        return -1;
    *value = v->s.b;
    return 0;
}

int
fl_wire_get_str (const fl_wire_msg_t *self, const char *key, const char **value, size_t *len)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_STR);
    if (!v->present)
        return -1;
    *value = v->data;
    if (len)
        *len = v->n;
    return 0;
}

int
fl_wire_get_bin (const fl_wire_msg_t *self, const char *key, const uint8_t **data, size_t *len)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_BIN);
    if (!v->present)
        return -1;
    *data = v->data;
    *len = v->n;
    return 0;
}

#define S_GET_ARRAY(fn, kind, T)                                              \
    int fn (const fl_wire_msg_t *self, const char *key, const T **out, size_t *n) \
    {                                                                         \
        const s_value_t *v = s_value (self, key, kind);                       \
        if (!v->present)                                                      \
            return -1;                                                        \
        *out = v->data;                                                       \
        *n = v->n;                                                            \
        return 0;                                                             \
    }

S_GET_ARRAY (fl_wire_get_f32s, FL_WIRE_KIND_F32S, float)
S_GET_ARRAY (fl_wire_get_f64s, FL_WIRE_KIND_F64S, double)
S_GET_ARRAY (fl_wire_get_u32s, FL_WIRE_KIND_U32S, uint32_t)
S_GET_ARRAY (fl_wire_get_u64s, FL_WIRE_KIND_U64S, uint64_t)
S_GET_ARRAY (fl_wire_get_u32_list, FL_WIRE_KIND_U32_LIST, uint32_t)

size_t
fl_wire_bin_list_len (const fl_wire_msg_t *self, const char *key)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_BIN_LIST);
    return v->present ? v->n : 0;
}

int
fl_wire_get_bin_list_item (const fl_wire_msg_t *self, const char *key, size_t index,
                           const uint8_t **data, size_t *len)
{
    const s_value_t *v = s_value (self, key, FL_WIRE_KIND_BIN_LIST);
    assert (!v->present || index < v->n);
    if (!v->present || index >= v->n)
        return -1;
    *data = (const uint8_t *) v->data + v->item_off[index];
    *len = v->item_len[index];
    return 0;
}

const char *
fl_wire_get_cstr (const fl_wire_msg_t *self, const char *key)
{
    const char *v = NULL;
    size_t len = 0;
    return fl_wire_get_str (self, key, &v, &len) == 0 ? v : NULL;
}

int
fl_wire_copy_f32s (const fl_wire_msg_t *self, const char *key, float *out, size_t n)
{
    const float *v = NULL;
    size_t got = 0;
    if (fl_wire_get_f32s (self, key, &v, &got) != 0 || got != n)
        return -1;
    if (n)
        memcpy (out, v, n * sizeof (float));
    return 0;
}

int
fl_wire_copy_f64s (const fl_wire_msg_t *self, const char *key, double *out, size_t n)
{
    const double *v = NULL;
    size_t got = 0;
    if (fl_wire_get_f64s (self, key, &v, &got) != 0 || got != n)
        return -1;
    if (n)
        memcpy (out, v, n * sizeof (double));
    return 0;
}
