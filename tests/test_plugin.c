/*  test_plugin.c - model plugins: loading the example plugin
    (build/plugins/fm_plugin.so, a factorisation machine written only
    against fl_model.h), training it on WDBC, checking its gradient by
    central finite differences, and every refusal fl_model_load_plugin and
    fl_model_check_compatible promise: missing file, a shared object
    without the symbol (the system's libm), an ABI version mismatch
    (build/plugins/bad_abi_plugin.so), a config the plugin refuses, a
    parameter-count and a fingerprint mismatch; and bare plugin names
    ("fm_plugin", "fm_plugin.so"), looked up only in the plugin
    directories (here the build tree's plugins/).

    The plugin directory comes from FL_BINARY_DIR (set by ctest). */
#define _GNU_SOURCE            /* dladdr, to find libm's path */
#include "fl_dataset.h"
#include "fl_metrics.h"
#include "fl_model.h"
#include "fl_rng.h"
#include "fl_stats.h"
#include "fl_test.h"
#include "fl_train.h"

#include <dlfcn.h>
#include <stdint.h>

static char s_fm[4096], s_bad[4096];

static fl_model_config_t
s_cfg (size_t in, size_t classes, const char *hidden, uint64_t seed)
{
    fl_model_config_t c;
    memset (&c, 0, sizeof c);
    c.n_inputs = in;
    c.n_classes = classes;
    c.seed = seed;
    if (fl_model_parse_hidden (hidden, &c) != 0)
        abort ();
    return c;
}

static void
test_load_and_shape (void)
{
    fl_model_config_t c = s_cfg (30, 2, "4", 1);
    char why[256];
    fl_model_t *m = fl_model_load_plugin (s_fm, &c, why, sizeof why);
    FL_CHECK (m != NULL);
    if (!m) {
        fprintf (stderr, "  %s\n", why);
        return;
    }
    FL_CHECK (strcmp (fl_model_name (m), "fm") == 0);
    FL_CHECK (fl_model_num_params (m) == 1 + 30 + 30 * 4);
    FL_CHECK (fl_model_num_views (m) == 3);
    fl_model_view_t v;
    FL_CHECK (fl_model_view (m, 2, &v) == 0 && strcmp (v.name, "factors") == 0 && v.rows == 30
              && v.cols == 4 && v.offset == 31);
    /* same config, second load (same .so, refcounted by dlopen): same
       fingerprint; destroy in either order */
    fl_model_t *m2 = fl_model_load_plugin (s_fm, &c, why, sizeof why);
    uint8_t a[FL_MODEL_FINGERPRINTBYTES], b[FL_MODEL_FINGERPRINTBYTES];
    fl_model_fingerprint (m, a);
    fl_model_fingerprint (m2, b);
    FL_CHECK (memcmp (a, b, sizeof a) == 0);
    FL_CHECK (fl_model_check_compatible (m2, a, fl_model_num_params (m), why, sizeof why) == 0);
    fl_model_destroy (&m);
    float *p = fl_model_params (m2);      /* still usable after the other is gone */
    FL_CHECK (p != NULL && isfinite (p[40]));
    fl_model_destroy (&m2);
    fl_model_destroy (&m2);

    /* fingerprint covers the plugin's shapes: k = 4 vs k = 8 */
    fl_model_config_t c8 = s_cfg (30, 2, "8", 1);
    fl_model_t *m8 = fl_model_load_plugin (s_fm, &c8, why, sizeof why);
    FL_CHECK (m8 != NULL);
    if (m8) {
        FL_CHECK (fl_model_check_compatible (m8, a, 0, why, sizeof why) == -1);
        FL_CHECK (strstr (why, "fingerprint") != NULL);
        FL_CHECK (fl_model_check_compatible (m8, NULL, 1 + 30 + 30 * 4, why, sizeof why) == -1);
        FL_CHECK (strstr (why, "parameters") != NULL);
        /* and its name: a built-in logreg never matches a plugin's fingerprint */
        fl_model_config_t lc = s_cfg (30, 2, "", 1);
        fl_model_t *lr = fl_model_new ("logreg", &lc);
        uint8_t l[FL_MODEL_FINGERPRINTBYTES];
        fl_model_fingerprint (lr, l);
        FL_CHECK (fl_model_check_compatible (m8, l, 0, why, sizeof why) == -1);
        fl_model_destroy (&lr);
    }
    fl_model_destroy (&m8);
}

