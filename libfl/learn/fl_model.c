/*  fl_model.c - registry of built-in models and the wrapper around an ops
    table (see fl_model.h).

    The wrapper checks everything a table hands back (a plugin is untrusted
    input in the sense of the house rules: a bad table is a log line and NULL,
    never a crash we could have avoided), and owns the loss: logits and
    dlogits buffers sized to the largest batch seen, so training does not
    allocate per batch.
*/
#include "fl_model.h"
#include "fl_install.h"
#include "fl_layers.h"

#include <assert.h>
#include <czmq.h>
#include <dlfcn.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per chunk in fl_model_predict (bounds the model's activation buffers). */
#define S_PREDICT_CHUNK 512u

struct fl_model_t {
    const fl_model_ops_t *ops;
    void *state;
    fl_model_config_t cfg;
    size_t n_out;
    size_t n_params;
    size_t cap;             /* rows the loss buffers hold */
    float *logits;          /* (cap, n_out) */
    float *dlogits;         /* (cap, n_out) */
    fl_model_plugin_t *plugin;  /* the plugin it was made from (a reference, dropped after
                                   the state is destroyed), or NULL */
};

/*  An opened plugin (fl_model.h): the dlopen handle and the checked table,
    shared by the opener and every model made from it. */
struct fl_model_plugin_t {
    void *dl;                       /* dlopen handle, closed with the last reference */
    const fl_model_ops_t *ops;      /* the plugin's table, checked by fl_model_plugin_open */
    atomic_size_t refs;             /* the opener's (until close) + one per model */
    char path[4096];                /* the file loaded (a bare name resolved) */
};

static const fl_model_ops_t *s_registry[] = { &fl_logreg_ops, &fl_mlp_ops };

int
fl_model_parse_hidden (const char *spec, fl_model_config_t *cfg)
{
    assert (cfg);
    if (!spec) {
        zsys_error ("fl_model_parse_hidden: no spec");
        return -1;
    }
    size_t hidden[FL_MODEL_MAX_HIDDEN], n = 0;
    const char *p = spec;
    if (*p == '\0') {
        cfg->n_hidden = 0;
        return 0;
    }
    for (;;) {
        if (*p < '0' || *p > '9') {
            zsys_error ("fl_model_parse_hidden: '%s': expected a number at offset %zu",
                        spec, (size_t) (p - spec));
            return -1;
        }
        errno = 0;
        char *end;
        unsigned long long v = strtoull (p, &end, 10);
        if (errno || v == 0 || v > FL_MODEL_MAX_WIDTH) {
            zsys_error ("fl_model_parse_hidden: '%s': hidden size at offset %zu must be 1..%u",
                        spec, (size_t) (p - spec), FL_MODEL_MAX_WIDTH);
            return -1;
        }
        if (n == FL_MODEL_MAX_HIDDEN) {
            zsys_error ("fl_model_parse_hidden: '%s': more than %u hidden layers", spec,
                        FL_MODEL_MAX_HIDDEN);
            return -1;
        }
        hidden[n++] = (size_t) v;
        p = end;
        if (*p == '\0')
            break;
        if (*p != ',') {
            zsys_error ("fl_model_parse_hidden: '%s': unexpected '%c' at offset %zu", spec, *p,
                        (size_t) (p - spec));
            return -1;
        }
        p++;
    }
    memcpy (cfg->hidden, hidden, n * sizeof hidden[0]);
    cfg->n_hidden = n;
    return 0;
}

