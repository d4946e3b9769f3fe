/*  fl_export.c - JSON, int8 and ONNX export (see fl_export.h). */
#include "fl_export.h"

#include "fl_atomic.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_predict.h"
#include "fl_score.h"

/*  A JSON string literal (names are printable, but escape all the same). */
static void
s_jstr (FILE *f, const char *s)
{
    if (!s) {
        fputs ("null", f);
        return;
    }
    fputc ('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf (f, "\\u%04x", *p);
        else
            fputc (*p, f);
    }
    fputc ('"', f);
}

static void
s_jfloats (FILE *f, const float *v, size_t n)
{
    fputc ('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf (f, "%s%.9g", i ? ", " : "", (double) v[i]);
    fputc (']', f);
}

static void
s_jnames (FILE *f, char *const *v, size_t n)
{
    if (!n) {
        fputs ("null", f);
        return;
    }
    fputc ('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs (i ? ", " : "", f);
        s_jstr (f, v[i]);
    }
    fputc (']', f);
}

static int
s_builtin (const fl_model_t *m)
{
    return strcmp (fl_model_name (m), "logreg") == 0 || strcmp (fl_model_name (m), "mlp") == 0;
}

int
fl_export_json_stream (const char *model_path, const char *plugin, FILE *f, char *why, size_t cap)
{
    fl_model_t *m = NULL;
    float *mean = NULL, *std = NULL;
    fl_modelfile_names_t names;
    memset (&names, 0, sizeof names);
    if (fl_modelfile_load_plugin (model_path, plugin, &m, &mean, &std) != 0
        || fl_modelfile_load_names (model_path, &names) != 0) {
        snprintf (why, cap, "cannot load the model file %s (see the line above)", model_path);
        fl_model_destroy (&m);
        free (mean);
        free (std);
        return -1;
    }
    const fl_model_config_t *cfg = fl_model_config (m);
    size_t d = fl_model_num_inputs (m), k_out = fl_model_num_outputs (m);
    fprintf (f, "{\n  \"format\": \"libfl-model-json\",\n  \"version\": 1,\n  \"model\": ");
    s_jstr (f, fl_model_name (m));
    fprintf (f, ",\n  \"architecture\": \"%s\",\n  \"hidden\": [", s_builtin (m) ? "dense" : "plugin");
    for (size_t l = 0; l < cfg->n_hidden; l++)
        fprintf (f, "%s%zu", l ? ", " : "", cfg->hidden[l]);
    fprintf (f, "],\n  \"inputs\": %zu,\n  \"classes\": %zu,\n  \"outputs\": %zu,\n  \"qat\": %u,\n",
             d, fl_model_num_classes (m), k_out, (unsigned) cfg->qat);
    fprintf (f, "  \"hidden_activation\": \"relu\",\n  \"output_activation\": \"%s\",\n",
             k_out == 1 ? "sigmoid" : "softmax");
    fputs ("  \"feature_names\": ", f);
    s_jnames (f, names.features, names.n_features);
    fputs (",\n  \"label\": ", f);
    s_jstr (f, names.label);
    fputs (",\n  \"class_names\": ", f);
    s_jnames (f, names.classes, names.n_classes);
    fputs (",\n  \"standardisation\": ", f);
    if (mean) {
        fputs ("{\n    \"mean\": ", f);
        s_jfloats (f, mean, d);
        fputs (",\n    \"std\": ", f);
        s_jfloats (f, std, d);
        fputs ("\n  }", f);
    }
    else
        fputs ("null", f);
    fputs (",\n  \"tensors\": [", f);
    const float *p = fl_model_params (m);
    for (size_t i = 0; i < fl_model_num_views (m); i++) {
        fl_model_view_t v;
        if (fl_model_view (m, i, &v) != 0)
            continue;
        fprintf (f, "%s\n    {\"name\": ", i ? "," : "");
        s_jstr (f, v.name);
        /* A bias is a (out, 1) view: written with its ONNX shape (out). */
        if (v.cols == 1 && strstr (v.name, "bias"))
            fprintf (f, ", \"shape\": [%zu], \"data\": ", v.rows);
        else
            fprintf (f, ", \"shape\": [%zu, %zu], \"data\": ", v.rows, v.cols);
        s_jfloats (f, p + v.offset, v.rows * v.cols);
        fputc ('}', f);
    }
    fputs ("\n  ]\n}\n", f);
    fl_modelfile_names_clear (&names);
    fl_model_destroy (&m);
    free (mean);
    free (std);
    if (ferror (f)) {
        snprintf (why, cap, "write error: %s", strerror (errno));
        return -1;
    }
    return 0;
}

typedef struct {
    const char *model_path, *plugin;
    char *why;
    size_t cap;
} s_json_job_t;

static int
s_json_fill (FILE *f, void *arg)
{
    s_json_job_t *j = (s_json_job_t *) arg;
    return fl_export_json_stream (j->model_path, j->plugin, f, j->why, j->cap);
}

int
fl_export_json (const char *model_path, const char *plugin, const char *out_path, char *why, size_t cap)
{
    s_json_job_t job = {model_path, plugin, why, cap};
    int rc = fl_atomic_write_stream (out_path, 0666, s_json_fill, &job);
    if (rc == -2)
        snprintf (why, cap, "cannot write %s: %s", out_path, strerror (errno));
    return rc == 0 ? 0 : -1;
}

int
fl_export_int8 (const char *model_path, const char *plugin, const char *calib_csv, const char *out_path, char *why,
                size_t cap)
{
    fl_score_rows_t r;
    memset (&r, 0, sizeof r);
    float *z = NULL, *logits = NULL;
    int rc = -1;
    if (!calib_csv) {
        float *mean = NULL, *std = NULL;
        if (fl_modelfile_load_plugin (model_path, plugin, &r.model, &mean, &std) != 0)
            snprintf (why, cap, "cannot load the model file %s (see the line above)", model_path);
        else if (!fl_model_config (r.model)->qat && s_builtin (r.model))
            snprintf (why, cap, "%s holds a float model: the int8 export needs a model trained with QAT", model_path);
        else if (s_builtin (r.model))
            snprintf (why, cap, "the int8 export needs calibration rows: activation ranges are a member's local "
                      "state, not kept in the model file");
        else if (fl_model_export (r.model, out_path) != 0)
            snprintf (why, cap, "the %s model could not be exported as int8 (see the line above)",
                      fl_model_name (r.model));
        else
            rc = 0;
        free (mean);
        free (std);
        fl_model_destroy (&r.model);
        return rc;
    }
    if (fl_score_rows_load (model_path, plugin, calib_csv, false, &r, why, cap) != 0)
        return -1;
    size_t d = fl_model_num_inputs (r.model), n = r.n < FL_PREDICT_CHUNK ? r.n : FL_PREDICT_CHUNK;
    if (!fl_model_config (r.model)->qat && s_builtin (r.model)) {
        snprintf (why, cap, "%s holds a float model: the int8 export needs a model trained with QAT", model_path);
        goto done;
    }
    if (n == 0) {
        snprintf (why, cap, "%s has no rows to calibrate with", calib_csv);
        goto done;
    }
    /* One forward pass over the first rows sets the activation ranges
       (fl_qat: a freshly loaded model's first forward is its calibration). */
    z = (float *) malloc (n * d * sizeof (float));
    logits = (float *) malloc (n * fl_model_num_outputs (r.model) * sizeof (float));
    if (!z || !logits) {
        snprintf (why, cap, "no memory");
        goto done;
    }
    for (size_t i = 0; i < n * d; i++)
        z[i] = r.standardised || !r.mean ? r.x[i] : (r.x[i] - r.mean[i % d]) / r.std[i % d];
    if (fl_model_forward (r.model, z, n, logits) != 0 || fl_model_export (r.model, out_path) != 0) {
        snprintf (why, cap, "the %s model could not be exported as int8 (see the line above)", fl_model_name (r.model));
        goto done;
    }
    rc = 0;
done:
    free (z);
    free (logits);
    fl_score_rows_clear (&r);
    return rc;
}

int
fl_export_onnx (const char *model_path, const char *plugin, const char *script, const char *out_path,
                char *why, size_t cap)
{
    if (plugin && plugin[0]) {
        snprintf (why, cap, "a plugin model is not exportable to ONNX: its forward pass is code in the plugin, "
                  "which no file format can carry (the JSON export writes its tensors)");
        return -1;
    }
    if (!script) {
        snprintf (why, cap, "the ONNX writer fl-onnx-export.py was not found next to the program, in "
                  "<prefix>/share/libfl or in the source tree (FL_ONNX_EXPORT names it)");
        return -1;
    }
    if (access (script, R_OK) != 0) {
        snprintf (why, cap, "the ONNX writer fl-onnx-export.py was not found at %s", script);
        return -1;
    }
    const char *dir = getenv ("TMPDIR");
    char json[4096];
    snprintf (json, sizeof json, "%s/fl-onnx-XXXXXX.json", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemps (json, 5);
    if (fd < 0) {
        snprintf (why, cap, "cannot create a temporary file %s: %s", json, strerror (errno));
        return -1;
    }
    FILE *f = fdopen (fd, "w");
    int rc = f ? fl_export_json_stream (model_path, NULL, f, why, cap) : -1;
    if (f)
        fclose (f);
    else
        close (fd);
    if (rc != 0) {
        unlink (json);
        return -1;
    }
    /* The Debian interpreter first: python3-onnx installs into its
       dist-packages, and a python3 earlier on PATH (a virtualenv, pyenv)
       may not see it.  FL_PYTHON overrides. */
    const char *py = getenv ("FL_PYTHON");
    if (!py || !py[0])
        py = access ("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    pid_t pid = fork ();
    if (pid == 0) {
        execlp (py, py, script, json, out_path, (char *) NULL);
        fprintf (stderr, "fl_export: cannot run %s (Debian package python3): %s\n", py, strerror (errno));
        _exit (127);
    }
    int status = 0;
    rc = -1;
    if (pid < 0)
        snprintf (why, cap, "cannot start python3: %s", strerror (errno));
    else if (waitpid (pid, &status, 0) < 0)
        snprintf (why, cap, "waiting for python3: %s", strerror (errno));
    else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        snprintf (why, cap, "%s failed (exit %d; see the lines above)", script,
                  WIFEXITED (status) ? WEXITSTATUS (status) : -1);
    else
        rc = 0;
    unlink (json);
    return rc;
}
