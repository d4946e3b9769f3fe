/*  fl-model - inspect, compare, score, export and check libfl models.

    fl-model info FILE         model name, shapes, fingerprint, parameter
                               digest, standardisation summary, feature /
                               label / class names, the stored encoding
    fl-model diff A B [TOL]    largest absolute parameter difference; exit 0
                               if both files hold the same model and it is
                               <= TOL (default 0: bit-identical), 1 if not,
                               2 on unreadable files
    fl-model predict MODEL CSV [--out FILE] [--threshold T] [--metrics]
                               scores every row (io/fl_score)
    fl-model export --json|--onnx MODEL OUT
    fl-model export --int8 MODEL OUT --calibrate CSV
                               io/fl_export; ONNX through tools/fl-onnx-export.py
    fl-model names MODEL CSV [--label COLUMN]
                               records a member CSV's header as the model's
                               feature / label names (a coordinator's model)
    fl-model digest FILE       the parameter digest (fl_modelfile_digest,
                               docs/MODELS.md), 64 hex characters
    fl-model verify-report --roster R [--model FILE] [--sig SIG] REPORT
                               checks the coordinator's signature on a run
                               report (io/fl_report) against the roster and
                               that the report names FILE's digest
    fl-model gradcheck [--model-plugin P | --model NAME [--hidden H]]
                       [--features N] [--classes C] [--rows R] [--seed S]
                               finite differences against the backward pass
    --model-plugin P with info, predict and export loads a model whose
    architecture comes from a plugin.  docs/SCORING.md.

    Files are loaded with fl_modelfile_load, i.e. validated like network
    input: a damaged file is refused with the reason.
*/
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_export.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_predict.h"
#include "fl_report.h"
#include "fl_roster.h"
#include "fl_schema.h"
#include "fl_score.h"
#include "fl_shard.h"

#include <libgen.h>
#include <limits.h>
#include <unistd.h>

#define S_USAGE                                                                                         \
    "usage: fl-model info FILE [--model-plugin P]\n"                                                    \
    "       fl-model diff A B [TOL]\n"                                                                  \
    "       fl-model predict MODEL CSV [--out FILE] [--threshold T] [--metrics] [--model-plugin P]\n"   \
    "       fl-model export --json|--onnx MODEL OUT [--model-plugin P]\n"                              \
    "       fl-model export --int8 MODEL OUT --calibrate CSV [--model-plugin P]\n"                     \
    "       fl-model names MODEL CSV [--label COLUMN] [--model-plugin P]\n"                            \
    "       fl-model digest FILE\n"                                                                    \
    "       fl-model verify-report --roster R [--model FILE] [--sig SIG] REPORT\n"                      \
    "       fl-model gradcheck [--model-plugin P | --model logreg|mlp [--hidden H]] [--features N]\n"   \
    "                          [--classes C] [--rows R] [--seed S]\n"

static int
s_usage (void)
{
    fputs (S_USAGE, stderr);
    return 2;
}

/*  Prints "key: a, b, c" or "key: unknown (why)". */
static void
s_names_line (const char *key, char *const *v, size_t n, const char *unknown)
{
    printf ("%s", key);
    if (!n) {
        printf ("unknown (%s)\n", unknown);
        return;
    }
    for (size_t i = 0; i < n; i++)
        printf ("%s%s", i ? ", " : "", v[i]);
    printf ("\n");
}

