/*  fl_modelfile.c - model files (see fl_modelfile.h). */
#include "fl_modelfile.h"
#include "fl_atomic.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
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
/*  The decoded MODEL message of path, or NULL (logged). */
static fl_wire_msg_t *s_read_msg (const char *path);

/*  What a model file holds besides the model: copied through on rewrites. */
typedef struct {
    const char *schema;                  /* zconfig text or NULL */
    const uint8_t *const *fnames;        /* n_fnames items, or NULL */
    const size_t *fname_lens;
    size_t n_fnames;
    const char *label;                   /* or NULL */
    const uint8_t *const *cnames;        /* n_cnames items, or NULL */
    const size_t *cname_lens;
    size_t n_cnames;
} s_extras_t;

/*  Writes one MODEL message: the header of model (name, hidden, shapes,
    fingerprint, QAT mode), params (n floats: the model's own unless a
    rewrite copies a file's), mean/std and the extras, as format
    FL_MODELFILE_FORMAT. */
static int
s_write (const char *path, const char *name, const char *hidden, uint64_t features, uint64_t classes,
         const uint8_t *fp, uint64_t qat, const float *params, size_t n, const float *mean, const float *std,
         const uint8_t *run_id, uint64_t round, const s_extras_t *x)
{
    static const uint8_t zero[FL_WIRE_RUNIDBYTES];
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_MODEL, run_id ? run_id : zero, round);
    if (!w)
        return -1;
    fl_wire_put_str (w, FL_K_MODEL, name);
    fl_wire_put_str (w, FL_K_HIDDEN, hidden ? hidden : "");
    fl_wire_put_u64 (w, FL_K_FEATURES, features);
    fl_wire_put_u64 (w, FL_K_CLASSES, classes);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    if (qat)
        fl_wire_put_u64 (w, FL_K_QAT, qat);
    fl_wire_put_f32s (w, FL_K_PARAMS, params, n);
    if (mean && std) {
        fl_wire_put_f32s (w, FL_K_MEAN, mean, features);
        fl_wire_put_f32s (w, FL_K_STD, std, features);
    }
    fl_wire_put_u64 (w, FL_K_FORMAT, FL_MODELFILE_FORMAT);
    uint8_t digest[FL_MODELFILE_DIGESTBYTES];
    fl_modelfile_digest (fp, params, n, digest);
    fl_wire_put_bin (w, FL_K_DIGEST, digest, sizeof digest);
    if (x && x->schema)
        fl_wire_put_bin (w, FL_K_SCHEMA, (const uint8_t *) x->schema, strlen (x->schema));
    if (x && x->fnames)
        fl_wire_put_bin_list (w, FL_K_FNAMES, x->fnames, x->fname_lens, x->n_fnames);
    if (x && x->label)
        fl_wire_put_str (w, FL_K_LABEL, x->label);
    if (x && x->cnames)
        fl_wire_put_bin_list (w, FL_K_CNAMES, x->cnames, x->cname_lens, x->n_cnames);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fl_wire_writer_finish (&w, &buf, &len) != 0)
        return -1;
    int rc = s_write_atomic (path, buf, len);
    free (buf);
    return rc;
}