static int
s_config_ok (const char *name, const fl_model_config_t *cfg)
{
    if (!cfg) {
        zsys_error ("fl_model_new (%s): no config", name);
        return 0;
    }
    if (cfg->n_inputs == 0 || cfg->n_inputs > FL_MODEL_MAX_WIDTH) {
        zsys_error ("fl_model_new (%s): n_inputs %zu not in 1..%u", name, cfg->n_inputs,
                    FL_MODEL_MAX_WIDTH);
        return 0;
    }
    if (cfg->n_classes < 2 || cfg->n_classes > FL_MODEL_MAX_CLASSES) {
        zsys_error ("fl_model_new (%s): n_classes %zu not in 2..%u", name, cfg->n_classes,
                    FL_MODEL_MAX_CLASSES);
        return 0;
    }
    if (cfg->qat > FL_MODEL_QAT_PER_CHANNEL) {
        zsys_error ("fl_model_new (%s): qat mode %u is not 0 (off), 1 (per tensor) or 2 (per "
                    "channel)", name, (unsigned) cfg->qat);
        return 0;
    }
    if (cfg->n_hidden > FL_MODEL_MAX_HIDDEN) {
        zsys_error ("fl_model_new (%s): %zu hidden layers, at most %u", name, cfg->n_hidden,
                    FL_MODEL_MAX_HIDDEN);
        return 0;
    }
    for (size_t i = 0; i < cfg->n_hidden; i++)
        if (cfg->hidden[i] == 0 || cfg->hidden[i] > FL_MODEL_MAX_WIDTH) {
            zsys_error ("fl_model_new (%s): hidden layer %zu has size %zu, not in 1..%u", name,
                        i, cfg->hidden[i], FL_MODEL_MAX_WIDTH);
            return 0;
        }
    return 1;
}

/*  The views must cover [0, num_params) exactly once, in order, with names:
    that is what makes the fingerprint a faithful description of the layout. */
static int
s_views_ok (const fl_model_t *self)
{
    const fl_model_ops_t *ops = self->ops;
    size_t nv = ops->num_views (self->state), next = 0;
    if (nv == 0 || nv > 4096) {
        zsys_error ("fl_model (%s): %zu views", ops->name, nv);
        return 0;
    }
    for (size_t i = 0; i < nv; i++) {
        fl_model_view_t v;
        if (ops->view (self->state, i, &v) != 0 || !v.name || !*v.name
            || strlen (v.name) >= FL_MODEL_NAME_MAX || v.offset != next || v.rows == 0
            || v.cols == 0 || v.rows > self->n_params / v.cols
            || v.rows * v.cols > self->n_params - next) {
            zsys_error ("fl_model (%s): view %zu is malformed or does not tile the "
                        "parameter vector", ops->name, i);
            return 0;
        }
        next += v.rows * v.cols;
    }
    if (next != self->n_params) {
        zsys_error ("fl_model (%s): views cover %zu of %zu parameters", ops->name, next,
                    self->n_params);
        return 0;
    }
    return 1;
}

/*  The table's own checks (no model built): version, name, required
    functions.  Logs the first failure. */
static int
s_ops_ok (const fl_model_ops_t *ops)
{
    if (ops->abi_version != FL_MODEL_ABI_VERSION) {
        zsys_error ("fl_model_new_from_ops: ops table has ABI version %d, this build speaks %d",
                    ops->abi_version, FL_MODEL_ABI_VERSION);
        return 0;
    }
    if (!ops->name || !*ops->name || strnlen (ops->name, FL_MODEL_NAME_MAX) >= FL_MODEL_NAME_MAX) {
        zsys_error ("fl_model_new_from_ops: ops table has a missing or too long name");
        return 0;
    }
    if (!ops->create || !ops->destroy || !ops->num_params || !ops->params || !ops->grads
        || !ops->num_views || !ops->view || !ops->forward || !ops->backward) {
        zsys_error ("fl_model_new_from_ops (%s): a required function is missing", ops->name);
        return 0;
    }
    return 1;
}

