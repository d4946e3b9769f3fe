/*  fl_modelfile - the trained global model on disk.

    A model file is one fl_wire message of type MODEL (a msgpack map, see
    docs/WIRE.md): model name, hidden sizes, input and class counts, the
    model fingerprint, the flat float32 parameters and the global feature
    standardisation (mean, std) the model expects its inputs in, and
    optionally the schema its inputs were encoded with.  Loading
    goes through the same validating decoder as network input, then checks
    that the parameters fit the model the file names (fingerprint and
    length), so a truncated or edited file is refused, never half-used.
*/
#ifndef FL_MODELFILE_H_INCLUDED
#define FL_MODELFILE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_model.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