static int
s_save (const char *path, fl_model_t *model, const char *hidden, const float *mean, const float *std,
        const uint8_t *run_id, uint64_t round, const s_extras_t *x)
{
    uint8_t fp[32];
    fl_model_fingerprint (model, fp);
    return s_write (path, fl_model_name (model), hidden, fl_model_num_inputs (model),
                    fl_model_num_classes (model), fp, fl_model_config (model)->qat, fl_model_params (model),
                    fl_model_num_params (model), mean, std, run_id, round, x);
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

/*  A bin list of a decoded message as arrays (items point into the message). */
typedef struct {
    const uint8_t **items;
    size_t *lens;
    size_t n;
} s_list_t;

static int
s_list_get (const fl_wire_msg_t *m, const char *key, s_list_t *l)
{
    memset (l, 0, sizeof *l);
    if (!fl_wire_has (m, key))
        return 0;
    l->n = fl_wire_bin_list_len (m, key);
    l->items = (const uint8_t **) calloc (l->n ? l->n : 1, sizeof *l->items);
    l->lens = (size_t *) calloc (l->n ? l->n : 1, sizeof *l->lens);
    if (!l->items || !l->lens)
        return -1;
    for (size_t i = 0; i < l->n; i++)
        if (fl_wire_get_bin_list_item (m, key, i, &l->items[i], &l->lens[i]) != 0)
            return -1;
    return 0;
}

static void
s_list_free (s_list_t *l)
{
    free (l->items);
    free (l->lens);
    memset (l, 0, sizeof *l);
}

/*  A name is 1..255 bytes of printable text: no NUL, no control character
    (so a name can be printed on one line and compared with a CSV header). */
static int
s_name_ok (const uint8_t *p, size_t len)
{
    if (len == 0 || len > FL_MODELFILE_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

/*  Rewrites the model file whose decoded message is m with the extras of m,
    except those given (schema text / names) which replace them. */
static int
s_rewrite (const char *path, const fl_wire_msg_t *m, const char *schema, const fl_modelfile_names_t *names)
{
    const char *name = fl_wire_get_cstr (m, FL_K_MODEL), *hidden = fl_wire_get_cstr (m, FL_K_HIDDEN);
    uint64_t features = 0, classes = 0, qat = 0;
    const uint8_t *fp = NULL, *sbin = NULL;
    size_t fp_len = 0, np = 0, nm = 0, slen = 0;
    const float *params = NULL, *mean = NULL, *std = NULL;
    if (!name || !hidden || fl_wire_get_u64 (m, FL_K_FEATURES, &features) != 0
        || fl_wire_get_u64 (m, FL_K_CLASSES, &classes) != 0 || fl_wire_get_bin (m, FL_K_FP, &fp, &fp_len) != 0
        || fp_len != 32 || fl_wire_get_f32s (m, FL_K_PARAMS, &params, &np) != 0) {
        zsys_error ("model file: %s: missing header fields", path);
        return -1;
    }
    (void) fl_wire_get_u64 (m, FL_K_QAT, &qat);
    if (fl_wire_has (m, FL_K_MEAN)
        && (fl_wire_get_f32s (m, FL_K_MEAN, &mean, &nm) != 0 || nm != features
            || fl_wire_get_f32s (m, FL_K_STD, &std, &nm) != 0 || nm != features)) {
        zsys_error ("model file: %s: standardisation vectors do not have %" PRIu64 " values", path, features);
        return -1;
    }
    char *stext = NULL;
    if (!schema && fl_wire_get_bin (m, FL_K_SCHEMA, &sbin, &slen) == 0) {
        if (!(stext = (char *) malloc (slen + 1)))
            return -1;
        memcpy (stext, sbin, slen);
        stext[slen] = '\0';
    }
    s_extras_t x;
    memset (&x, 0, sizeof x);
    x.schema = schema ? schema : stext;
    s_list_t fl, cl;
    memset (&fl, 0, sizeof fl);
    memset (&cl, 0, sizeof cl);
    int rc = -1;
    size_t *flen = NULL, *clen = NULL;
    if (s_list_get (m, FL_K_FNAMES, &fl) != 0 || s_list_get (m, FL_K_CNAMES, &cl) != 0)
        goto done;
    if (names) {
        flen = (size_t *) calloc (names->n_features + 1, sizeof *flen);
        clen = (size_t *) calloc (names->n_classes + 1, sizeof *clen);
        if (!flen || !clen)
            goto done;
        for (size_t j = 0; j < names->n_features; j++)
            flen[j] = strlen (names->features[j]);
        for (size_t k = 0; k < names->n_classes; k++)
            clen[k] = strlen (names->classes[k]);
        x.fnames = names->n_features ? (const uint8_t *const *) names->features : NULL;
        x.fname_lens = flen;
        x.n_fnames = names->n_features;
        x.label = names->label;
        x.cnames = names->n_classes ? (const uint8_t *const *) names->classes : NULL;
        x.cname_lens = clen;
        x.n_cnames = names->n_classes;
    }
    else {
        x.fnames = fl.n ? fl.items : NULL;
        x.fname_lens = fl.lens;
        x.n_fnames = fl.n;
        x.label = fl_wire_get_cstr (m, FL_K_LABEL);
        x.cnames = cl.n ? cl.items : NULL;
        x.cname_lens = cl.lens;
        x.n_cnames = cl.n;
    }
    rc = s_write (path, name, hidden, features, classes, fp, qat, params, np, mean, std, fl_wire_run_id (m),
                  fl_wire_round (m), &x);
done:
    s_list_free (&fl);
    s_list_free (&cl);
    free (flen);
    free (clen);
    free (stext);
    return rc;
}

void
fl_modelfile_digest (const uint8_t fp[32], const float *params, size_t n, uint8_t out[FL_MODELFILE_DIGESTBYTES])
{
    assert (fp && out && (params || n == 0));
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, FL_MODELFILE_DIGESTBYTES);
    crypto_generichash_update (&st, (const uint8_t *) FL_MODELFILE_DIGEST_DOMAIN,
                               sizeof FL_MODELFILE_DIGEST_DOMAIN - 1);
    crypto_generichash_update (&st, fp, 32);
    uint8_t le[8 * 64];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t) ((uint64_t) n >> (8 * i));
    crypto_generichash_update (&st, le, 8);
    /* little-endian binary32, 64 values per update, whatever the host order */
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < 64 && i < n; k++, i++) {
            uint32_t u;
            memcpy (&u, &params[i], 4);
            le[4 * k] = (uint8_t) u;
            le[4 * k + 1] = (uint8_t) (u >> 8);
            le[4 * k + 2] = (uint8_t) (u >> 16);
            le[4 * k + 3] = (uint8_t) (u >> 24);
        }
        crypto_generichash_update (&st, le, 4 * k);
    }
    crypto_generichash_final (&st, out, FL_MODELFILE_DIGESTBYTES);
}