/*  A bare name (no '/') is found in the plugin directories, with or
    without ".so"; it never reaches the system's library path. */
static void
test_bare_name (void)
{
    fl_model_config_t c = s_cfg (5, 2, "3", 1);
    char why[512];
    fl_model_t *by_path = fl_model_load_plugin (s_fm, &c, why, sizeof why);
    FL_CHECK (by_path != NULL);
    const char *names[] = { "fm_plugin", "fm_plugin.so" };
    for (size_t i = 0; i < 2; i++) {
        fl_model_t *m = fl_model_load_plugin (names[i], &c, why, sizeof why);
        FL_CHECK (m != NULL);
        if (m && by_path) {
            FL_CHECK (strcmp (fl_model_name (m), "fm") == 0);
            FL_CHECK (fl_model_num_params (m) == fl_model_num_params (by_path));
            uint8_t a[FL_MODEL_FINGERPRINTBYTES], b[FL_MODEL_FINGERPRINTBYTES];
            fl_model_fingerprint (m, a);
            fl_model_fingerprint (by_path, b);
            FL_CHECK (memcmp (a, b, sizeof a) == 0);
        }
        fl_model_destroy (&m);
    }
    fl_model_destroy (&by_path);
    /* not in the plugin directories: refused, naming where it looked */
    FL_CHECK (fl_model_load_plugin ("no_such_plugin", &c, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "no no_such_plugin.so in the plugin directories") != NULL);
    FL_CHECK (strstr (why, "plugins") != NULL);
    /* a system library by bare name is not a plugin lookup */
    FL_CHECK (fl_model_load_plugin ("libm.so.6", &c, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "plugin directories") != NULL);
    /* names that are not file names */
    FL_CHECK (fl_model_load_plugin ("..", &c, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "not a plugin name") != NULL);
    char longname[400];
    memset (longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    FL_CHECK (fl_model_load_plugin (longname, &c, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "not a plugin name") != NULL);
}

static void
test_refusals (void)
{
    fl_model_config_t c = s_cfg (5, 2, "", 1);
    char why[512];
    FL_CHECK (fl_model_load_plugin ("/nonexistent/dir/plugin.so", &c, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "cannot load") != NULL);
    FL_CHECK (fl_model_load_plugin (NULL, &c, why, sizeof why) == NULL);
    FL_CHECK (fl_model_load_plugin ("", &c, NULL, 0) == NULL);
    /* a real shared object without the symbol: the system's libm, by its
       path (a bare name is looked up only in the plugin directories) */
    void *libm = dlopen ("libm.so.6", RTLD_NOW);
    FL_CHECK (libm != NULL);
    Dl_info info;
    FL_CHECK (libm && dladdr (dlsym (libm, "cos"), &info) && info.dli_fname);
    if (libm && info.dli_fname) {
        FL_CHECK (strchr (info.dli_fname, '/') != NULL);
        FL_CHECK (fl_model_load_plugin (info.dli_fname, &c, why, sizeof why) == NULL);
        FL_CHECK (strstr (why, FL_MODEL_PLUGIN_SYMBOL) != NULL);
    }
    if (libm)
        dlclose (libm);
    /* not a shared object at all */
    FL_CHECK (fl_model_load_plugin (FL_TEST_PATH ("datasets/wdbc.csv"), &c, why, sizeof why) == NULL);
    /* right symbol, wrong ABI version: refused on abi_version alone (the
       table's name is NULL, so reading further would crash) */
    FL_CHECK (fl_model_load_plugin (s_bad, &c, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "ABI version") != NULL);
    /* a config the plugin refuses: QAT (not implemented by fm), two sizes */
    fl_model_config_t q = c;
    q.qat = FL_MODEL_QAT_PER_CHANNEL;
    FL_CHECK (fl_model_load_plugin (s_fm, &q, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "invalid table or configuration") != NULL);
    fl_model_config_t two = s_cfg (5, 2, "4,4", 1);
    FL_CHECK (fl_model_load_plugin (s_fm, &two, why, sizeof why) == NULL);
    /* host-side config checks apply to plugins too */
    fl_model_config_t bad = c;
    bad.n_classes = 1;
    FL_CHECK (fl_model_load_plugin (s_fm, &bad, why, sizeof why) == NULL);
}

/* Central differences on the mean BCE / CE through the plugin (float32
   forward: h = 1e-3 and the tolerance of test_model.c). */
static void
s_gradcheck (size_t classes, const char *hidden)
{
    size_t d = 5, n = 6;
    fl_model_config_t c = s_cfg (d, classes, hidden, 3);
    fl_model_t *m = fl_model_load_plugin (s_fm, &c, NULL, 0);
    FL_CHECK (m != NULL);
    if (!m)
        return;
    fl_rng_t *rng = fl_rng_new_u64 (4, 4);
    float x[30];
    int32_t y[6];
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float) fl_rng_normal (rng);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t) (i % classes);
    float *p = fl_model_params (m);
    size_t np = fl_model_num_params (m);
    for (size_t i = 0; i < np; i++)         /* nonzero linear terms and bias too */
        p[i] = (float) (0.3 * fl_rng_normal (rng));
    float w[3] = { 1.0f, 2.0f, 0.5f };
    double loss;
    FL_CHECK (fl_model_loss_grad (m, x, y, n, w, &loss) == 0);
    float *g = (float *) malloc (np * sizeof (float));
    memcpy (g, fl_model_grads (m), np * sizeof (float));
    const float h = 1e-3f;
    int bad = 0;
    for (size_t i = 0; i < np; i++) {
        float keep = p[i];
        double lp, lm;
        p[i] = keep + h;
        fl_model_loss_grad (m, x, y, n, w, &lp);
        p[i] = keep - h;
        fl_model_loss_grad (m, x, y, n, w, &lm);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * h);
        if (fabs (g[i] - num) > 2e-3 + 2e-2 * fabs (num) && bad++ < 5)
            fprintf (stderr, "  fm K=%zu param %zu: analytic %.6g numeric %.6g\n", classes, i, g[i], num);
    }
    FL_CHECK (bad == 0);
    if (fl_test_verbose_)
        printf ("  fm K=%zu k=%s: %zu gradients checked\n", classes, hidden, np);
    free (g);
    fl_rng_destroy (&rng);
    fl_model_destroy (&m);
}

