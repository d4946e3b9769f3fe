/*  fl_model - the model interface: a versioned ops table, and the registry.

    A model is a table of function pointers (fl_model_ops_t) plus an opaque
    state the table creates, in the manner of SQLite's sqlite3_io_methods
    (abi_version first, so a host can refuse a table it does not understand).
    Built-in models (models/fl_logreg.c, models/fl_mlp.c) are such tables;
    a plugin shared object exports one too (fl_model_plugin_open, through the
    one symbol FL_MODEL_PLUGIN_SYMBOL), so this header is written to be
    usable ALONE: a plugin includes fl_model.h, implements the table with no
    libfl symbols, and links nothing of libfl (docs/MODELS.md walks through
    models/examples/fm_plugin.c).

    Division of labour.  The model maps inputs to LOGITS and back-propagates a
    given dL/dlogits into its flat gradient block.  The output non-linearity
    (sigmoid for binary, softmax otherwise) and the loss live here in
    fl_model / fl_train, so every model gets the same numerically stable
    losses and class weights for free, and a plugin cannot get them wrong.

    The flat parameter vector (fl_model_params) is the only currency with the
    federated side: it is what gets clipped, encoded, masked and summed.

    Wrapper semantics: fl_model_t owns the state and the table pointer; it
    remembers the config, so n_inputs and n_classes are always at hand.
*/
#ifndef FL_MODEL_H_INCLUDED
#define FL_MODEL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Version of fl_model_ops_t and fl_model_config_t.  Bump on ANY change to
    either struct's layout or to a function's meaning; the host refuses a
    table whose abi_version differs (exact match: the config struct travels
    host -> plugin, so neither side may assume the other's extensions).
    History: 1 = first table; 2 = fl_model_config_t gained `qat`. */
#define FL_MODEL_ABI_VERSION 2

/*  The one symbol a model plugin exports (see fl_model_plugin_open):

        const fl_model_ops_t *fl_model_plugin_v1 (void);

    "v1" versions the ENTRY POINT (a no-argument function returning the
    table), which is meant never to change; the table's layout is versioned
    by its first field, abi_version, which the host reads before any other. */
#define FL_MODEL_PLUGIN_SYMBOL "fl_model_plugin_v1"
typedef const struct fl_model_ops_t *(*fl_model_plugin_fn) (void);

/*  Quantisation-aware training (cfg.qat; see fl_qat.h and docs/MODELS.md):
    int8 fake quantisation of weights (symmetric, one scale per tensor or
    per output channel) and activations (affine, running min/max). */
#define FL_MODEL_QAT_OFF         0u
#define FL_MODEL_QAT_PER_TENSOR  1u
#define FL_MODEL_QAT_PER_CHANNEL 2u

/* Limits checked on every config (user input). */
#define FL_MODEL_MAX_HIDDEN   8u           /* hidden layers of an MLP */
#define FL_MODEL_MAX_WIDTH    65536u       /* n_inputs, each hidden size */
#define FL_MODEL_MAX_CLASSES  65536u
#define FL_MODEL_MAX_PARAMS   ((size_t) 1 << 28)  /* 1 GiB of float32 */
#define FL_MODEL_NAME_MAX     64u          /* ops name, including NUL */
#define FL_MODEL_FINGERPRINTBYTES 32u

/*  What to build.  n_classes == 2 means binary: ONE output (a logit for
    P(y = 1)); n_classes > 2 means K logits and softmax. */
typedef struct {
    size_t n_inputs;
    size_t n_classes;
    size_t hidden[FL_MODEL_MAX_HIDDEN];    /* MLP hidden sizes, first n_hidden used */
    size_t n_hidden;
    uint64_t seed;                         /* initialisation seed */
    uint32_t qat;                          /* FL_MODEL_QAT_*: 0 = float training; a
                                              model that cannot do QAT must refuse
                                              (create returns NULL) rather than ignore it */
} fl_model_config_t;

/*  One named tensor in the flat parameter vector (for fingerprints, export
    and debugging): elements [offset, offset + rows * cols), row-major. */
typedef struct {
    const char *name;                      /* owned by the model state */
    size_t offset;
    size_t rows;
    size_t cols;
} fl_model_view_t;

/*  The ops table.  Every function except export is required.  "state" is the
    pointer create returned.  Functions returning int return 0 or -1.

    Contract for forward/backward: forward(state, x, n, logits) computes
    logits (n, n_out) from x (n, n_inputs) row-major, may cache activations
    for ONE following backward call, and may grow its internal buffers (so it
    may fail with -1 on allocation failure; it must not allocate when n does
    not exceed the largest n seen before).  backward(state, x, n, dlogits)
    with the same x and n as the immediately preceding forward OVERWRITES the
    gradient block with dL/dparams, given dlogits = dL/dlogits (n, n_out).
    Neither function may keep pointers to x, logits or dlogits. */
typedef struct fl_model_ops_t {
    int abi_version;                       /* FL_MODEL_ABI_VERSION */
    const char *name;                      /* registry name, e.g. "mlp" */
    uint32_t version;                      /* the model's own version (in the fingerprint) */
    /*  Builds a model for cfg with initialised parameters (from cfg->seed)
        and zeroed gradients; NULL on bad config or no memory. */
    void *(*create) (const fl_model_config_t *cfg);
    void (*destroy) (void *state);
    size_t (*num_params) (const void *state);
    float *(*params) (void *state);        /* flat, length num_params */
    float *(*grads) (void *state);         /* flat, same layout */
    size_t (*num_views) (const void *state);
    int (*view) (const void *state, size_t i, fl_model_view_t *out);
    int (*forward) (void *state, const float *x, size_t n, float *logits);
    int (*backward) (void *state, const float *x, size_t n, const float *dlogits);
    /*  Optional (NULL if absent): writes the model in its own format to the
        file at path.  The built-in models write the int8 format of fl_qat.h
        (needs qat != 0). */
    int (*export_model) (void *state, const char *path);
} fl_model_ops_t;

typedef struct fl_model_t fl_model_t;

/* --- built-in tables -------------------------------------------------------- */

extern const fl_model_ops_t fl_logreg_ops;   /* "logreg": one dense layer */
extern const fl_model_ops_t fl_mlp_ops;      /* "mlp": dense + ReLU stack */

/* --- construction ------------------------------------------------------------ */

/*  Parses a comma-separated list of hidden sizes ("64,32"; "" means none)
    into cfg->hidden / cfg->n_hidden.  Returns -1 and logs on an empty item,
    a non-number, 0, a size > FL_MODEL_MAX_WIDTH or more than
    FL_MODEL_MAX_HIDDEN items; cfg is unchanged then. */
int fl_model_parse_hidden (const char *spec, fl_model_config_t *cfg);

/*  Builds the registered model called name ("logreg", "mlp") for cfg.
    Returns NULL and logs on an unknown name or a bad config (n_inputs or a
    hidden size 0 or above FL_MODEL_MAX_WIDTH, n_classes < 2 or above
    FL_MODEL_MAX_CLASSES, n_hidden > FL_MODEL_MAX_HIDDEN, too many
    parameters) or no memory.  Caller owns the result. */
fl_model_t *fl_model_new (const char *name, const fl_model_config_t *cfg);

/*  Builds a model from any ops table (the path plugins take).  Checks the
    table before calling it: abi_version == FL_MODEL_ABI_VERSION, a name of
    1..FL_MODEL_NAME_MAX-1 chars, every required function present; then
    checks that the created model's views tile [0, num_params) exactly.
    NULL and a log line on any failure.  ops must outlive the model. */
fl_model_t *fl_model_new_from_ops (const fl_model_ops_t *ops, const fl_model_config_t *cfg);

/* --- model plugins: open (the file system) and make (pure) ---------------------- */

/*  An opened model plugin: the shared object, loaded and its table checked,
    from which models are made.  Opening touches the file system (name
    lookup, dlopen); making does not, so the sans-I/O sessions are handed an
    opened plugin by their driver (fl_round_config_t and fl_client_config_t
    .model_plugin) and only ever make models from it, as they are handed
    the time and an fl_rng_t.

    Reference counted: the plugin object holds one reference for its opener
    and each model made from it holds one more, so the opener may close it
    while models live; the shared object is dlclose'd when the last
    reference goes (after the last model's state is destroyed: its code
    lives in there).  The count is atomic, so models made from one plugin
    may be destroyed on different threads; calling make needs a reference
    the caller holds (the opener's, until it closes). */
typedef struct fl_model_plugin_t fl_model_plugin_t;

/*  Opens a model plugin.  PATH is a path to the shared object (any name
    with a '/', e.g. "./fm_plugin.so" or "/opt/x/fm_plugin.so"), or a BARE
    plugin name without '/' ("fm_plugin" or "fm_plugin.so": ".so" is added
    when missing), which is looked up only in the plugin directories, first
    found wins: the install's lib/libfl/plugins relative to the running
    program, then relative to libfl.so, the build tree's plugins/, then the
    compiled-in install directory (never the system's library path); not
    found is an error naming the directories searched.  Then: dlopen (path,
    RTLD_NOW | RTLD_LOCAL), dlsym of FL_MODEL_PLUGIN_SYMBOL, calls it for
    the table, reads the table's abi_version BEFORE any other field (a table
    of another version may be laid out differently), then checks the rest
    of the table as fl_model_new_from_ops does (a name of
    1..FL_MODEL_NAME_MAX-1 chars, every required function present).  A
    plugin may not take a built-in model's name ("logreg", "mlp"): its
    fingerprint would collide with the built-in's.
    Returns NULL, logs, and writes a one-line reason into why (cap bytes,
    may be NULL) on: path NULL or empty; a bare name that is not a file
    name or is in no plugin directory; a file that cannot be loaded
    (missing, not a shared object, unresolved symbols: dlerror's text); a
    missing symbol; a NULL table; an abi_version other than
    FL_MODEL_ABI_VERSION; a built-in name; a malformed table ("invalid
    table").  Nothing is left loaded then.  Caller owns the result (close it
    with fl_model_plugin_close). */
fl_model_plugin_t *fl_model_plugin_open (const char *path, char *why, size_t cap);

/*  Makes a model of the shape cfg from an opened plugin, with no file
    access: fl_model_new_from_ops on the plugin's table, which checks the
    config (host limits) and the created model (parameter count, views that
    tile the vector).  The model holds a reference to the plugin (see
    above).  Logs "model plugin PATH: NAME version V, N parameters".
    Returns NULL, logs, and writes a one-line reason into why (cap bytes,
    may be NULL) on: self NULL (a plugin that was never opened: "not
    opened"); anything fl_model_new_from_ops refuses ("invalid table or
    configuration (see the log above)": bad config, create returning NULL,
    e.g. a model that cannot do cfg->qat, views not tiling the vector).
    Caller owns the result. */
fl_model_t *fl_model_plugin_make (fl_model_plugin_t *self, const fl_model_config_t *cfg, char *why,
                                  size_t cap);

/*  The plugin table's model name (e.g. "fm"), what WELCOME announces and
    the fingerprint hashes; owned by the plugin. */
const char *fl_model_plugin_name (const fl_model_plugin_t *self);

/*  The file the plugin was loaded from (a bare name resolved to its
    directory), for log lines; owned by the plugin. */
const char *fl_model_plugin_path (const fl_model_plugin_t *self);

/*  Drops the opener's reference and nulls *self_p; safe on NULL and twice.
    Models made from the plugin stay valid (the shared object is unloaded
    when the last of them is destroyed). */
void fl_model_plugin_close (fl_model_plugin_t **self_p);

/*  The model source the sessions use: the model of plugin for cfg
    (fl_model_plugin_make) when plugin is not NULL, else the built-in model
    called name (fl_model_new; plugin NULL means the built-in registry).
    Pure: no file access.  NULL with a log line and a one-line reason in why
    (cap bytes, may be NULL) on failure.  Caller owns the result. */
fl_model_t *fl_model_make (fl_model_plugin_t *plugin, const char *name, const fl_model_config_t *cfg,
                           char *why, size_t cap);

/*  Loads a model plugin and makes one model: fl_model_plugin_open (path),
    fl_model_plugin_make (cfg), fl_model_plugin_close, with their checks,
    log lines and reasons (see above; the reason is the first step's that
    failed).  The shared object stays loaded until the model is destroyed.
    A convenience for programs that build one model; a driver handing a
    plugin to the sessions opens it once instead.  Caller owns the result. */
fl_model_t *fl_model_load_plugin (const char *path, const fl_model_config_t *cfg, char *why,
                                  size_t cap);

/*  Destroys the model state; nulls *self_p; safe on NULL and twice. */
void fl_model_destroy (fl_model_t **self_p);

/* --- accessors ----------------------------------------------------------------- */

const char *fl_model_name (const fl_model_t *self);
const fl_model_config_t *fl_model_config (const fl_model_t *self);
size_t fl_model_num_inputs (const fl_model_t *self);
size_t fl_model_num_classes (const fl_model_t *self);

/*  Outputs per example: 1 for binary, n_classes otherwise. */
size_t fl_model_num_outputs (const fl_model_t *self);

size_t fl_model_num_params (const fl_model_t *self);

/*  The flat parameter vector (length num_params), owned by the model.  Write
    to it to load a global model; read it to send an update. */
float *fl_model_params (fl_model_t *self);

/*  The flat gradient vector (same layout), owned by the model; valid after
    fl_model_backward / fl_model_loss_grad. */
float *fl_model_grads (fl_model_t *self);

size_t fl_model_num_views (const fl_model_t *self);

/*  View i of the parameter vector; -1 if i is out of range. */
int fl_model_view (const fl_model_t *self, size_t i, fl_model_view_t *out);

/*  BLAKE2b-256 (crypto_generichash) over the model's name, version,
    n_inputs, n_classes and every view's name and shape, integers as
    little-endian u64, strings length-prefixed, and, when cfg.qat != 0, the
    QAT mode (float models keep the fingerprint they had before QAT
    existed, so older model files still load).  Two models can exchange
    parameter vectors iff their fingerprints are equal.  Parameter VALUES are
    not included.  For a plugin the name and version are the plugin's own. */
void fl_model_fingerprint (const fl_model_t *self, uint8_t out[FL_MODEL_FINGERPRINTBYTES]);

/*  Checks that self can exchange parameter vectors with a peer that
    announced fingerprint expected_fp (FL_MODEL_FINGERPRINTBYTES bytes, or
    NULL to skip) and expected_params parameters (0 to skip).  Returns 0 if
    both match; -1 with a one-line reason in why (cap bytes, may be NULL)
    naming which differs (the coordinator refuses such a client). */
int fl_model_check_compatible (const fl_model_t *self, const uint8_t *expected_fp,
                               size_t expected_params, char *why, size_t cap)
    __attribute__ ((warn_unused_result));

/*  Writes the model with its table's export_model (int8 for the built-in
    models with qat on; see fl_qat.h for the format).  -1 and a log line if
    the table has no export_model or it fails. */
int fl_model_export (fl_model_t *self, const char *path);

/* --- computation ---------------------------------------------------------------- */

/*  logits (n, n_out) for x (n, n_inputs) row-major.  -1 on no memory. */
int fl_model_forward (fl_model_t *self, const float *x, size_t n, float *logits);

/*  Back-propagates dlogits (n, n_out) through the preceding forward on the
    same x; overwrites the gradient block.  -1 on failure. */
int fl_model_backward (fl_model_t *self, const float *x, size_t n, const float *dlogits);

/*  One training step's worth of calculus: forward on x (n, n_inputs), mean
    weighted loss against labels y (n) (fl_bce_logits for binary,
    fl_ce_logits otherwise; class_weights n_classes floats or NULL), then
    backward so the gradient block holds d(mean loss)/dparams.  Writes the
    mean loss to *loss if not NULL.  Labels must be valid (asserted; fl_train
    checks them).  n must be >= 1.  -1 on no memory. */
int fl_model_loss_grad (fl_model_t *self, const float *x, const int32_t *y, size_t n,
                        const float *class_weights, double *loss);

/*  Probabilities: out (n, n_out), P(y = 1) for binary, softmax rows
    otherwise.  Works in chunks, so any n is fine.  -1 on no memory. */
int fl_model_predict (fl_model_t *self, const float *x, size_t n, float *out);

#ifdef __cplusplus
}
#endif
#endif