/*  Format 3 must carry a digest that matches fp and params; older formats
    may not carry one (a format-1/2 reader refuses the key).  0 or -1
    (logged). */
static int
s_check_digest (const char *path, const fl_wire_msg_t *m, uint64_t format, const uint8_t *fp,
                const float *params, size_t n)
{
    const uint8_t *stored = NULL;
    size_t len = 0;
    int has = fl_wire_get_bin (m, FL_K_DIGEST, &stored, &len) == 0 && len == FL_MODELFILE_DIGESTBYTES;
    if (format >= 3 && !has) {
        zsys_error ("model file: %s is format %" PRIu64 " but carries no parameter digest", path, format);
        return -1;
    }
    if (format < 3 && fl_wire_has (m, FL_K_DIGEST)) {
        zsys_error ("model file: %s is format %" PRIu64 " but carries a parameter digest (format 3 only)", path,
                    format);
        return -1;
    }
    if (!has)
        return 0;
    uint8_t mine[FL_MODELFILE_DIGESTBYTES];
    fl_modelfile_digest (fp, params, n, mine);
    if (sodium_memcmp (mine, stored, sizeof mine) != 0) {
        char a[2 * FL_MODELFILE_DIGESTBYTES + 1], b[2 * FL_MODELFILE_DIGESTBYTES + 1];
        sodium_bin2hex (a, sizeof a, stored, sizeof mine);
        sodium_bin2hex (b, sizeof b, mine, sizeof mine);
        zsys_error ("model file: %s: the parameters do not match the file's parameter digest (stored %s, "
                    "parameters hash to %s): the file was edited or damaged", path, a, b);
        return -1;
    }
    return 0;
}

int
fl_modelfile_load_digest (const char *path, uint8_t out[FL_MODELFILE_DIGESTBYTES], uint64_t *format_p)
{
    fl_wire_msg_t *m = s_read_msg (path);
    if (!m)
        return -1;
    int rc = -1;
    const uint8_t *fp = NULL;
    size_t fp_len = 0, np = 0;
    const float *pv = NULL;
    uint64_t format = 1;
    float *copy = NULL;
    (void) fl_wire_get_u64 (m, FL_K_FORMAT, &format);
    if (fl_wire_get_bin (m, FL_K_FP, &fp, &fp_len) != 0 || fp_len != 32
        || fl_wire_get_f32s (m, FL_K_PARAMS, &pv, &np) != 0) {
        zsys_error ("model file: %s: missing or invalid header fields", path);
        goto done;
    }
    if (format > FL_MODELFILE_FORMAT) {
        zsys_error ("model file: %s is format %" PRIu64 ", this libfl reads up to %u", path, format,
                    FL_MODELFILE_FORMAT);
        goto done;
    }
    if (!(copy = (float *) malloc ((np ? np : 1) * sizeof (float)))
        || fl_wire_copy_f32s (m, FL_K_PARAMS, copy, np) != 0) {
        zsys_error ("model file: %s: cannot read its %zu parameters", path, np);
        goto done;
    }
    if (s_check_digest (path, m, format, fp, copy, np) != 0)
        goto done;
    fl_modelfile_digest (fp, copy, np, out);
    if (format_p)
        *format_p = format;
    rc = 0;
done:
    free (copy);
    fl_wire_msg_destroy (&m);
    return rc;
}