static void
test_gradcheck (void)
{
    s_gradcheck (2, "3");
    s_gradcheck (3, "2");
    s_gradcheck (2, "");          /* default k = 8 */
}

/* Train the plugin on WDBC with the library's own training loop. */
static void
test_train_wdbc (void)
{
    char path[4096];
    const char *label = NULL;
    FL_CHECK (fl_dataset_named ("wdbc", FL_TEST_PATH ("datasets"), path, sizeof path, &label) == 0);
    fl_dataset_t *ds = fl_dataset_load_csv (path, label, NULL), *train = NULL, *test = NULL;
    FL_CHECK (ds && fl_dataset_split (ds, 0.25, 7, &train, &test) == 0);
    fl_dataset_destroy (&ds);
    if (!train)
        return;
    size_t d = fl_dataset_features (train);
    float *mean = (float *) malloc (d * sizeof (float)), *std = (float *) malloc (d * sizeof (float));
    fl_stats_t *st = fl_stats_new (d);
    FL_CHECK (fl_stats_accumulate (st, train) == 0 && fl_stats_finalize (st, mean, std) == 0);
    FL_CHECK (fl_dataset_standardise (train, mean, std) == 0 && fl_dataset_standardise (test, mean, std) == 0);
    fl_model_config_t c = s_cfg (d, 2, "4", 11);
    fl_model_t *m = fl_model_load_plugin (s_fm, &c, NULL, 0);
    FL_CHECK (m != NULL);
    if (m) {
        fl_train_config_t tc;
        fl_train_config_default (&tc);
        tc.optimizer = FL_OPT_ADAM;
        tc.lr = 0.01f;
        tc.epochs = 10;
        tc.batch_size = 32;
        tc.weight_decay = 1e-3f;
        double loss0 = fl_train_loss (m, fl_dataset_x (train), fl_dataset_y (train), fl_dataset_rows (train), NULL);
        double loss;
        FL_CHECK (fl_train_local (m, fl_dataset_x (train), fl_dataset_y (train), fl_dataset_rows (train), &tc,
                                  &loss) == 0);
        size_t n = fl_dataset_rows (test), correct = 0;
        float *pr = (float *) malloc (n * sizeof (float));
        FL_CHECK (fl_model_predict (m, fl_dataset_x (test), n, pr) == 0);
        for (size_t i = 0; i < n; i++)
            correct += (pr[i] > 0.5f) == (fl_dataset_y (test)[i] == 1);
        double acc = (double) correct / (double) n;
        FL_CHECK (loss < loss0);
        FL_CHECK (acc >= 0.93);
        printf ("  fm plugin (k=4) on WDBC: train loss %.4f -> %.4f, test accuracy %.4f (%zu rows)\n", loss0,
                loss, acc, n);
        free (pr);
    }
    fl_model_destroy (&m);
    fl_stats_destroy (&st);
    free (mean);
    free (std);
    fl_dataset_destroy (&train);
    fl_dataset_destroy (&test);
}