fl_model_t *
fl_model_new_from_ops (const fl_model_ops_t *ops, const fl_model_config_t *cfg)
{
    if (!ops) {
        zsys_error ("fl_model_new_from_ops: no ops table");
        return NULL;
    }
    if (!s_ops_ok (ops) || !s_config_ok (ops->name, cfg))
        return NULL;
    fl_model_t *self = (fl_model_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ops = ops;
    self->cfg = *cfg;
    self->n_out = cfg->n_classes == 2 ? 1 : cfg->n_classes;
    self->state = ops->create (cfg);
    if (!self->state) {
        zsys_error ("fl_model_new (%s): create failed", ops->name);
        free (self);
        return NULL;
    }
    self->n_params = ops->num_params (self->state);
    if (self->n_params == 0 || self->n_params > FL_MODEL_MAX_PARAMS || !ops->params (self->state)
        || !ops->grads (self->state)) {
        zsys_error ("fl_model_new (%s): %zu parameters (limit %zu) or no parameter block",
                    ops->name, self->n_params, FL_MODEL_MAX_PARAMS);
        fl_model_destroy (&self);
        return NULL;
    }
    if (!s_views_ok (self)) {
        fl_model_destroy (&self);
        return NULL;
    }
    return self;
}

fl_model_t *
fl_model_new (const char *name, const fl_model_config_t *cfg)
{
    if (!name) {
        zsys_error ("fl_model_new: no model name");
        return NULL;
    }
    for (size_t i = 0; i < sizeof s_registry / sizeof s_registry[0]; i++)
        if (strcmp (s_registry[i]->name, name) == 0)
            return fl_model_new_from_ops (s_registry[i], cfg);
    zsys_error ("fl_model_new: unknown model '%s' (built-in: logreg, mlp)", name);
    return NULL;
}

/*  Formats a refusal into why and the log. */
static void
s_why (char *why, size_t cap, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
s_why (char *why, size_t cap, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (buf, sizeof buf, fmt, ap);
    va_end (ap);
    zsys_error ("%s", buf);
    if (why && cap)
        snprintf (why, cap, "%s", buf);
}

/*  Drops one reference; the last one unloads the shared object. */
static void
s_plugin_unref (fl_model_plugin_t *self)
{
    if (atomic_fetch_sub (&self->refs, 1) == 1) {
        dlclose (self->dl);
        free (self);
    }
}

fl_model_plugin_t *
fl_model_plugin_open (const char *path, char *why, size_t cap)
{
    if (why && cap)
        why[0] = '\0';
    if (!path || !*path) {
        s_why (why, cap, "model plugin: no path given");
        return NULL;
    }
    /* A bare name ("fm_plugin" or "fm_plugin.so") is looked up in the
       install's plugin directory (then the build tree's plugins/), never on
       the system's library path, so a name cannot pick up an unrelated
       library.  A name with a '/' is a path, opened as given. */
    char found[4096];
    if (!strchr (path, '/')) {
        char file[256];
        size_t len = strlen (path);
        int w = len > 3 && strcmp (path + len - 3, ".so") == 0
                  ? snprintf (file, sizeof file, "%s", path)
                  : snprintf (file, sizeof file, "%s.so", path);
        if (w < 0 || (size_t) w >= sizeof file || strcmp (path, ".") == 0
            || strcmp (path, "..") == 0) {
            s_why (why, cap, "model plugin '%.64s': not a plugin name (give a file name like "
                   "fm_plugin.so, or a path)", path);
            return NULL;
        }
        if (fl_install_find (FL_INSTALL_PLUGINS, file, found, sizeof found) != 0) {
            s_why (why, cap, "model plugin %s: no %s in the plugin directories (%s); give a path "
                   "to load it from elsewhere", path, file, found);
            return NULL;
        }
        path = found;
    }
    fl_model_plugin_t *self = (fl_model_plugin_t *) calloc (1, sizeof *self);
    if (!self) {
        s_why (why, cap, "model plugin %s: out of memory", path);
        return NULL;
    }
    if (strlen (path) >= sizeof self->path) {
        s_why (why, cap, "model plugin: path of %zu bytes is too long", strlen (path));
        free (self);
        return NULL;
    }
    snprintf (self->path, sizeof self->path, "%s", path);
    dlerror ();
    self->dl = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!self->dl) {
        const char *e = dlerror ();
        s_why (why, cap, "model plugin %s: cannot load: %s", path, e ? e : "unknown error");
        free (self);
        return NULL;
    }
    /* POSIX guarantees a function pointer survives the trip through void *
       (dlsym's own contract); memcpy keeps the C11 compiler quiet about it. */
    void *sym = dlsym (self->dl, FL_MODEL_PLUGIN_SYMBOL);
    const fl_model_ops_t *ops = NULL;
    if (!sym)
        s_why (why, cap, "model plugin %s: no symbol %s (not a libfl model plugin)", path,
               FL_MODEL_PLUGIN_SYMBOL);
    else {
        fl_model_plugin_fn fn;
        memcpy (&fn, &sym, sizeof fn);
        ops = fn ();
        if (!ops)
            s_why (why, cap, "model plugin %s: %s returned no table", path, FL_MODEL_PLUGIN_SYMBOL);
    }
    /* abi_version first and alone: every version keeps it as the first member */
    int abi = ops ? ops->abi_version : FL_MODEL_ABI_VERSION;
    int ok = ops != NULL;
    if (ok && abi != FL_MODEL_ABI_VERSION) {
        s_why (why, cap, "model plugin %s: ABI version %d, this build speaks %d (rebuild the "
               "plugin against this fl_model.h)", path, abi, FL_MODEL_ABI_VERSION);
        ok = 0;
    }
    for (size_t i = 0; ok && i < sizeof s_registry / sizeof s_registry[0]; i++)
        if (ops->name && strcmp (ops->name, s_registry[i]->name) == 0) {
            s_why (why, cap, "model plugin %s: takes the built-in model name '%s'", path, ops->name);
            ok = 0;
        }
    if (ok && !s_ops_ok (ops)) {
        s_why (why, cap, "model plugin %s: invalid table (see the log above)", path);
        ok = 0;
    }
    if (!ok) {
        dlclose (self->dl);
        free (self);
        return NULL;
    }
    self->ops = ops;
    atomic_init (&self->refs, 1);
    return self;
}

fl_model_t *
fl_model_plugin_make (fl_model_plugin_t *self, const fl_model_config_t *cfg, char *why, size_t cap)
{
    if (why && cap)
        why[0] = '\0';
    if (!self) {
        s_why (why, cap, "model plugin: not opened (fl_model_plugin_open failed or was not called)");
        return NULL;
    }
    fl_model_t *model = fl_model_new_from_ops (self->ops, cfg);
    if (!model) {
        s_why (why, cap, "model plugin %s: invalid table or configuration (see the log above)",
               self->path);
        return NULL;
    }
    atomic_fetch_add (&self->refs, 1);
    model->plugin = self;
    zsys_info ("model plugin %s: %s version %u, %zu parameters", self->path, self->ops->name,
               (unsigned) self->ops->version, model->n_params);
    return model;
}

const char *
fl_model_plugin_name (const fl_model_plugin_t *self)
{
    assert (self);
    return self->ops->name;
}

const char *
fl_model_plugin_path (const fl_model_plugin_t *self)
{
    assert (self);
    return self->path;
}

void
fl_model_plugin_close (fl_model_plugin_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    s_plugin_unref (*self_p);
    *self_p = NULL;
}

fl_model_t *
fl_model_make (fl_model_plugin_t *plugin, const char *name, const fl_model_config_t *cfg, char *why,
               size_t cap)
{
    if (plugin)
        return fl_model_plugin_make (plugin, cfg, why, cap);
    if (why && cap)
        why[0] = '\0';
    fl_model_t *model = fl_model_new (name, cfg);    /* which logs why it refuses */
    if (!model && why && cap)
        snprintf (why, cap, "model %s: unknown, or refuses this configuration (see the log above)",
                  name ? name : "(none)");
    return model;
}

fl_model_t *
fl_model_load_plugin (const char *path, const fl_model_config_t *cfg, char *why, size_t cap)
{
    fl_model_plugin_t *plugin = fl_model_plugin_open (path, why, cap);
    if (!plugin)
        return NULL;
    fl_model_t *model = fl_model_plugin_make (plugin, cfg, why, cap);
    fl_model_plugin_close (&plugin);    /* the model keeps its own reference */
    return model;
}

int
fl_model_check_compatible (const fl_model_t *self, const uint8_t *expected_fp,
                           size_t expected_params, char *why, size_t cap)
{
    assert (self);
    if (why && cap)
        why[0] = '\0';
    if (expected_params && expected_params != self->n_params) {
        s_why (why, cap, "model %s has %zu parameters, expected %zu", self->ops->name,
               self->n_params, expected_params);
        return -1;
    }
    if (expected_fp) {
        uint8_t fp[FL_MODEL_FINGERPRINTBYTES];
        fl_model_fingerprint (self, fp);
        if (sodium_memcmp (fp, expected_fp, sizeof fp) != 0) {
            s_why (why, cap, "model %s (version %u, qat %u): fingerprint differs from the expected "
                   "one (another model, version, shape or QAT mode)", self->ops->name,
                   (unsigned) self->ops->version, (unsigned) self->cfg.qat);
            return -1;
        }
    }
    return 0;
}

int
fl_model_export (fl_model_t *self, const char *path)
{
    assert (self);
    if (!path || !*path) {
        zsys_error ("fl_model_export (%s): no path", self->ops->name);
        return -1;
    }
    if (!self->ops->export_model) {
        zsys_error ("fl_model_export (%s): this model has no export", self->ops->name);
        return -1;
    }
    return self->ops->export_model (self->state, path);
}

void
fl_model_destroy (fl_model_t **self_p)
{
    assert (self_p);
    fl_model_t *self = *self_p;
    if (!self)
        return;
    if (self->state)
        self->ops->destroy (self->state);
    if (self->plugin)
        s_plugin_unref (self->plugin);  /* after destroy: the table and its code live in there */
    free (self->logits);
    free (self->dlogits);
    free (self);
    *self_p = NULL;
}

const char *
fl_model_name (const fl_model_t *self)
{
    assert (self);
    return self->ops->name;
}

const fl_model_config_t *
fl_model_config (const fl_model_t *self)
{
    assert (self);
    return &self->cfg;
}

size_t
fl_model_num_inputs (const fl_model_t *self)
{
    assert (self);
    return self->cfg.n_inputs;
}

size_t
fl_model_num_classes (const fl_model_t *self)
{
    assert (self);
    return self->cfg.n_classes;
}

size_t
fl_model_num_outputs (const fl_model_t *self)
{
    assert (self);
    return self->n_out;
}

size_t
fl_model_num_params (const fl_model_t *self)
{
    assert (self);
    return self->n_params;
}

float *
fl_model_params (fl_model_t *self)
{
    assert (self);
    return self->ops->params (self->state);
}

float *
fl_model_grads (fl_model_t *self)
{
    assert (self);
    return self->ops->grads (self->state);
}

size_t
fl_model_num_views (const fl_model_t *self)
{
    assert (self);
    return self->ops->num_views (self->state);
}

int
fl_model_view (const fl_model_t *self, size_t i, fl_model_view_t *out)
{
    assert (self && out);
    if (i >= self->ops->num_views (self->state))
        return -1;
    return self->ops->view (self->state, i, out);
}

static void
s_hash_u64 (crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t) (v >> (8 * i));
    crypto_generichash_update (h, b, sizeof b);
}