static int
s_load (const char *path, const char *plugin, fl_model_t **model_p, float **mean_p, float **std_p)
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
    if (plugin) {
        char why[512];
        if (!(model = fl_model_load_plugin (plugin, &mc, why, sizeof why))) {
            zsys_error ("model file: %s: plugin %s cannot build a model of this shape: %s", path, plugin, why);
            goto done;
        }
        if (strcmp (fl_model_name (model), name) != 0) {
            zsys_error ("model file: %s holds a '%s' model, plugin %s provides '%s'", path, name, plugin,
                        fl_model_name (model));
            goto done;
        }
    }
    else if (strcmp (name, "logreg") != 0 && strcmp (name, "mlp") != 0) {
        zsys_error ("model file: %s holds a '%s' model, which is not built in: load it with the plugin "
                    "that defines it", path, name);
        goto done;
    }
    else if (!(model = fl_model_new (name, &mc))) {
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
    uint64_t format = 1;
    if (fl_wire_get_u64 (m, FL_K_FORMAT, &format) == 0 && format > FL_MODELFILE_FORMAT) {
        zsys_error ("model file: %s is format %" PRIu64 ", this libfl reads up to %u", path, format,
                    FL_MODELFILE_FORMAT);
        goto done;
    }
    if (s_check_digest (path, m, format, fp, fl_model_params (model), fl_model_num_params (model)) != 0)
        goto done;
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
    rc = s_rewrite (path, m, text, NULL);
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

int
fl_modelfile_load (const char *path, fl_model_t **model_p, float **mean_p, float **std_p)
{
    return s_load (path, NULL, model_p, mean_p, std_p);
}

int
fl_modelfile_load_plugin (const char *path, const char *plugin, fl_model_t **model_p, float **mean_p,
                          float **std_p)
{
    return s_load (path, plugin && plugin[0] ? plugin : NULL, model_p, mean_p, std_p);
}

void
fl_modelfile_names_clear (fl_modelfile_names_t *self)
{
    if (!self)
        return;
    for (size_t j = 0; self->features && j < self->n_features; j++)
        free (self->features[j]);
    for (size_t k = 0; self->classes && k < self->n_classes; k++)
        free (self->classes[k]);
    free (self->features);
    free (self->classes);
    free (self->label);
    memset (self, 0, sizeof *self);
}

/*  A new array of n NUL-terminated copies of l's items; NULL on no memory. */
static char **
s_strings (const s_list_t *l)
{
    char **v = (char **) calloc (l->n ? l->n : 1, sizeof *v);
    for (size_t i = 0; v && i < l->n; i++) {
        if (!(v[i] = (char *) malloc (l->lens[i] + 1))) {
            for (size_t j = 0; j < i; j++)
                free (v[j]);
            free (v);
            return NULL;
        }
        memcpy (v[i], l->items[i], l->lens[i]);
        v[i][l->lens[i]] = '\0';
    }
    return v;
}

/*  Checks names against the header of model file message m: counts equal
    the file's features / classes, every name printable, feature names
    distinct and none equal to the label.  -1 with a log line naming what is
    wrong. */
static int
s_names_check (const char *path, uint64_t features, uint64_t classes, const s_list_t *fl, const char *label,
               const s_list_t *cl)
{
    if (fl->n && fl->n != features) {
        zsys_error ("model file: %s: %zu feature names for %" PRIu64 " features", path, fl->n, features);
        return -1;
    }
    if (cl->n && cl->n != classes) {
        zsys_error ("model file: %s: %zu class names for %" PRIu64 " classes", path, cl->n, classes);
        return -1;
    }
    const s_list_t *lists[2] = { fl, cl };
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < lists[t]->n; i++) {
            if (!s_name_ok (lists[t]->items[i], lists[t]->lens[i])) {
                zsys_error ("model file: %s: %s name %zu is empty, too long or holds a control character", path,
                            t ? "class" : "feature", i);
                return -1;
            }
            for (size_t j = 0; j < i; j++)
                if (lists[t]->lens[j] == lists[t]->lens[i]
                    && memcmp (lists[t]->items[j], lists[t]->items[i], lists[t]->lens[i]) == 0) {
                    zsys_error ("model file: %s: %s names %zu and %zu are the same ('%.*s')", path,
                                t ? "class" : "feature", j, i, (int) lists[t]->lens[i],
                                (const char *) lists[t]->items[i]);
                    return -1;
                }
        }
    if (label) {
        if (!s_name_ok ((const uint8_t *) label, strlen (label))) {
            zsys_error ("model file: %s: the label name is empty, too long or holds a control character", path);
            return -1;
        }
        for (size_t j = 0; j < fl->n; j++)
            if (fl->lens[j] == strlen (label) && memcmp (fl->items[j], label, fl->lens[j]) == 0) {
                zsys_error ("model file: %s: the label '%s' is also feature %zu", path, label, j);
                return -1;
            }
    }
    return 0;
}