/*  The open / make split the sessions rely on (issue 16): a driver opens a
    plugin once, the sessions make models from it.  Two models from one
    opened plugin are independent and fingerprint alike; the driver may
    close the plugin while they live (each model holds a reference: the
    shared object stays loaded until the last model goes; ASan checks it);
    a failed open leaves nothing to make from; fl_model_make with no plugin
    is the built-in registry. */
static void
test_open_make (void)
{
    char why[512];
    fl_model_plugin_t *pl = fl_model_plugin_open (s_fm, why, sizeof why);
    FL_CHECK (pl != NULL);
    if (!pl) {
        fprintf (stderr, "  %s\n", why);
        return;
    }
    FL_CHECK (strcmp (fl_model_plugin_name (pl), "fm") == 0);
    FL_CHECK (strcmp (fl_model_plugin_path (pl), s_fm) == 0);
    fl_model_config_t c4 = s_cfg (30, 2, "4", 1), c8 = s_cfg (30, 2, "8", 2);
    fl_model_t *a = fl_model_plugin_make (pl, &c4, why, sizeof why);
    fl_model_t *b = fl_model_make (pl, "ignored with a plugin", &c8, why, sizeof why);
    FL_CHECK (a != NULL && b != NULL);
    /* the same shape as fl_model_load_plugin's: equal fingerprints */
    fl_model_t *loaded = fl_model_load_plugin (s_fm, &c4, why, sizeof why);
    FL_CHECK (loaded != NULL);
    /* a config the plugin refuses: refused by make, the plugin still usable */
    fl_model_config_t q = c4;
    q.qat = FL_MODEL_QAT_PER_CHANNEL;
    FL_CHECK (fl_model_plugin_make (pl, &q, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "invalid table or configuration") != NULL);
    if (a && loaded) {
        uint8_t fa[FL_MODEL_FINGERPRINTBYTES], fl[FL_MODEL_FINGERPRINTBYTES];
        fl_model_fingerprint (a, fa);
        fl_model_fingerprint (loaded, fl);
        FL_CHECK (memcmp (fa, fl, sizeof fa) == 0);
    }
    /* gone first, so after the close below only a and b keep the object loaded */
    fl_model_destroy (&loaded);
    fl_model_plugin_close (&pl);
    FL_CHECK (pl == NULL);
    fl_model_plugin_close (&pl);                /* safe twice */
    if (a && b) {
        FL_CHECK (strcmp (fl_model_name (a), "fm") == 0 && strcmp (fl_model_name (b), "fm") == 0);
        FL_CHECK (fl_model_num_params (a) == 1 + 30 + 30 * 4);
        FL_CHECK (fl_model_num_params (b) == 1 + 30 + 30 * 8);
        /* after the driver's close both models still run the plugin's code */
        float x[2 * 30], pa[2], pb[2];
        for (size_t i = 0; i < 2 * 30; i++)
            x[i] = (float) i / 60.0f - 0.5f;
        FL_CHECK (fl_model_predict (a, x, 2, pa) == 0 && fl_model_predict (b, x, 2, pb) == 0);
        FL_CHECK (pa[0] > 0.0f && pa[0] < 1.0f && pb[1] > 0.0f && pb[1] < 1.0f);
        int32_t y[2] = { 0, 1 };
        double loss = -1;
        FL_CHECK (fl_model_loss_grad (b, x, y, 2, NULL, &loss) == 0 && loss > 0 && isfinite (loss));
        fl_model_destroy (&a);
        float *p = fl_model_params (b);         /* the last model keeps the object loaded */
        FL_CHECK (p != NULL && isfinite (p[40]));
        FL_CHECK (fl_model_predict (b, x, 2, pb) == 0 && pb[0] > 0.0f && pb[0] < 1.0f);
    }
    fl_model_destroy (&a);
    fl_model_destroy (&b);

    /* a failed open gives nothing: make from it is refused, not a crash */
    fl_model_plugin_t *none = fl_model_plugin_open ("/nonexistent/dir/plugin.so", why, sizeof why);
    FL_CHECK (none == NULL);
    FL_CHECK (strstr (why, "cannot load") != NULL);
    FL_CHECK (fl_model_plugin_make (none, &c4, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "not opened") != NULL);
    FL_CHECK (fl_model_plugin_open (s_bad, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "ABI version") != NULL);
    FL_CHECK (fl_model_plugin_open ("no_such_plugin", why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "no no_such_plugin.so in the plugin directories") != NULL);
    FL_CHECK (fl_model_plugin_open (NULL, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "no path given") != NULL);
    /* a bare name resolves to the plugin directory's file */
    fl_model_plugin_t *bare = fl_model_plugin_open ("fm_plugin", why, sizeof why);
    FL_CHECK (bare != NULL);
    if (bare)
        FL_CHECK (strstr (fl_model_plugin_path (bare), "/fm_plugin.so") != NULL);
    fl_model_plugin_close (&bare);

    /* no plugin: the built-in registry, as fl_model_new */
    fl_model_config_t lc = s_cfg (30, 2, "", 1);
    fl_model_t *lr = fl_model_make (NULL, "logreg", &lc, why, sizeof why);
    FL_CHECK (lr != NULL && strcmp (fl_model_name (lr), "logreg") == 0 && fl_model_num_params (lr) == 31);
    fl_model_destroy (&lr);
    FL_CHECK (fl_model_make (NULL, "no-such-model", &lc, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "no-such-model") != NULL);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    const char *bin = getenv ("FL_BINARY_DIR");
    snprintf (s_fm, sizeof s_fm, "%s/plugins/fm_plugin.so", bin ? bin : "build");
    snprintf (s_bad, sizeof s_bad, "%s/plugins/bad_abi_plugin.so", bin ? bin : "build");
    FL_RUN (test_load_and_shape);
    FL_RUN (test_refusals);
    FL_RUN (test_bare_name);
    FL_RUN (test_gradcheck);
    FL_RUN (test_train_wdbc);
    FL_RUN (test_open_make);
    FL_TEST_DONE ();
}
