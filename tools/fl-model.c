/*  fl-model - inspect and compare libfl model files.

    fl-model info FILE         model name, shapes, fingerprint, parameter
                               digest, standardisation summary, the stored
                               encoding and label mapping (if any)
    fl-model diff A B [TOL]    largest absolute parameter difference; exit 0
                               if both files hold the same model and it is
                               <= TOL (default 0: bit-identical), 1 if not,
                               2 on unreadable files

    Files are loaded with fl_modelfile_load, i.e. validated like network
    input: a damaged file is refused with the reason.
*/
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_schema.h"

static int
s_usage (void)
{
    fprintf (stderr, "usage: fl-model info FILE\n       fl-model diff A B [TOL]\n");
    return 2;
}

static int
s_info (const char *path)
{
    fl_model_t *m = NULL;
    float *mean = NULL, *std = NULL;
    if (fl_modelfile_load (path, &m, &mean, &std) != 0)
        return 2;
    uint8_t fp[32], dig[32];
    fl_model_fingerprint (m, fp);
    crypto_generichash (dig, sizeof dig, (const uint8_t *) fl_model_params (m),
                        fl_model_num_params (m) * sizeof (float), NULL, 0);
    char fph[65], digh[65];
    sodium_bin2hex (fph, sizeof fph, fp, 32);
    sodium_bin2hex (digh, sizeof digh, dig, 32);
    printf ("model:       %s\ninputs:      %zu\nclasses:     %zu\nparameters:  %zu\nfingerprint: %s\n"
            "params digest (BLAKE2b-256): %s\nstandardisation: %s\n",
            fl_model_name (m), fl_model_num_inputs (m), fl_model_num_classes (m), fl_model_num_params (m), fph,
            digh, mean ? "present" : "absent");
    /* The encoding the inputs were made with (a member's own CSV; docs/DATA.md). */
    char *text = NULL, why[512];
    int rc = 0;
    if (fl_modelfile_load_schema (path, &text) != 0)
        rc = 2;
    else if (!text)
        printf ("encoding:    none stored (numeric CSV columns in file order)\n");
    else {
        fl_schema_t *schema = fl_schema_load_str (text, path, why, sizeof why);
        char *map = schema ? fl_schema_label_mapping (schema) : NULL;
        if (!schema) {
            fprintf (stderr, "fl-model: stored schema: %s\n", why);
            rc = 2;
        }
        else
            printf ("encoding:    schema of %zu features, %zu text columns with %zu categories, label '%s'\n"
                    "label mapping: %s\n", fl_schema_features (schema), fl_schema_text_columns (schema),
                    fl_schema_text_values (schema), fl_schema_label (schema),
                    map && map[0] ? map : "integer labels as they are");
        free (map);
        fl_schema_destroy (&schema);
    }
    free (text);
    fl_model_destroy (&m);
    free (mean);
    free (std);
    return rc;
}

static int
s_diff (const char *a, const char *b, double tol)
{
    fl_model_t *ma = NULL, *mb = NULL;
    float *m1 = NULL, *s1 = NULL, *m2 = NULL, *s2 = NULL;
    int rc = 2;
    if (fl_modelfile_load (a, &ma, &m1, &s1) != 0 || fl_modelfile_load (b, &mb, &m2, &s2) != 0)
        goto done;
    uint8_t fa[32], fb[32];
    fl_model_fingerprint (ma, fa);
    fl_model_fingerprint (mb, fb);
    if (memcmp (fa, fb, 32) != 0) {
        printf ("different models (fingerprints differ)\n");
        rc = 1;
        goto done;
    }
    double worst = 0;
    for (size_t i = 0; i < fl_model_num_params (ma); i++) {
        double d = fabs ((double) fl_model_params (ma)[i] - fl_model_params (mb)[i]);
        if (d > worst || isnan (d))
            worst = isnan (d) ? INFINITY : d;
    }
    printf ("max |a - b| over %zu parameters: %.9g\n", fl_model_num_params (ma), worst);
    rc = worst <= tol ? 0 : 1;
done:
    fl_model_destroy (&ma);
    fl_model_destroy (&mb);
    free (m1);
    free (s1);
    free (m2);
    free (s2);
    return rc;
}

int
main (int argc, char **argv)
{
    if (sodium_init () < 0)
        return 2;
    if (argc == 2 && strcmp (argv[1], "--version") == 0) {
        printf ("fl-model (libfl) %s\n", FL_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)) {
        printf ("usage: fl-model info FILE\n       fl-model diff A B [TOL]\n\n"
                "info: what a model file holds (validated like network input).\n"
                "diff: largest absolute parameter difference; exit 0 if <= TOL (default 0), 1 if not, 2 on error.\n");
        return 0;
    }
    if (argc == 3 && strcmp (argv[1], "info") == 0)
        return s_info (argv[2]);
    if ((argc == 4 || argc == 5) && strcmp (argv[1], "diff") == 0) {
        double tol = 0;
        if (argc == 5) {
            char *end;
            tol = strtod (argv[4], &end);
            if (*end || !(tol >= 0))
                return s_usage ();
        }
        return s_diff (argv[2], argv[3], tol);
    }
    return s_usage ();
}