static void
s_hash_str (crypto_generichash_state *h, const char *s)
{
    size_t len = strlen (s);
    s_hash_u64 (h, len);
    crypto_generichash_update (h, (const uint8_t *) s, len);
}

void
fl_model_fingerprint (const fl_model_t *self, uint8_t out[FL_MODEL_FINGERPRINTBYTES])
{
    assert (self && out);
    crypto_generichash_state h;
    crypto_generichash_init (&h, NULL, 0, FL_MODEL_FINGERPRINTBYTES);
    s_hash_str (&h, "libfl model fingerprint v1");      /* domain separation */
    s_hash_str (&h, self->ops->name);
    s_hash_u64 (&h, self->ops->version);
    s_hash_u64 (&h, self->cfg.n_inputs);
    s_hash_u64 (&h, self->cfg.n_classes);
    if (self->cfg.qat != FL_MODEL_QAT_OFF) {
        s_hash_str (&h, "qat");
        s_hash_u64 (&h, self->cfg.qat);
    }
    size_t nv = self->ops->num_views (self->state);
    s_hash_u64 (&h, nv);
    for (size_t i = 0; i < nv; i++) {
        fl_model_view_t v;
        int rc = self->ops->view (self->state, i, &v);
        assert (rc == 0);       /* checked at construction */
        (void) rc;
        s_hash_str (&h, v.name);
        s_hash_u64 (&h, v.offset);
        s_hash_u64 (&h, v.rows);
        s_hash_u64 (&h, v.cols);
    }
    crypto_generichash_final (&h, out, FL_MODEL_FINGERPRINTBYTES);
}

