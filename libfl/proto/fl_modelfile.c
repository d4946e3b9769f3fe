/*  fl_modelfile.c - model files (see fl_modelfile.h). */
#include "fl_modelfile.h"
#include "fl_atomic.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_schema.h"
#include "fl_wire.h"

#define S_MAX_FILE ((size_t) 1 << 30)

/*  Writes buf[0..len) to path atomically (path.tmp, fsync, rename). */
static int s_write_atomic (const char *path, const uint8_t *buf, size_t len);

static int
s_save (const char *path, fl_model_t *model, const char *hidden, const float *mean, const float *std,
        const uint8_t *run_id, uint64_t round, const char *schema)
{
    static const uint8_t zero[FL_WIRE_RUNIDBYTES];
    uint8_t fp[32];
    fl_model_fingerprint (model, fp);
    size_t d = fl_model_num_inputs (model);
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_MODEL, run_id ? run_id : zero, round);
    fl_wire_put_str (w, FL_K_MODEL, fl_model_name (model));
    fl_wire_put_str (w, FL_K_HIDDEN, hidden ? hidden : "");
    fl_wire_put_u64 (w, FL_K_FEATURES, d);
    fl_wire_put_u64 (w, FL_K_CLASSES, fl_model_num_classes (model));
    fl_wire_put_bin (w, FL_K_FP, fp, sizeof fp);
    if (fl_model_config (model)->qat)
        fl_wire_put_u64 (w, FL_K_QAT, fl_model_config (model)->qat);
    fl_wire_put_f32s (w, FL_K_PARAMS, fl_model_params (model), fl_model_num_params (model));
    if (mean && std) {
        fl_wire_put_f32s (w, FL_K_MEAN, mean, d);
        fl_wire_put_f32s (w, FL_K_STD, std, d);
    }
    if (schema)
        fl_wire_put_bin (w, FL_K_SCHEMA, (const uint8_t *) schema, strlen (schema));
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fl_wire_writer_finish (&w, &buf, &len) != 0)
        return -1;
    int rc = s_write_atomic (path, buf, len);
    free (buf);
    return rc;
}

int
fl_modelfile_save (const char *path, fl_model_t *model, const char *hidden, const float *mean,
                   const float *std, const uint8_t *run_id, uint64_t round)
{
    return s_save (path, model, hidden, mean, std, run_id, round, NULL);
}

static int
s_write_atomic (const char *path, const uint8_t *buf, size_t len)
{
    if (fl_atomic_write (path, buf, len, 0644) == 0)
        return 0;
    zsys_error ("model file: cannot write %s: %s", path, strerror (errno));
    return -1;
}

