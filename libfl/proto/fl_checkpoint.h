/*  fl_checkpoint - everything needed to resume a run after its last
    completed round, written atomically and refused whole when damaged.

    A checkpoint is a generic container: a header (format version, run id,
    round) and up to FL_CHECKPOINT_MAX_FIELDS named fields, each one of

        U64     one uint64 scalar          (step counts, cohort draws, seeds)
        F64     one float64 scalar         (any double, bit-exact)
        BYTES   an opaque byte string      (config fingerprint, metrics rows)
        F32S    a float32 vector           (global model, optimizer state)
        F64S    a float64 vector           (accountant state)
        U64S    a uint64 vector            (RNG state, counters)

    The coordinator decides what goes in (suggested names below); this module
    knows nothing about models or accountants, so adding state to a checkpoint
    never changes the file format.

    Why our own layout, not an fl_wire message: fl_wire's schema fixes the
    key set per message type, while a checkpoint's fields are the caller's;
    fl_wire refuses NaN/Inf in float vectors, while a checkpoint must restore
    state bit-exactly whatever it holds (an accountant's RDP at an order can
    legitimately be +inf); and the layout below puts every vector at an
    8-byte-aligned offset, so loading is one read, one checksum and one pass
    of checks, with no per-field copy.  (fl_wire's default limits, 64 MiB and
    16 Mi elements, would hold a 1M-parameter model; that was not the reason.)

    File layout (all integers little-endian; docs/CHECKPOINT.md repeats it):

        offset  size  what
        0       8     magic "FLCKPT\r\n" (46 4c 43 4b 50 54 0d 0a): catches
                      text-mode mangling and non-checkpoint files
        8       4     format version, FL_CHECKPOINT_VERSION
        12      4     number of fields F (<= FL_CHECKPOINT_MAX_FIELDS)
        16      8     total file length in bytes, checksum included
        24      16    run id
        40      8     round: the last completed round
        48            F fields, each:
                        1  type (1 U64, 2 F64, 3 BYTES, 4 F32S, 5 F64S, 6 U64S)
                        1  name length L, 1..FL_CHECKPOINT_NAMEBYTES
                        6  zero
                        8  payload length P in bytes (scalars: 8; vectors: a
                           multiple of the element size)
                        L  name: [A-Za-z0-9._-], unique within the file
                           zero padding to a multiple of 8
                        P  payload
                           zero padding to a multiple of 8
        len-32  32    BLAKE2b-256 (crypto_generichash, unkeyed) of bytes
                      [0, len - 32)

    The checksum detects corruption (torn writes, bit rot, truncation); it is
    not authentication: whoever can write the checkpoint directory can write
    a valid checkpoint.  Protect the directory (mode 0700) instead.

    Loading checks, in this order and before allocating anything that the
    input sizes: length within [FL_CHECKPOINT_MIN_BYTES,
    FL_CHECKPOINT_MAX_BYTES], magic, version, declared length equal to the
    actual length (a truncated file says so), checksum, then every field:
    known type, valid and unique name, zero reserved and padding bytes,
    payload length consistent with the type and within the file.

    Saving to a directory (fl_checkpoint_save_dir), crash-safe at any point:
        1. if DIR/checkpoint.flc holds a valid checkpoint, give it the second
           name DIR/checkpoint.prev.flc (hard link as
           DIR/checkpoint.prev.flc.tmp, renamed over the previous one) and
           fsync DIR (a damaged one is left to be replaced, so it never
           evicts the previous good checkpoint);
        2. replace DIR/checkpoint.flc with fl_atomic_write (core/fl_atomic:
           DIR/checkpoint.flc.tmp written, fsynced, renamed), fsync DIR.
    DIR/checkpoint.flc is never missing: a crash leaves it whole, old or
    new.  If an earlier crash left only checkpoint.prev.flc (as the
    two-rename protocol of older versions could), fl_checkpoint_load_dir
    falls back to it.

    Suggested field names for the coordinator (FL_CHECKPOINT_KEY_*) are
    defined below so that writer and reader cannot drift apart.
*/
#ifndef FL_CHECKPOINT_H_INCLUDED
#define FL_CHECKPOINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl_session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_CHECKPOINT_VERSION      1u
#define FL_CHECKPOINT_MAGICBYTES   8u
#define FL_CHECKPOINT_RUNIDBYTES   FL_SESSION_RUNIDBYTES   /* the run id (fl_session.h) */
#define FL_CHECKPOINT_HEADERBYTES  48u      /* magic .. round */
#define FL_CHECKPOINT_FIELDHEADERBYTES 16u
#define FL_CHECKPOINT_CHECKSUMBYTES 32u     /* BLAKE2b-256 */
#define FL_CHECKPOINT_MIN_BYTES    (FL_CHECKPOINT_HEADERBYTES + FL_CHECKPOINT_CHECKSUMBYTES)
/*  1 GiB: a 1M-parameter model with Adam state is ~12 MiB, a 16M-parameter
    one ~200 MiB.  Larger files are refused before reading them. */
