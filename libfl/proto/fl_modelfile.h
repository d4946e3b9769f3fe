/*  fl_modelfile - the trained global model on disk.

    A model file is one fl_wire message of type MODEL (a msgpack map, see
    docs/WIRE.md): model name, hidden sizes, input and class counts, the
    model fingerprint, the flat float32 parameters and the global feature
    standardisation (mean, std) the model expects its inputs in, and
    optionally the schema its inputs were encoded with.

    Format 2 (key "format" = 2; files without the key are format 1 and load
    as before) adds the names of the inputs: one name per feature in input
    order ("feature_names"), the label column's name ("label") and one name
    per class ("class_names", class k's name at index k).  Each is optional
    (unknown when absent); fl-model predict checks a CSV's header against
    the feature names.  Loading
    goes through the same validating decoder as network input, then checks
    that the parameters fit the model the file names (fingerprint and
    length), so a truncated or edited file is refused, never half-used.

    Format 3 (key "format" = 3) adds "digest": the BLAKE2b-256 digest of the
    trained parameters (fl_modelfile_digest; definition in docs/MODELS.md,
    "Parameter digest"), so a report can name the exact model it describes.
    A format-3 file must carry it and loading recomputes it: a file whose
    parameters do not match its digest is refused.  Formats 1 and 2 (no
    digest) load as before; their digest is computed on demand.
*/
#ifndef FL_MODELFILE_H_INCLUDED
#define FL_MODELFILE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_MODELFILE_FORMAT   3u      /* written by this version */
#define FL_MODELFILE_DIGESTBYTES 32u  /* crypto_generichash (BLAKE2b) output of fl_modelfile_digest */
/* Domain separation of the parameter digest (its first bytes, no NUL). */
#define FL_MODELFILE_DIGEST_DOMAIN "libfl-model-parameters-v1"
#define FL_MODELFILE_MAX_NAME 255u     /* bytes of one feature / label / class name */

/*  The names a model file keeps (all owned by the struct; any may be
    unknown: n_features == 0, label NULL, n_classes == 0). */
typedef struct {
    uint64_t format;        /* 1 = written before names were kept, 2 = names, 3 = names and digest */
    char **features;        /* n_features names, input order */
    size_t n_features;      /* 0 or the model's inputs */
    char *label;            /* label column name, or NULL */
    char **classes;         /* n_classes names, class k at index k */
    size_t n_classes;       /* 0 or the model's classes */
} fl_modelfile_names_t;

/*  Writes model (its current parameters) with mean/std (features floats
    each, or NULL) to path atomically (path.tmp, fsync, rename).  run_id is
    16 bytes (may be NULL), round the round it was produced in.  hidden is the
    spec string it was built with ("" for none).  -1 (logged) on I/O error. */
int fl_modelfile_save (const char *path, fl_model_t *model, const char *hidden, const float *mean,
                       const float *std, const uint8_t *run_id, uint64_t round);

/*  Reads a model file: *model is a new model holding the saved parameters;
    *mean and *std (malloc'd, features floats each) are the standardisation,
    or NULL if the file has none.  -1 (logged with the reason) if the file is
    missing, malformed, names an unknown model, or its parameters do not
    match the model's fingerprint or size. */
int fl_modelfile_load (const char *path, fl_model_t **model, float **mean, float **std);

/*  As fl_modelfile_load for a model whose architecture comes from a model
    plugin: the model is built by fl_model_load_plugin (plugin, ...) with
    the file's shape (plugin is passed as given; NULL or "" = built-in
    models only) and must carry the name the file holds.  -1 (logged) as
    fl_modelfile_load, and when the plugin cannot be loaded or builds a
    model of another name or fingerprint. */
int fl_modelfile_load_plugin (const char *path, const char *plugin, fl_model_t **model, float **mean,
                              float **std);

/*  *names: the feature, label and class names the file at path keeps
    (fl_modelfile_names_clear frees them); unknown ones are empty, and
    names->format says which format the file is (1: from before names were
    kept).  0, or -1 (logged; *names empty) on an unreadable file or names
    that do not fit it (counts not the model's, duplicate feature names, a
    control character, the label also a feature). */
int fl_modelfile_load_names (const char *path, fl_modelfile_names_t *names);

/*  Frees what *names holds and zeroes it; safe on a zeroed struct and twice. */
void fl_modelfile_names_clear (fl_modelfile_names_t *names);

/*  Records names in the model file at path (rewritten atomically, format 2;
    the model, standardisation and schema are kept as they are; names
    replaces any names the file had, an empty part removes it).  The
    training programs call it once the coordinator has written the file
    (fl-sim: the data set's header).  -1 (logged, file unchanged) on an
    unreadable file, or names the file would refuse on loading (see
    fl_modelfile_load_names). */
int fl_modelfile_attach_names (const char *path, const fl_modelfile_names_t *names);

/*  Stores the consortium's schema (fl_schema.h: column types, vocabularies,
    label mapping) in the model file at path, as the optional MODEL key
    "schema" (its zconfig text), so whoever uses the model encodes new rows
    the same way and can read the label mapping (fl-model info).  The model
    file is loaded (validated) and rewritten atomically.  -1 (logged) if
    either file is invalid or the schema's feature / class count is not the
    model's.  Model files without the key load as before. */
int fl_modelfile_attach_schema (const char *path, const char *schema_path);

/*  *schema_text: the stored schema's text (a new string the caller frees),
    or NULL when the file has none.  0, or -1 (logged) on an unreadable or
    malformed file.  Parse it with fl_schema_load_str. */
int fl_modelfile_load_schema (const char *path, char **schema_text);


/*  The parameter digest: BLAKE2b with a 32-byte output (libsodium
    crypto_generichash, no key) over
        FL_MODELFILE_DIGEST_DOMAIN (25 ASCII bytes, no NUL)
        || fp (32 bytes: the model fingerprint, fl_model_fingerprint: name,
           version, shapes)
        || n as a little-endian uint64
        || params[0..n) each as little-endian IEEE-754 binary32.
    Any change of one parameter bit, of the architecture or of n changes it.
    out: FL_MODELFILE_DIGESTBYTES bytes.  Never fails (n may be 0). */
void fl_modelfile_digest (const uint8_t fp[32], const float *params, size_t n,
                          uint8_t out[FL_MODELFILE_DIGESTBYTES]);

/*  The digest of the model file at path, as fl_modelfile_digest of the
    parameters it holds: the file is loaded and validated like
    fl_modelfile_load (a format-3 file whose stored digest does not match is
    refused), with any model name (plugin models too: the fingerprint and
    parameters are hashed as stored, without building the model).
    *format gets the file's format (may be NULL).  -1 (logged) on a missing,
    malformed or mismatching file. */
int fl_modelfile_load_digest (const char *path, uint8_t out[FL_MODELFILE_DIGESTBYTES], uint64_t *format);

#ifdef __cplusplus
}
#endif
#endif