static int
s_info (const char *path, const char *plugin)
{
    fl_model_t *m = NULL;
    float *mean = NULL, *std = NULL;
    fl_modelfile_names_t names;
    if (fl_modelfile_load_plugin (path, plugin, &m, &mean, &std) != 0)
        return 2;
    if (fl_modelfile_load_names (path, &names) != 0) {
        fl_model_destroy (&m);
        free (mean);
        free (std);
        return 2;
    }
    uint8_t fp[32], dig[FL_MODELFILE_DIGESTBYTES];
    fl_model_fingerprint (m, fp);
    fl_modelfile_digest (fp, fl_model_params (m), fl_model_num_params (m), dig);
    char fph[65], digh[65];
    sodium_bin2hex (fph, sizeof fph, fp, 32);
    sodium_bin2hex (digh, sizeof digh, dig, 32);
    printf ("model:       %s\ninputs:      %zu\nclasses:     %zu\nparameters:  %zu\nfingerprint: %s\n"
            "parameter digest: blake2b-256 %s\nstandardisation: %s\n",
            fl_model_name (m), fl_model_num_inputs (m), fl_model_num_classes (m), fl_model_num_params (m), fph,
            digh, mean ? "present" : "absent");
    const char *unknown = names.format < 2 ? "the file predates stored names" : "the training program did not record them";
    printf ("file format: %llu\n", (unsigned long long) names.format);
    s_names_line ("feature names: ", names.features, names.n_features, unknown);
    printf ("label:       %s\n", names.label ? names.label : "unknown");
    s_names_line ("class names: ", names.classes, names.n_classes, unknown);
    fl_modelfile_names_clear (&names);
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

/*  fl-model digest FILE: the file's parameter digest, validated. */
static int
s_digest (const char *path)
{
    uint8_t d[FL_MODELFILE_DIGESTBYTES];
    char hex[2 * FL_MODELFILE_DIGESTBYTES + 1];
    if (fl_modelfile_load_digest (path, d, NULL) != 0) {
        fprintf (stderr, "fl-model: %s: no valid parameter digest (see above)\n", path);
        return 2;
    }
    sodium_bin2hex (hex, sizeof hex, d, sizeof d);
    printf ("%s\n", hex);
    return 0;
}

/*  fl-model verify-report: exit 0 verified, 1 refused (reason on stderr), 2 usage or unreadable inputs. */
static int
s_verify_report (int argc, char **argv)
{
    const char *roster_path = NULL, *model = NULL, *sig = NULL, *report = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp (a, "--roster") == 0 ? &roster_path : strcmp (a, "--model") == 0 ? &model
                          : strcmp (a, "--sig") == 0 ? &sig : NULL;
        if (slot) {
            if (i + 1 >= argc || *slot)
                return s_usage ();
            *slot = argv[++i];
        }
        else if (a[0] == '-' || report)
            return s_usage ();
        else
            report = a;
    }
    if (!roster_path || !report)
        return s_usage ();
    char sigbuf[PATH_MAX];
    if (!sig) {
        if (fl_report_sibling (report, ".sig", sigbuf, sizeof sigbuf) != 0)
            return s_usage ();
        sig = sigbuf;
    }
    fl_roster_t *roster = fl_roster_load (roster_path);
    if (!roster) {
        fprintf (stderr, "fl-model: verify-report: cannot load the roster %s (see above)\n", roster_path);
        return 2;
    }
    uint8_t said[32], file[FL_MODELFILE_DIGESTBYTES];
    int has = 0, rc = 1;
    char why[512] = "";
    if (fl_report_verify (report, sig, roster, said, &has, why, sizeof why) != 0)
        fprintf (stderr, "fl-model: verify-report: REFUSED: %s\n", why);
    else if (model && !has)
        fprintf (stderr, "fl-model: verify-report: REFUSED: %s names no model digest, so it cannot vouch for %s\n",
                 report, model);
    else if (model && fl_modelfile_load_digest (model, file, NULL) != 0) {
        fprintf (stderr, "fl-model: verify-report: cannot read a valid digest from %s (see above)\n", model);
        rc = 2;
    }
    else if (model && sodium_memcmp (said, file, sizeof file) != 0) {
        char a[65], b[65];
        sodium_bin2hex (a, sizeof a, said, 32);
        sodium_bin2hex (b, sizeof b, file, 32);
        fprintf (stderr, "fl-model: verify-report: REFUSED: the report describes the model with digest %s, but %s "
                         "holds a model with digest %s (another model)\n", a, model, b);
    }
    else {
        char a[65];
        sodium_bin2hex (a, sizeof a, said, 32);
        printf ("fl-model: verify-report: OK: %s is signed by the roster's coordinator key (%s)%s%s%s%s\n", report,
                sig, has ? "; model digest " : "; the report names no model digest", has ? a : "",
                model ? ", matching " : "", model ? model : "");
        rc = 0;
    }
    fl_roster_destroy (&roster);
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

/*  Where tools/fl-onnx-export.py is: $FL_ONNX_EXPORT; next to the program;
    the install's datadir (<prefix>/share/libfl); the source tree of a build
    (build/bin/../../tools, or the tree whose datasets/ the build uses).
    Writes the first readable one into out; 0, or -1 (out = the first tried). */
static int
s_find_onnx_script (char *out, size_t cap)
{
    const char *env = getenv ("FL_ONNX_EXPORT");
    if (env && env[0]) {
        snprintf (out, cap, "%s", env);
        return access (out, R_OK) == 0 ? 0 : -1;
    }
    char exe[PATH_MAX] = "", dir[PATH_MAX] = ".";
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        snprintf (dir, sizeof dir, "%s", dirname (exe));
    }
    char data[PATH_MAX];
    snprintf (data, sizeof data, "%s", fl_shard_default_datadir ());
    const char *tree = dirname (data);
    const char *fmt[] = { "%s/fl-onnx-export.py", "%s/../share/libfl/fl-onnx-export.py",
                          "%s/../../tools/fl-onnx-export.py", "%s/../tools/fl-onnx-export.py" };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        snprintf (out, cap, fmt[i], dir);
        if (access (out, R_OK) == 0)
            return 0;
    }
    snprintf (out, cap, "%s/tools/fl-onnx-export.py", tree);
    if (access (out, R_OK) == 0)
        return 0;
    snprintf (out, cap, "%s/fl-onnx-export.py", dir);
    return -1;
}