int
fl_modelfile_load_names (const char *path, fl_modelfile_names_t *out)
{
    memset (out, 0, sizeof *out);
    fl_wire_msg_t *m = s_read_msg (path);
    if (!m)
        return -1;
    int rc = -1;
    uint64_t features = 0, classes = 0;
    s_list_t fl, cl;
    memset (&fl, 0, sizeof fl);
    memset (&cl, 0, sizeof cl);
    out->format = 1;
    (void) fl_wire_get_u64 (m, FL_K_FORMAT, &out->format);
    const char *label = fl_wire_get_cstr (m, FL_K_LABEL);
    if (fl_wire_get_u64 (m, FL_K_FEATURES, &features) != 0 || fl_wire_get_u64 (m, FL_K_CLASSES, &classes) != 0
        || s_list_get (m, FL_K_FNAMES, &fl) != 0 || s_list_get (m, FL_K_CNAMES, &cl) != 0
        || s_names_check (path, features, classes, &fl, label, &cl) != 0)
        goto done;
    if ((fl.n && !(out->features = s_strings (&fl))) || (cl.n && !(out->classes = s_strings (&cl)))
        || (label && !(out->label = strdup (label))))
        goto done;
    out->n_features = fl.n;
    out->n_classes = cl.n;
    rc = 0;
done:
    if (rc != 0)
        fl_modelfile_names_clear (out);
    s_list_free (&fl);
    s_list_free (&cl);
    fl_wire_msg_destroy (&m);
    return rc;
}

int
fl_modelfile_attach_names (const char *path, const fl_modelfile_names_t *names)
{
    assert (names);
    fl_wire_msg_t *m = s_read_msg (path);
    if (!m)
        return -1;
    int rc = -1;
    uint64_t features = 0, classes = 0;
    s_list_t fl = { (const uint8_t **) names->features, NULL, names->n_features };
    s_list_t cl = { (const uint8_t **) names->classes, NULL, names->n_classes };
    size_t *lens = (size_t *) calloc (names->n_features + names->n_classes + 1, sizeof *lens);
    if (!lens)
        goto done;
    for (size_t j = 0; j < names->n_features; j++)
        lens[j] = strlen (names->features[j]);
    for (size_t k = 0; k < names->n_classes; k++)
        lens[names->n_features + k] = strlen (names->classes[k]);
    fl.lens = lens;
    cl.lens = lens + names->n_features;
    if (fl_wire_get_u64 (m, FL_K_FEATURES, &features) != 0 || fl_wire_get_u64 (m, FL_K_CLASSES, &classes) != 0
        || s_names_check (path, features, classes, &fl, names->label, &cl) != 0)
        goto done;
    rc = s_rewrite (path, m, NULL, names);
done:
    free (lens);
    fl_wire_msg_destroy (&m);
    return rc;
}