/*  The decoded MODEL message of path, or NULL (logged). */
static fl_wire_msg_t *
s_read_msg (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        zsys_error ("model file: cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *nb = cap <= S_MAX_FILE ? (uint8_t *) realloc (buf, cap) : NULL;
            if (!nb) {
                zsys_error ("model file: %s is larger than %zu bytes", path, S_MAX_FILE);
                free (buf);
                fclose (f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread (buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose (f);
    char why[160];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    lim.max_message_bytes = S_MAX_FILE;
    fl_wire_msg_t *m = fl_wire_decode (buf, len, &lim, why, sizeof why);
    free (buf);
    if (!m || fl_wire_type (m) != FL_WIRE_MODEL) {
        zsys_error ("model file: %s is not a libfl model file: %s", path, m ? "wrong message type" : why);
        fl_wire_msg_destroy (&m);
    }
    return m;
}

int
fl_modelfile_load (const char *path, fl_model_t **model_p, float **mean_p, float **std_p)
{
    *model_p = NULL;
    *mean_p = *std_p = NULL;
    fl_wire_msg_t *m = s_read_msg (path);
    if (!m)
        return -1;
    int rc = -1;
    const char *name = fl_wire_get_cstr (m, FL_K_MODEL);
    const char *hidden = fl_wire_get_cstr (m, FL_K_HIDDEN);
    uint64_t features = 0, classes = 0;
    const uint8_t *fp = NULL;
    size_t fp_len = 0;
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    fl_model_t *model = NULL;
    float *mean = NULL, *std = NULL;
    if (!name || !hidden || fl_wire_get_u64 (m, FL_K_FEATURES, &features) != 0
        || fl_wire_get_u64 (m, FL_K_CLASSES, &classes) != 0 || fl_wire_get_bin (m, FL_K_FP, &fp, &fp_len) != 0
        || fp_len != 32 || features == 0 || features > 100000 || classes < 2 || classes > 1000) {
        zsys_error ("model file: %s: missing or invalid header fields", path);
        goto done;
    }
    mc.n_inputs = features;
    mc.n_classes = classes;
    uint64_t qat = 0;
    if (fl_wire_get_u64 (m, FL_K_QAT, &qat) == 0)    /* optional: QAT mode (fingerprinted) */
        mc.qat = qat <= FL_MODEL_QAT_PER_CHANNEL ? (uint32_t) qat : UINT32_MAX;
    if (hidden[0] && fl_model_parse_hidden (hidden, &mc) != 0) {
        zsys_error ("model file: %s: invalid hidden sizes '%s'", path, hidden);
        goto done;
    }
    /* The parameter vector's length bounds what a built-in model of the
       declared shape may allocate: check it BEFORE building the model, so a
       small file cannot ask for a gigantic one.  Dense layers hold
       (inputs + 1) x outputs parameters; binary tasks have one output. */
    {
        const float *pv = NULL;
        size_t np = 0, expect = 0, prev = features;
        int ok = fl_wire_get_f32s (m, FL_K_PARAMS, &pv, &np) == 0;
        for (size_t l = 0; ok && l < mc.n_hidden; l++) {
            expect += (prev + 1) * mc.hidden[l];
            prev = mc.hidden[l];
        }
        expect += (prev + 1) * (classes == 2 ? 1 : classes);
        if (!ok || ((strcmp (name, "logreg") == 0 || strcmp (name, "mlp") == 0) && np != expect)) {
            zsys_error ("model file: %s: holds %zu parameters, a %s of this shape has %zu", path, np, name, expect);
            goto done;
        }
    }
    if (!(model = fl_model_new (name, &mc))) {
        zsys_error ("model file: %s: cannot build model %s (%s)", path, name, hidden);
        goto done;
    }
    uint8_t mine[32];
    fl_model_fingerprint (model, mine);
    if (sodium_memcmp (mine, fp, 32) != 0) {
        zsys_error ("model file: %s: fingerprint does not match model %s (%s)", path, name, hidden);
        goto done;
    }
    if (fl_wire_copy_f32s (m, FL_K_PARAMS, fl_model_params (model), fl_model_num_params (model)) != 0) {
        zsys_error ("model file: %s: parameter vector does not have %zu values", path, fl_model_num_params (model));
        goto done;
    }
    for (size_t i = 0; i < fl_model_num_params (model); i++)
        if (!isfinite (fl_model_params (model)[i])) {
            zsys_error ("model file: %s: non-finite parameter %zu", path, i);
            goto done;
        }
    if (fl_wire_has (m, FL_K_MEAN)) {
        mean = (float *) malloc (features * sizeof (float));
        std = (float *) malloc (features * sizeof (float));
        if (!mean || !std || fl_wire_copy_f32s (m, FL_K_MEAN, mean, features) != 0
            || fl_wire_copy_f32s (m, FL_K_STD, std, features) != 0) {
            zsys_error ("model file: %s: standardisation vectors do not have %" PRIu64 " values", path, features);
            goto done;
        }
    }
    *model_p = model;
    *mean_p = mean;
    *std_p = std;
    model = NULL;
    mean = std = NULL;
    rc = 0;
done:
    fl_model_destroy (&model);
    free (mean);
    free (std);
    fl_wire_msg_destroy (&m);
    return rc;
}


int
fl_modelfile_attach_schema (const char *path, const char *schema_path)
{
    fl_model_t *model = NULL;
    float *mean = NULL, *std = NULL;
    char why[512];
    int rc = -1;
    char *text = NULL;
    fl_schema_t *schema = NULL;
    fl_wire_msg_t *m = NULL;
    if (fl_modelfile_load (path, &model, &mean, &std) != 0)
        return -1;
    if (!(text = fl_schema_read_file (schema_path, why, sizeof why))
        || !(schema = fl_schema_load_str (text, schema_path, why, sizeof why))) {
        zsys_error ("model file: schema %s", why);
        goto done;
    }
    if (fl_schema_features (schema) != fl_model_num_inputs (model)
        || fl_schema_classes (schema) != fl_model_num_classes (model)) {
        zsys_error ("model file: schema %s encodes %zu features / %zu classes, the model in %s takes %zu / %zu",
                    schema_path, fl_schema_features (schema), fl_schema_classes (schema), path,
                    fl_model_num_inputs (model), fl_model_num_classes (model));
        goto done;
    }
    if (!(m = s_read_msg (path)))
        goto done;
    const char *hidden = fl_wire_get_cstr (m, FL_K_HIDDEN);
    rc = s_save (path, model, hidden ? hidden : "", mean, std, fl_wire_run_id (m), fl_wire_round (m), text);
done:
    fl_wire_msg_destroy (&m);
    fl_schema_destroy (&schema);
    free (text);
    fl_model_destroy (&model);
    free (mean);
    free (std);
    return rc;
}

int
fl_modelfile_load_schema (const char *path, char **schema_text)
{
    *schema_text = NULL;
    fl_wire_msg_t *m = s_read_msg (path);
    if (!m)
        return -1;
    const uint8_t *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (fl_wire_get_bin (m, FL_K_SCHEMA, &text, &len) == 0) {
        if (memchr (text, '\0', len)) {
            zsys_error ("model file: %s: stored schema holds a NUL byte", path);
            rc = -1;
        }
        else if (!(*schema_text = (char *) malloc (len + 1)))
            rc = -1;
        else {
            memcpy (*schema_text, text, len);
            (*schema_text)[len] = '\0';
        }
    }
    fl_wire_msg_destroy (&m);
    return rc;
}