int
fl_model_forward (fl_model_t *self, const float *x, size_t n, float *logits)
{
    assert (self && (x || n == 0) && (logits || n == 0));
    if (n == 0)
        return 0;
    return self->ops->forward (self->state, x, n, logits);
}

int
fl_model_backward (fl_model_t *self, const float *x, size_t n, const float *dlogits)
{
    assert (self && (x || n == 0) && (dlogits || n == 0));
    return self->ops->backward (self->state, x, n, dlogits);
}

static int
s_reserve (fl_model_t *self, size_t n)
{
    if (n <= self->cap)
        return 0;
    if (n > SIZE_MAX / sizeof (float) / self->n_out)
        return -1;
    float *a = (float *) realloc (self->logits, n * self->n_out * sizeof (float));
    if (!a)
        return -1;
    self->logits = a;
    float *b = (float *) realloc (self->dlogits, n * self->n_out * sizeof (float));
    if (!b)
        return -1;
    self->dlogits = b;
    self->cap = n;
    return 0;
}

int
fl_model_loss_grad (fl_model_t *self, const float *x, const int32_t *y, size_t n,
                    const float *class_weights, double *loss)
{
    assert (self && x && y && n >= 1);
    if (s_reserve (self, n) != 0) {
        zsys_error ("fl_model_loss_grad (%s): out of memory for batch %zu", self->ops->name, n);
        return -1;
    }
    if (self->ops->forward (self->state, x, n, self->logits) != 0)
        return -1;
    double l = self->n_out == 1
                   ? fl_bce_logits (self->dlogits, self->logits, y, n, class_weights)
                   : fl_ce_logits (self->dlogits, self->logits, y, n, self->n_out, class_weights);
    if (loss)
        *loss = l;
    return self->ops->backward (self->state, x, n, self->dlogits);
}

int
fl_model_predict (fl_model_t *self, const float *x, size_t n, float *out)
{
    assert (self && (x || n == 0) && (out || n == 0));
    size_t d = self->cfg.n_inputs, k = self->n_out;
    for (size_t i = 0; i < n; i += S_PREDICT_CHUNK) {
        size_t m = n - i < S_PREDICT_CHUNK ? n - i : S_PREDICT_CHUNK;
        float *o = out + i * k;
        if (self->ops->forward (self->state, x + i * d, m, o) != 0) {
            zsys_error ("fl_model_predict (%s): forward failed", self->ops->name);
            return -1;
        }
        if (k == 1)
            fl_sigmoid_forward (o, o, m);
        else
            fl_softmax_forward (o, o, m, k);
    }
    return 0;
}