#define FL_CHECKPOINT_MAX_BYTES    ((size_t) 1 << 30)
#define FL_CHECKPOINT_MAX_FIELDS   1024u
#define FL_CHECKPOINT_NAMEBYTES    63u      /* longest field name */
#define FL_CHECKPOINT_WHYBYTES     256u     /* a comfortable size for `why` buffers */

#define FL_CHECKPOINT_FILE         "checkpoint.flc"
#define FL_CHECKPOINT_PREV_FILE    "checkpoint.prev.flc"
#define FL_CHECKPOINT_TMP_FILE     "checkpoint.flc.tmp"
#define FL_CHECKPOINT_PREV_TMP_FILE "checkpoint.prev.flc.tmp"

/*  Field names the coordinator uses (any [A-Za-z0-9._-] name is allowed). */
#define FL_CHECKPOINT_KEY_PARAMS      "model.params"      /* F32S: global model */
#define FL_CHECKPOINT_KEY_OPT_STATE   "server_opt.state"  /* F32S: optimizer moments */
#define FL_CHECKPOINT_KEY_OPT_STEP    "server_opt.step"   /* U64 */
#define FL_CHECKPOINT_KEY_MEAN        "std.mean"          /* F32S: standardisation */
#define FL_CHECKPOINT_KEY_STD         "std.std"           /* F32S */
#define FL_CHECKPOINT_KEY_ACCOUNTANT  "accountant"        /* F64S: fl_accountant_export */
#define FL_CHECKPOINT_KEY_CONFIG_FP   "config.fp"         /* BYTES: config fingerprint */
#define FL_CHECKPOINT_KEY_METRICS     "metrics.rows"      /* BYTES: metrics rows so far */
#define FL_CHECKPOINT_KEY_RNG         "cohort.rng"        /* U64S: seed, draws, ... */

typedef enum {
    FL_CHECKPOINT_U64 = 1,
    FL_CHECKPOINT_F64 = 2,
    FL_CHECKPOINT_BYTES = 3,
    FL_CHECKPOINT_F32S = 4,
    FL_CHECKPOINT_F64S = 5,
    FL_CHECKPOINT_U64S = 6
} fl_checkpoint_type_t;

typedef struct fl_checkpoint_t fl_checkpoint_t;

/*  An empty checkpoint of run `run_id` (16 bytes, copied) after completed
    round `round`.  NULL on allocation failure.  Caller owns it. */
fl_checkpoint_t *fl_checkpoint_new (const uint8_t run_id[FL_CHECKPOINT_RUNIDBYTES],
                                    uint64_t round);

/*  Frees the checkpoint; nulls *self_p; safe on NULL and twice. */
void fl_checkpoint_destroy (fl_checkpoint_t **self_p);

/*  Header of the checkpoint.  The run id (16 bytes) is owned by self. */
const uint8_t *fl_checkpoint_run_id (const fl_checkpoint_t *self);
uint64_t fl_checkpoint_round (const fl_checkpoint_t *self);

/* ---- putting fields --------------------------------------------------- */

/*  Adds field `name` with a copy of the value.  Each returns 0, or -1 and
    logs (zsys_error) if name is not 1..FL_CHECKPOINT_NAMEBYTES of
    [A-Za-z0-9._-], already used, the checkpoint already holds
    FL_CHECKPOINT_MAX_FIELDS fields, the encoded checkpoint would exceed
    FL_CHECKPOINT_MAX_BYTES, or on allocation failure.  Vectors of n = 0 and
    empty byte strings are allowed (data may then be NULL). */
int fl_checkpoint_put_u64 (fl_checkpoint_t *self, const char *name, uint64_t value);
int fl_checkpoint_put_f64 (fl_checkpoint_t *self, const char *name, double value);
int fl_checkpoint_put_bytes (fl_checkpoint_t *self, const char *name, const void *data, size_t len);
int fl_checkpoint_put_f32s (fl_checkpoint_t *self, const char *name, const float *v, size_t n);
int fl_checkpoint_put_f64s (fl_checkpoint_t *self, const char *name, const double *v, size_t n);
int fl_checkpoint_put_u64s (fl_checkpoint_t *self, const char *name, const uint64_t *v, size_t n);

/* ---- getting fields --------------------------------------------------- */

/*  Number of fields, and the name and type of field i < count (for
    listing; the order is the order they were put or stored). */