/*  Options after the subcommand: "--name value" or "--name=value" pairs and
    bare flags; positional arguments in order.  Returns -1 on an unknown
    option or a missing value (printed). */
typedef struct {
    const char *pos[4];
    size_t npos;
    const char *plugin, *out, *threshold, *model, *hidden, *features, *classes, *rows, *seed, *calibrate, *label;
    int metrics, json, int8, onnx;
} s_opts_t;

static int
s_parse (int argc, char **argv, s_opts_t *o)
{
    memset (o, 0, sizeof *o);
    struct { const char *name; const char **dst; } with_value[] = {
        { "--model-plugin", &o->plugin }, { "--out", &o->out }, { "--threshold", &o->threshold },
        { "--model", &o->model }, { "--hidden", &o->hidden }, { "--features", &o->features },
        { "--classes", &o->classes }, { "--rows", &o->rows }, { "--seed", &o->seed },
        { "--calibrate", &o->calibrate }, { "--label", &o->label } };
    struct { const char *name; int *dst; } flags[] = {
        { "--metrics", &o->metrics }, { "--json", &o->json }, { "--int8", &o->int8 }, { "--onnx", &o->onnx } };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp (a, "--", 2) != 0) {
            if (o->npos == 4) {
                fprintf (stderr, "fl-model: too many arguments ('%s')\n", a);
                return -1;
            }
            o->pos[o->npos++] = a;
            continue;
        }
        int done = 0;
        for (size_t f = 0; f < sizeof flags / sizeof flags[0] && !done; f++)
            if (strcmp (a, flags[f].name) == 0)
                *flags[f].dst = done = 1;
        for (size_t f = 0; f < sizeof with_value / sizeof with_value[0] && !done; f++) {
            size_t len = strlen (with_value[f].name);
            if (strncmp (a, with_value[f].name, len) != 0)
                continue;
            if (a[len] == '=')
                *with_value[f].dst = a + len + 1;
            else if (a[len] == '\0' && i + 1 < argc)
                *with_value[f].dst = argv[++i];
            else if (a[len] == '\0') {
                fprintf (stderr, "fl-model: %s needs a value\n", a);
                return -1;
            }
            else
                continue;
            done = 1;
        }
        if (!done) {
            fprintf (stderr, "fl-model: unknown option '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

/*  A positive integer option in [lo, hi]; -1 (printed) if not. */
static int
s_size (const char *name, const char *v, size_t lo, size_t hi, size_t *out)
{
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull (v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi || v[0] == '-') {
        fprintf (stderr, "fl-model: %s must be an integer in [%zu, %zu], not '%s'\n", name, lo, hi, v);
        return -1;
    }
    *out = (size_t) x;
    return 0;
}

static int
s_predict (const s_opts_t *o)
{
    fl_score_config_t cfg = { o->pos[1], o->plugin, o->pos[2], o->out, 0.5f, o->metrics != 0 };
    if (o->threshold) {
        char *end;
        double t = strtod (o->threshold, &end);
        if (!*o->threshold || *end || !(t >= 0 && t <= 1)) {
            fprintf (stderr, "fl-model: --threshold must be a number in [0, 1], not '%s'\n", o->threshold);
            return 2;
        }
        cfg.threshold = (float) t;
    }
    fl_score_summary_t sum;
    char why[4096];
    if (fl_score_run (&cfg, &sum, why, sizeof why) != 0) {
        fprintf (stderr, "fl-model: predict: %s\n", why);
        return 2;
    }
    /* Metrics go to stdout with --out, else to stderr (stdout holds the CSV). */
    FILE *f = o->out ? stdout : stderr;
    if (o->out)
        fprintf (f, "fl-model: scored %zu rows into %s\n", sum.rows, o->out);
    if (sum.has_metrics)
        fprintf (f, "metrics: rows %zu accuracy %.6f auroc %.6f log_loss %.6f (threshold %g)\n", sum.rows,
                 sum.accuracy, sum.auroc, sum.log_loss, (double) cfg.threshold);
    return 0;
}

static int
s_export (const s_opts_t *o)
{
    if (o->json + o->int8 + o->onnx != 1 || o->npos != 3) {
        fprintf (stderr, "fl-model: export takes one of --json, --int8, --onnx, then MODEL OUT\n");
        return 2;
    }
    char why[4096], script[PATH_MAX + 64];
    int rc;
    if (o->json)
        rc = fl_export_json (o->pos[1], o->plugin, o->pos[2], why, sizeof why);
    else if (o->int8)
        rc = fl_export_int8 (o->pos[1], o->plugin, o->calibrate, o->pos[2], why, sizeof why);
    else {
        /* Not found: the path FL_ONNX_EXPORT names is reported; otherwise
           NULL, and the library lists where the script is looked for. */
        int found = o->plugin ? 0 : s_find_onnx_script (script, sizeof script);
        const char *env = getenv ("FL_ONNX_EXPORT");
        rc = fl_export_onnx (o->pos[1], o->plugin, found == 0 || (env && env[0]) ? script : NULL, o->pos[2], why,
                             sizeof why);
    }
    if (rc != 0) {
        fprintf (stderr, "fl-model: export: %s\n", why);
        return 2;
    }
    printf ("fl-model: wrote %s\n", o->pos[2]);
    return 0;
}

static int
s_names (const s_opts_t *o)
{
    fl_model_t *m = NULL;
    float *mean = NULL, *std = NULL;
    char *schema = NULL, why[1024];
    fl_modelfile_names_t names;
    memset (&names, 0, sizeof names);
    int rc = 2;
    if (fl_modelfile_load_plugin (o->pos[1], o->plugin, &m, &mean, &std) != 0
        || fl_modelfile_load_schema (o->pos[1], &schema) != 0)
        goto done;
    if (schema) {
        fprintf (stderr, "fl-model: names: %s keeps the schema its inputs were encoded with; its features are the "
                 "encoded ones, not a CSV's columns\n", o->pos[1]);
        goto done;
    }
    if (fl_score_names_from_csv (o->pos[2], o->label, fl_model_num_inputs (m), fl_model_num_classes (m), &names,
                                 why, sizeof why) != 0) {
        fprintf (stderr, "fl-model: names: %s\n", why);
        goto done;
    }
    if (fl_modelfile_attach_names (o->pos[1], &names) != 0)
        goto done;
    printf ("fl-model: %s: %zu feature names and label '%s' from %s\n", o->pos[1], names.n_features, names.label,
            o->pos[2]);
    rc = 0;
done:
    fl_modelfile_names_clear (&names);
    fl_model_destroy (&m);
    free (mean);
    free (std);
    free (schema);
    return rc;
}

static int
s_gradcheck (const s_opts_t *o)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = 8;
    mc.n_classes = 2;
    mc.seed = 1;
    size_t rows = 16, seed = 1;
    if (o->npos != 1 || s_size ("--features", o->features, 1, 4096, &mc.n_inputs) != 0
        || s_size ("--classes", o->classes, 2, 1000, &mc.n_classes) != 0
        || s_size ("--rows", o->rows, 1, 100000, &rows) != 0 || s_size ("--seed", o->seed, 0, SIZE_MAX, &seed) != 0)
        return s_usage ();
    if (o->plugin && o->model) {
        fprintf (stderr, "fl-model: gradcheck takes --model-plugin or --model, not both\n");
        return 2;
    }
    if (o->hidden && fl_model_parse_hidden (o->hidden, &mc) != 0)
        return 2;
    mc.seed = seed;
    char why[512] = "";
    fl_model_t *m = o->plugin ? fl_model_load_plugin (o->plugin, &mc, why, sizeof why)
                              : fl_model_new (o->model ? o->model : "logreg", &mc);
    if (!m) {
        fprintf (stderr, "fl-model: gradcheck: cannot build the model%s%s\n", why[0] ? ": " : "", why);
        return 2;
    }
    fl_gradcheck_result_t r;
    int rc = fl_gradcheck (m, rows, seed, 2000, &r);
    if (rc < 0) {
        fprintf (stderr, "fl-model: gradcheck: %s: the check could not run (see the line above)\n",
                 fl_model_name (m));
        fl_model_destroy (&m);
        return 2;
    }
    printf ("gradcheck: model %s, %zu inputs, %zu classes, %zu of %zu parameters checked on %zu rows\n"
            "max relative error: %.3g (parameter %zu: backward %.6g, finite difference %.6g)\n"
            "%s (tolerance %g)\n",
            fl_model_name (m), mc.n_inputs, mc.n_classes, r.checked, fl_model_num_params (m), rows,
            r.max_rel_error, r.worst_param, r.worst_analytic, r.worst_numeric, rc == 0 ? "PASS" : "FAIL",
            FL_GRADCHECK_TOL);
    fl_model_destroy (&m);
    return rc == 0 ? 0 : 1;
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
        printf (S_USAGE "\n"
                "info: what a model file holds (validated like network input), with its feature, label and\n"
                "  class names (\"unknown\" for files from before they were kept).\n"
                "diff: largest absolute parameter difference; exit 0 if <= TOL (default 0), 1 if not, 2 on error.\n"
                "predict: scores every row of CSV with the stored standardisation.  The header must hold the\n"
                "  model's feature names (any order); the label column, if present, is ignored, or used by\n"
                "  --metrics (accuracy, AUROC, log loss).  Writes CSV to --out or stdout: row (1-based), score\n"
                "  (P(class 1); one p_<class> column per class for multi-class), predicted class (binary:\n"
                "  score >= --threshold, default 0.5).  With stdout as output the metrics go to stderr.\n"
                "export: --json (weights with shapes, standardisation, names), --int8 (the int8 format of a\n"
                "  model trained with --qat; --calibrate CSV: rows whose forward pass sets the activation\n"
                "  ranges, which model files do not keep), --onnx (ONNX graph, written by\n"
                "  tools/fl-onnx-export.py with python3-onnx; FL_ONNX_EXPORT overrides where the script is).\n"
                "names: records the header of a member's CSV in the model file (a model from fl-coordinator,\n"
                "  which never sees a header): features = the columns other than the label (--label, default\n"
                "  the last column, as in training) in file order; classes 0..K-1.\n"
                "digest: the BLAKE2b-256 digest of the trained parameters (domain prefix, fingerprint, count,\n"
                "  little-endian float32: docs/MODELS.md); a format-3 file whose stored digest does not match\n"
                "  its parameters is refused.\n"
                "verify-report: checks REPORT.sig (or --sig) against the roster's coordinator identity key,\n"
                "  the digests of the files it signs (REPORT.md, REPORT.html), and with --model that the report\n"
                "  names FILE's parameter digest.  Exit 0 verified, 1 refused (the reason on stderr), 2 error.\n"
                "gradcheck: central finite differences of the loss against the model's backward pass, at\n"
                "  random inputs (default 8 features, 2 classes, 16 rows); prints the max relative error;\n"
                "  exit 0 PASS, 1 FAIL, 2 error.\n"
                "--model-plugin P: the model's architecture comes from the plugin shared object P (info,\n"
                "  predict, export --json/--int8, names, gradcheck).\n"
                "Exit status: 0 success, 1 diff/gradcheck found a difference, 2 error.  docs/SCORING.md.\n");
        return 0;
    }
    if (argc < 2)
        return s_usage ();
    if (argc == 3 && strcmp (argv[1], "digest") == 0)
        return s_digest (argv[2]);
    if (argc >= 2 && strcmp (argv[1], "verify-report") == 0)
        return s_verify_report (argc - 2, argv + 2);
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
    s_opts_t o;
    if (s_parse (argc - 1, argv + 1, &o) != 0)
        return s_usage ();
    const char *cmd = o.npos ? o.pos[0] : "";
    /* Each option belongs to the subcommands that read it; any other use is
       a usage error rather than silently ignored. */
    int gc = o.model || o.hidden || o.features || o.classes || o.rows || o.seed;
    int fmt = o.json || o.int8 || o.onnx;
    int pred = o.out || o.threshold || o.metrics;
    if (strcmp (cmd, "info") == 0 && o.npos == 2 && !gc && !fmt && !pred && !o.calibrate && !o.label)
        return s_info (o.pos[1], o.plugin);
    if (strcmp (cmd, "predict") == 0 && o.npos == 3 && !gc && !fmt && !o.calibrate && !o.label)
        return s_predict (&o);
    if (strcmp (cmd, "export") == 0 && !gc && !pred && !o.label && (!o.calibrate || o.int8))
        return s_export (&o);
    if (strcmp (cmd, "names") == 0 && o.npos == 3 && !gc && !fmt && !pred && !o.calibrate)
        return s_names (&o);
    if (strcmp (cmd, "gradcheck") == 0 && !fmt && !pred && !o.calibrate && !o.label)
        return s_gradcheck (&o);
    return s_usage ();
}
