/*  install_probe.c - an external program built by tests/it_install.sh
    against an INSTALLED libfl (pkg-config or find_package), as a user's
    program would be: only <fl.h> from the install's include directory.

    Usage: install_probe EXPECTED_VERSION [PLUGIN]
    Checks that the library it runs with reports EXPECTED_VERSION and agrees
    with the headers (FL_VERSION_*), loads the bundled WDBC data set from
    the default data directory, scores it with a fresh logistic regression
    (probabilities in [0, 1]), and, given PLUGIN (a bare name or a path),
    loads that model plugin.  Prints what it found; exits 0 only if every
    check holds, 1 otherwise. */
#include <fl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: install_probe EXPECTED_VERSION [PLUGIN]\n");
        return 1;
    }
    char header[32];
    snprintf (header, sizeof header, "%d.%d.%d", FL_VERSION_MAJOR, FL_VERSION_MINOR,
              FL_VERSION_PATCH);
    printf ("version: library %s, headers %s\n", fl_version (), FL_VERSION_STRING);
    if (strcmp (fl_version (), argv[1]) != 0 || strcmp (header, FL_VERSION_STRING) != 0
        || strcmp (fl_version (), FL_VERSION_STRING) != 0) {
        fprintf (stderr, "install_probe: version mismatch (expected %s)\n", argv[1]);
        return 1;
    }
    const char *datadir = fl_shard_default_datadir ();
    char path[4096];
    const char *label = NULL;
    if (fl_dataset_named ("wdbc", datadir, path, sizeof path, &label) != 0)
        return 1;
    fl_csv_error_t err;
    fl_dataset_t *ds = fl_dataset_load_csv (path, label, &err);
    if (!ds) {
        fprintf (stderr, "install_probe: %s\n", err.message);
        return 1;
    }
    printf ("datadir: %s\n", datadir);
    printf ("wdbc: %zu rows, %zu features, %zu classes\n", fl_dataset_rows (ds),
            fl_dataset_features (ds), fl_dataset_classes (ds));

    fl_model_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    cfg.n_inputs = fl_dataset_features (ds);
    cfg.n_classes = fl_dataset_classes (ds);
    cfg.seed = 1;
    fl_model_t *model = fl_model_new ("logreg", &cfg);
    size_t n = fl_dataset_rows (ds);
    float *p = model ? malloc (n * sizeof *p) : NULL;
    int ok = p && fl_model_predict (model, fl_dataset_x (ds), n, p) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = p[i] >= 0.0f && p[i] <= 1.0f;
    printf ("logreg: %zu parameters, %s\n", model ? fl_model_num_params (model) : 0,
            ok ? "scores in [0, 1]" : "FAILED");
    free (p);
    fl_model_destroy (&model);

    if (ok && argc > 2) {
        char why[512];
        cfg.hidden[0] = 4;
        cfg.n_hidden = 1;
        fl_model_t *plugin = fl_model_load_plugin (argv[2], &cfg, why, sizeof why);
        if (plugin)
            printf ("plugin %s: model %s, %zu parameters\n", argv[2], fl_model_name (plugin),
                    fl_model_num_params (plugin));
        else
            fprintf (stderr, "install_probe: %s\n", why);
        ok = plugin != NULL;
        fl_model_destroy (&plugin);
    }
    fl_dataset_destroy (&ds);
    return ok ? 0 : 1;
}