size_t fl_checkpoint_count (const fl_checkpoint_t *self);
const char *fl_checkpoint_name (const fl_checkpoint_t *self, size_t i);
fl_checkpoint_type_t fl_checkpoint_type (const fl_checkpoint_t *self, size_t i);

/*  True if a field `name` exists (of any type). */
bool fl_checkpoint_has (const fl_checkpoint_t *self, const char *name);

/*  Typed getters.  Each returns 0 and fills the outputs, or -1 (outputs
    untouched) if there is no field `name` or it has another type; a
    checkpoint read from disk is data, so asking for the wrong type is an
    error the caller reports, not an assert.  Pointers point into self,
    are aligned for their element type and valid until it is destroyed;
    an empty vector gives a non-NULL pointer and n = 0. */
int fl_checkpoint_get_u64 (const fl_checkpoint_t *self, const char *name, uint64_t *value);
int fl_checkpoint_get_f64 (const fl_checkpoint_t *self, const char *name, double *value);
int fl_checkpoint_get_bytes (const fl_checkpoint_t *self, const char *name,
                             const uint8_t **data, size_t *len);
int fl_checkpoint_get_f32s (const fl_checkpoint_t *self, const char *name, const float **v, size_t *n);
int fl_checkpoint_get_f64s (const fl_checkpoint_t *self, const char *name, const double **v, size_t *n);
int fl_checkpoint_get_u64s (const fl_checkpoint_t *self, const char *name, const uint64_t **v, size_t *n);

/*  Copies the F32S field `name` into out[0..n): -1 (out untouched) if it is
    missing, of another type, or does not hold exactly n values.  The common
    "restore my model of n parameters" call. */
int fl_checkpoint_copy_f32s (const fl_checkpoint_t *self, const char *name, float *out, size_t n);

/* ---- bytes ------------------------------------------------------------ */

/*  Serialises the checkpoint in the layout above into a malloc'd buffer
    *buf (caller frees with free()) of *len bytes.  -1 (and logs, *buf NULL,
    *len 0) on allocation failure. */
int fl_checkpoint_encode (const fl_checkpoint_t *self, uint8_t **buf, size_t *len);

/*  Decodes and validates `len` untrusted bytes (see "Loading checks").
    Returns an owned checkpoint independent of buf, or NULL with a one-line
    reason in why[why_cap] (why may be NULL): too short or too long, wrong
    magic, unsupported version, truncated or trailing bytes (declared length
    differs from len), checksum mismatch, more than FL_CHECKPOINT_MAX_FIELDS
    fields, a field header or payload past the end, unknown field type,
    invalid or duplicate name, non-zero reserved or padding byte, payload
    length wrong for the type, or allocation failure.  Allocates at most len
    bytes plus a small per-field table; never reads outside [buf, buf+len).
    Does not log: the caller knows the file and logs. */
fl_checkpoint_t *fl_checkpoint_decode (const uint8_t *buf, size_t len, char *why, size_t why_cap);

/* ---- files -------------------------------------------------------------- */

/*  Writes the checkpoint as DIR/checkpoint.flc with the crash-safe protocol
    above (mode 0600: model and accountant state are the run's).  -1 and
    zsys_error naming the path and the system error if DIR is missing or not
    a directory, or on any link, write, fsync or rename failure; the
    temporary files are then removed and DIR/checkpoint.flc is left as it
    was (a failure after step 1 leaves DIR/checkpoint.prev.flc holding the
    same checkpoint as DIR/checkpoint.flc). */
int fl_checkpoint_save_dir (const fl_checkpoint_t *self, const char *dir);

/*  Reads and decodes one checkpoint file.  NULL and zsys_error
    ("checkpoint PATH: REASON") if it is missing, not a regular file, larger
    than FL_CHECKPOINT_MAX_BYTES (checked before reading), unreadable or
    refused by fl_checkpoint_decode.  The reason is also written to
    why[why_cap] when why is not NULL. */
fl_checkpoint_t *fl_checkpoint_load_file (const char *path, char *why, size_t why_cap);

/*  Loads the newest good checkpoint of DIR into *out:
      0   loaded; *from_prev (if not NULL) is true when DIR/checkpoint.flc
          was missing or damaged and DIR/checkpoint.prev.flc was used (a
          zsys_warning names the damaged file and why);
      1   DIR holds no checkpoint at all (neither file exists): a fresh run;
      -1  DIR is missing or not a directory, or every checkpoint present is
          damaged (zsys_error for each, naming file and reason).
    A stale DIR/checkpoint.flc.tmp (a save interrupted before its rename) is
    ignored; the next save removes it.  *out is NULL unless 0 is returned. */
int fl_checkpoint_load_dir (const char *dir, fl_checkpoint_t **out, bool *from_prev);

#ifdef __cplusplus
}
#endif
#endif
