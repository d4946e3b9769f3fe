/*  test_predict.c - scoring new rows (learn/fl_predict, io/fl_score), the
    names a model file keeps (proto/fl_modelfile format 2) and the gradient
    check.  Scores are checked against a logistic regression and a softmax
    regression computed by hand here; the gradient check must pass on the
    built-in models and fail on a model whose backward is deliberately
    wrong. */
#include <math.h>
#include <unistd.h>

#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_predict.h"
#include "fl_score.h"
#include "fl_table.h"
#include "fl_test.h"
#include "fl_wire.h"

/* A logreg of 2 inputs with known weights: logit = 0.5 z0 - 1.0 z1 + 0.25. */
static fl_model_t *
s_logreg (size_t d, size_t k)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = d;
    mc.n_classes = k;
    mc.seed = 1;
    return fl_model_new ("logreg", &mc);
}

static void
test_scores_match_hand_computed_logreg (void)
{
    fl_model_t *m = s_logreg (2, 2);
    FL_CHECK (m && fl_model_num_params (m) == 3);
    fl_model_view_t w, b;
    FL_CHECK (fl_model_view (m, 0, &w) == 0 && fl_model_view (m, 1, &b) == 0);
    fl_model_params (m)[w.offset] = 0.5f;
    fl_model_params (m)[w.offset + 1] = -1.0f;
    fl_model_params (m)[b.offset] = 0.25f;
    const float mean[2] = {10, -2}, std[2] = {2, 4};
    const float x[3 * 2] = {10, -2, 14, 2, 6, -10};
    float out[3];
    FL_CHECK (fl_predict_scores (m, mean, std, x, 3, out) == 0);
    for (size_t i = 0; i < 3; i++) {
        double z0 = (x[2 * i] - 10.0) / 2.0, z1 = (x[2 * i + 1] + 2.0) / 4.0;
        double p = 1.0 / (1.0 + exp (-(0.5 * z0 - 1.0 * z1 + 0.25)));
        FL_CHECK_CLOSE (out[i], p, 1e-6, 0);
    }
    /* row 0 is the mean: sigmoid (0.25) */
    FL_CHECK_CLOSE (out[0], 0.5621765008857981, 1e-6, 0);
    /* raw rows (no standardisation) */
    FL_CHECK (fl_predict_scores (m, NULL, NULL, x, 1, out) == 0);
    FL_CHECK_CLOSE (out[0], 1.0 / (1.0 + exp (-(5.0 + 2.0 + 0.25))), 1e-6, 0);
    /* an invalid std is refused */
    const float bad_std[2] = {0, 1};
    FL_CHECK (fl_predict_scores (m, mean, bad_std, x, 1, out) == -1);
    int32_t cls[3];
    float sc[3] = {0.2f, 0.5f, 0.9f};
    fl_predict_classes (sc, 3, 1, 0.5f, cls);
    FL_CHECK (cls[0] == 0 && cls[1] == 1 && cls[2] == 1);
    fl_predict_classes (sc, 3, 1, 0.95f, cls);
    FL_CHECK (cls[0] == 0 && cls[1] == 0 && cls[2] == 0);
    fl_model_destroy (&m);
}

static void
test_scores_softmax_and_many_rows (void)
{
    /* 3 classes: logits W z + b, W (3, 2), by hand. */
    fl_model_t *m = s_logreg (2, 3);
    FL_CHECK (m && fl_model_num_outputs (m) == 3);
    const float W[6] = {1, 0, 0, 1, -1, -1}, bias[3] = {0, 0.5f, 0};
    memcpy (fl_model_params (m), W, sizeof W);
    memcpy (fl_model_params (m) + 6, bias, sizeof bias);
    /* More rows than one chunk, so the chunking is exercised. */
    size_t n = FL_PREDICT_CHUNK * 2 + 7;
    float *x = (float *) malloc (n * 2 * sizeof (float)), *out = (float *) malloc (n * 3 * sizeof (float));
    for (size_t i = 0; i < n * 2; i++)
        x[i] = (float) ((i * 37) % 11) - 5.0f;
    const float mean[2] = {1, 1}, std[2] = {2, 2};
    FL_CHECK (fl_predict_scores (m, mean, std, x, n, out) == 0);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double z0 = (x[2 * i] - 1.0) / 2, z1 = (x[2 * i + 1] - 1.0) / 2;
        double l[3] = {z0, z1 + 0.5, -z0 - z1}, mx = fmax (l[0], fmax (l[1], l[2])), s = 0;
        for (int c = 0; c < 3; c++)
            s += exp (l[c] - mx);
        for (int c = 0; c < 3; c++)
            worst = fmax (worst, fabs (out[3 * i + c] - exp (l[c] - mx) / s));
    }
    FL_CHECK (worst < 1e-6);
    int32_t cls[2];
    const float p[6] = {0.2f, 0.5f, 0.3f, 0.4f, 0.4f, 0.2f};
    fl_predict_classes (p, 2, 3, 0.5f, cls);
    FL_CHECK (cls[0] == 1 && cls[1] == 0);      /* argmax; first maximum on ties */
    free (x);
    free (out);
    fl_model_destroy (&m);
}

/* --- the gradient check -------------------------------------------------- */

/* A logreg whose backward doubles the bias gradient: a plugin author's bug. */
static int
s_broken_backward (void *state, const float *x, size_t n, const float *dlogits)
{
    int rc = fl_logreg_ops.backward (state, x, n, dlogits);
    float *g = fl_logreg_ops.grads (state);
    size_t np = fl_logreg_ops.num_params (state);
    g[np - 1] *= 2.0f;
    return rc;
}

static void
test_gradcheck (void)
{
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = 6;
    mc.n_classes = 2;
    mc.seed = 5;
    fl_gradcheck_result_t r;
    fl_model_t *m = fl_model_new ("logreg", &mc);
    FL_CHECK (fl_gradcheck (m, 16, 1, 0, &r) == 0);
    FL_CHECK (r.checked == 7 && r.max_rel_error < 1e-3 && isfinite (r.loss));
    fl_model_destroy (&m);

    FL_CHECK (fl_model_parse_hidden ("12,6", &mc) == 0);
    mc.n_classes = 4;
    m = fl_model_new ("mlp", &mc);
    float before = fl_model_params (m)[3];
    FL_CHECK (fl_gradcheck (m, 16, 2, 0, &r) == 0);
    FL_CHECK (r.checked == fl_model_num_params (m) && r.max_rel_error <= FL_GRADCHECK_TOL);
    FL_CHECK (fl_model_params (m)[3] == before);        /* parameters restored */
    /* a subset of the parameters */
    FL_CHECK (fl_gradcheck (m, 16, 2, 20, &r) == 0 && r.checked == 20);
    FL_CHECK (fl_gradcheck (m, 0, 2, 20, &r) == -1);
    fl_model_destroy (&m);

    fl_model_ops_t broken = fl_logreg_ops;
    broken.name = "broken";
    broken.backward = s_broken_backward;
    mc.n_hidden = 0;
    mc.n_classes = 2;
    m = fl_model_new_from_ops (&broken, &mc);
    FL_CHECK (m != NULL);
    FL_CHECK (fl_gradcheck (m, 16, 1, 0, &r) == 1);
    FL_CHECK (r.worst_param == fl_model_num_params (m) - 1);     /* the bias */
    FL_CHECK (r.max_rel_error > 0.3 && fabs (r.worst_analytic - 2 * r.worst_numeric) < 1e-3 + 0.05 * fabs (r.worst_analytic));
    fl_model_destroy (&m);
}

/* --- names in the model file ------------------------------------------------ */

static void
test_names_in_model_file (void)
{
    char dir[200], path[300], old[300];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-predict") != NULL);
    snprintf (path, sizeof path, "%s/m.flm", dir);
    snprintf (old, sizeof old, "%s/old.flm", dir);
    fl_model_t *m = s_logreg (3, 2);
    const float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
    FL_CHECK (fl_modelfile_save (path, m, "", mean, std, NULL, 3) == 0);
    fl_modelfile_names_t names;
    FL_CHECK (fl_modelfile_load_names (path, &names) == 0);
    FL_CHECK (names.format == FL_MODELFILE_FORMAT && names.n_features == 0 && !names.label && names.n_classes == 0);

    char *f[3] = {"age", "income", "debt"}, *c[2] = {"good", "bad"};
    fl_modelfile_names_t in = {0, f, 3, "class", c, 2};
    FL_CHECK (fl_modelfile_attach_names (path, &in) == 0);
    FL_CHECK (fl_modelfile_load_names (path, &names) == 0);
    FL_CHECK (names.n_features == 3 && strcmp (names.features[1], "income") == 0);
    FL_CHECK (names.label && strcmp (names.label, "class") == 0);
    FL_CHECK (names.n_classes == 2 && strcmp (names.classes[0], "good") == 0);
    fl_modelfile_names_clear (&names);
    fl_modelfile_names_clear (&names);      /* safe twice */
    /* The model still loads, parameters intact. */
    fl_model_t *back = NULL;
    float *bm = NULL, *bs = NULL;
    FL_CHECK (fl_modelfile_load (path, &back, &bm, &bs) == 0 && back && bm);
    FL_CHECK (back && memcmp (fl_model_params (back), fl_model_params (m), 4 * sizeof (float)) == 0);
    fl_model_destroy (&back);
    free (bm);
    free (bs);

    /* Refused: wrong count, duplicates, the label also a feature, a control character. */
    char *dup[3] = {"age", "age", "debt"}, *ctl[3] = {"age", "in\ncome", "debt"};
    fl_modelfile_names_t bad1 = {0, f, 2, NULL, NULL, 0}, bad2 = {0, dup, 3, NULL, NULL, 0},
                         bad3 = {0, f, 3, "debt", NULL, 0}, bad4 = {0, ctl, 3, NULL, NULL, 0},
                         bad5 = {0, f, 3, NULL, f, 3};
    FL_CHECK (fl_modelfile_attach_names (path, &bad1) == -1);
    FL_CHECK (fl_modelfile_attach_names (path, &bad2) == -1);
    FL_CHECK (fl_modelfile_attach_names (path, &bad3) == -1);
    FL_CHECK (fl_modelfile_attach_names (path, &bad4) == -1);
    FL_CHECK (fl_modelfile_attach_names (path, &bad5) == -1);
    FL_CHECK (fl_modelfile_load_names (path, &names) == 0 && names.n_features == 3);   /* unchanged */
    fl_modelfile_names_clear (&names);

    /* A format-1 file (no "format" key, as written before names were kept):
       loads, names unknown. */
    static const uint8_t zero[FL_WIRE_RUNIDBYTES];
    uint8_t fp[32];
    fl_model_fingerprint (m, fp);
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_MODEL, zero, 1);
    fl_wire_put_str (w, FL_K_MODEL, "logreg");
    fl_wire_put_str (w, FL_K_HIDDEN, "");
    fl_wire_put_u64 (w, FL_K_FEATURES, 3);
    fl_wire_put_u64 (w, FL_K_CLASSES, 2);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_f32s (w, FL_K_PARAMS, fl_model_params (m), 4);
    uint8_t *buf = NULL;
    size_t len = 0;
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == 0);
    FILE *fo = fopen (old, "wb");
    FL_CHECK (fo && fwrite (buf, 1, len, fo) == len);
    fclose (fo);
    free (buf);
    FL_CHECK (fl_modelfile_load_names (old, &names) == 0);
    FL_CHECK (names.format == 1 && names.n_features == 0 && !names.label);
    FL_CHECK (fl_modelfile_load (old, &back, &bm, &bs) == 0 && back && !bm);
    fl_model_destroy (&back);
    /* A built-in model is not loaded through a plugin that is not there. */
    FL_CHECK (fl_modelfile_load_plugin (path, "/nonexistent/plugin.so", &back, &bm, &bs) == -1 && !back);
    unlink (path);
    unlink (old);
    rmdir (dir);
    fl_model_destroy (&m);
}

/* --- matching a CSV's columns ------------------------------------------------ */

static fl_table_t *
s_table (const char *text)
{
    fl_csv_error_t err;
    return fl_table_parse_csv (text, strlen (text), NULL, "t.csv", &err);
}

static void
test_match_columns (void)
{
    char *f[3] = {"age", "income", "debt"};
    fl_modelfile_names_t names = {2, f, 3, "class", NULL, 0};
    fl_score_map_t map;
    char why[512];
    /* Any order; the label recognised. */
    fl_table_t *t = s_table ("debt,class,age,income\n1,0,2,3\n4,1,5,6\n");
    FL_CHECK (fl_score_match (t, &names, 3, &map, why, sizeof why) == 0);
    FL_CHECK (map.column[0] == 2 && map.column[1] == 3 && map.column[2] == 0 && map.label_column == 1);
    float *x = NULL;
    int32_t *y = NULL;
    fl_csv_error_t err;
    FL_CHECK (fl_score_read (t, &map, &names, 2, &x, &y, &err) == 0);
    FL_CHECK (x && x[0] == 2 && x[1] == 3 && x[2] == 1 && x[3] == 5 && y && y[0] == 0 && y[1] == 1);
    free (x);
    free (y);
    fl_score_map_clear (&map);
    fl_table_destroy (&t);

    /* Missing and extra columns are named. */
    t = s_table ("age,income_,debt,notes\n1,2,3,4\n");
    FL_CHECK (fl_score_match (t, &names, 3, &map, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "missing column(s): 'income'") != NULL);
    FL_CHECK (strstr (why, "extra column(s): 'income_', 'notes'") != NULL);
    FL_CHECK (map.column == NULL);
    fl_table_destroy (&t);

    /* A field that is not a number is refused with its line and column. */
    t = s_table ("age,income,debt\n1,2,3\n4,abc,6\n");
    FL_CHECK (fl_score_match (t, &names, 3, &map, why, sizeof why) == 0 && map.label_column == -1);
    FL_CHECK (fl_score_read (t, &map, &names, 2, &x, NULL, &err) == -1 && x == NULL);
    FL_CHECK (strstr (err.message, "t.csv:3:2:") != NULL && strstr (err.message, "'abc'") != NULL);
    fl_score_map_clear (&map);
    fl_table_destroy (&t);

    /* Labels by class name; one that is no class is refused. */
    char *c[2] = {"good", "bad"};
    fl_modelfile_names_t named = {2, f, 3, "class", c, 2};
    t = s_table ("age,income,debt,class\n1,2,3,bad\n4,5,6,good\n7,8,9,ugly\n");
    FL_CHECK (fl_score_match (t, &named, 3, &map, why, sizeof why) == 0);
    FL_CHECK (fl_score_read (t, &map, &named, 2, &x, &y, &err) == -1);
    FL_CHECK (strstr (err.message, "'ugly'") != NULL);
    fl_score_map_clear (&map);
    fl_table_destroy (&t);
    t = s_table ("age,income,debt,class\n1,2,3,bad\n4,5,6,good\n");
    FL_CHECK (fl_score_match (t, &named, 3, &map, why, sizeof why) == 0);
    FL_CHECK (fl_score_read (t, &map, &named, 2, &x, &y, &err) == 0 && y[0] == 1 && y[1] == 0);
    free (x);
    free (y);
    fl_score_map_clear (&map);
    fl_table_destroy (&t);

    /* A format-1 model (no names): the columns in order, the label last if one more. */
    fl_modelfile_names_t none = {1, NULL, 0, NULL, NULL, 0};
    t = s_table ("a,b,c,y\n1,2,3,1\n");
    FL_CHECK (fl_score_match (t, &none, 3, &map, why, sizeof why) == 0);
    FL_CHECK (map.column[2] == 2 && map.label_column == 3);
    fl_score_map_clear (&map);
    FL_CHECK (fl_score_match (t, &none, 2, &map, why, sizeof why) == -1 && strstr (why, "no feature names"));
    fl_table_destroy (&t);
}

static void
test_write_csv (void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    const float s[2] = {0.25f, 0.75f};
    const char *names[2] = {"good", "b,ad"};
    FL_CHECK (fl_score_write (f, s, 2, 1, names, 2, 0.5f) == 0);
    fclose (f);
    FL_CHECK (buf && strcmp (buf, "row,score,class\n1,0.25,good\n2,0.75,\"b,ad\"\n") == 0);
    free (buf);
    f = open_memstream (&buf, &len);
    const float p[3] = {0.5f, 0.25f, 0.25f};
    FL_CHECK (fl_score_write (f, p, 1, 3, NULL, 0, 0.5f) == 0);
    fclose (f);
    FL_CHECK (buf && strcmp (buf, "row,p_0,p_1,p_2,class\n1,0.5,0.25,0.25,0\n") == 0);
    free (buf);
}

/* The fast reader of fl_score_rows_load against the general path (fl_table
   + fl_score_read, strtof): the same numbers from the same files, and the
   general path's errors for what the fast one does not take. */
static void
s_write_file (const char *path, const char *text)
{
    FILE *f = fopen (path, "wb");
    FL_CHECK (f && fwrite (text, 1, strlen (text), f) == strlen (text));
    if (f)
        fclose (f);
}

static void
s_compare_paths (const char *model, const char *csv, size_t d, const char *what)
{
    fl_score_rows_t r;
    char why[512];
    FL_CHECK (fl_score_rows_load (model, NULL, csv, true, &r, why, sizeof why) == 0);
    fl_csv_error_t err;
    fl_table_t *t = fl_table_load_csv (csv, NULL, &err);
    fl_score_map_t map;
    float *x = NULL;
    int32_t *y = NULL;
    FL_CHECK (t && fl_score_match (t, &r.names, d, &map, why, sizeof why) == 0);
    FL_CHECK (t && fl_score_read (t, &map, &r.names, 2, &x, &y, &err) == 0);
    FL_CHECK (t && r.n == fl_table_rows (t) && x && y && r.y);
    size_t off = 0;
    for (size_t i = 0; x && r.x && i < r.n * d; i++)
        if (memcmp (&x[i], &r.x[i], sizeof (float)) != 0) {
            /* Clinger's path then float: at most 1 ulp from strtof, in halfway cases */
            float a = x[i], b = r.x[i];
            if (nextafterf (a, b) != b)
                off++;
        }
    if (off)
        fprintf (stderr, "%s: %zu values more than 1 ulp from strtof\n", what, off);
    FL_CHECK (off == 0);
    FL_CHECK (y && r.y && memcmp (y, r.y, r.n * sizeof (int32_t)) == 0);
    free (x);
    free (y);
    fl_score_map_clear (&map);
    fl_table_destroy (&t);
    fl_score_rows_clear (&r);
}

static void
test_fast_reader_matches_general_path (void)
{
    char dir[200], model[300], csv[300];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-predict-fast") != NULL);
    snprintf (model, sizeof model, "%s/m.flm", dir);
    snprintf (csv, sizeof csv, "%s/rows.csv", dir);
    fl_model_t *m = s_logreg (3, 2);
    const float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
    char *f[3] = {"a", "b", "c"}, *c[2] = {"no", "yes"};
    fl_modelfile_names_t names = {0, f, 3, "y", c, 2};
    FL_CHECK (fl_modelfile_save (model, m, "", mean, std, NULL, 1) == 0);
    FL_CHECK (fl_modelfile_attach_names (model, &names) == 0);
    /* Spaces, quotes, exponents, signs, long mantissas, CRLF, blank lines at the end. */
    s_write_file (csv, "\xef\xbb\xbf" "c,y,a,b\r\n1,0,2,3\r\n -1.5e-3 , \"yes\" ,3e10,\"2.25\"\r\n"
                       "0.000123456789012345678,no,1e-30,-0\r\n\"7\",1,  8  ,9.\r\n.5,yes,-.25,+4\r\n"
                       "123456789012345678901234,0,1e38,-3.4e-38\r\n\r\n\r\n");
    s_compare_paths (model, csv, 3, "forms");
    /* Forms only the general path takes (hex): same result through it. */
    s_write_file (csv, "a,b,c,y\n0x10,2,3,1\n4,5,6,0\n");
    s_compare_paths (model, csv, 3, "hex");
    /* Random values written as %.9g (float round trip), %.6g and %.3e. */
    FILE *fo = fopen (csv, "w");
    FL_CHECK (fo != NULL);
    fprintf (fo, "a,b,c,y\n");
    uint64_t st = 88172645463325252ull;
    for (int i = 0; fo && i < 3000; i++) {
        double v[3];
        for (int j = 0; j < 3; j++) {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            v[j] = ((double) (st >> 11) / 9007199254740992.0 - 0.5) * pow (10.0, (double) (int) (st % 13) - 6);
        }
        fprintf (fo, "%.9g,%.6g,%.3e,%d\n", (double) (float) v[0], v[1], v[2], i & 1);
    }
    if (fo)
        fclose (fo);
    s_compare_paths (model, csv, 3, "random");
    /* Errors come from the general path, located. */
    s_write_file (csv, "a,b,c,y\n1,2,3,1\n4,five,6,0\n");
    fl_score_rows_t r;
    char why[512];
    FL_CHECK (fl_score_rows_load (model, NULL, csv, false, &r, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "rows.csv:3:2: column 'b': 'five' is not a finite number") != NULL);
    s_write_file (csv, "a,b,c,y\n1,2,3,1\n\n4,5,6,0\n");     /* a blank line before data */
    FL_CHECK (fl_score_rows_load (model, NULL, csv, false, &r, why, sizeof why) == -1);
    s_write_file (csv, "a,b,c,y\n1,2,3,maybe\n");
    FL_CHECK (fl_score_rows_load (model, NULL, csv, true, &r, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "'maybe' is not one of the model's 2 classes") != NULL);
    s_write_file (csv, "a,b,y\n1,2,1\n");
    FL_CHECK (fl_score_rows_load (model, NULL, csv, false, &r, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "missing column(s): 'c'") != NULL);
    s_write_file (csv, "a,b,c,y\n");
    FL_CHECK (fl_score_rows_load (model, NULL, csv, false, &r, why, sizeof why) == -1);
    FL_CHECK (r.model == NULL && r.x == NULL);
    /* fl_score_run streams FL_PREDICT_CHUNK rows at a time: a row the fast
       reader does not take, after the first chunk, still ends in the
       general path's answer, and nothing is written on an error. */
    char out[300];
    snprintf (out, sizeof out, "%s/scores.csv", dir);
    for (int variant = 0; variant < 2; variant++) {
        fo = fopen (csv, "w");
        FL_CHECK (fo != NULL);
        fprintf (fo, "a,b,c,y\n");
        for (int i = 0; fo && i < 5000; i++)
            fprintf (fo, "%d,%d.5,-%d,%d\n", i % 7, i % 3, i % 5, i & 1);
        if (fo) {
            fprintf (fo, variant ? "0x10,1,2,1\n" : "1,2,bad,1\n");
            fclose (fo);
        }
        fl_score_config_t cfg = { model, NULL, csv, out, 0.5f, true };
        fl_score_summary_t sum;
        int rc = fl_score_run (&cfg, &sum, why, sizeof why);
        if (variant == 0) {
            FL_CHECK (rc == -1 && strstr (why, "rows.csv:5002:3: column 'c': 'bad'") != NULL);
            FL_CHECK (access (out, F_OK) != 0);
        }
        else {
            FL_CHECK (rc == 0 && sum.rows == 5001 && sum.has_metrics);
            fl_csv_error_t terr;
            fl_table_t *t = fl_table_load_csv (out, NULL, &terr);
            FL_CHECK (t && fl_table_rows (t) == 5001 && strcmp (fl_table_cell (t, 5000, 0), "5001") == 0);
            fl_table_destroy (&t);
            unlink (out);
        }
    }
    /* Names from a member CSV's header (fl-model names). */
    fl_modelfile_names_t got;
    s_write_file (csv, "x,y,a,b\n");                      /* the header alone */
    FL_CHECK (fl_score_names_from_csv (csv, NULL, 3, 2, &got, why, sizeof why) == 0);
    FL_CHECK (got.n_features == 3 && strcmp (got.features[0], "x") == 0 && strcmp (got.features[2], "a") == 0);
    FL_CHECK (got.label && strcmp (got.label, "b") == 0 && got.n_classes == 2 && strcmp (got.classes[1], "1") == 0);
    fl_modelfile_names_clear (&got);
    s_write_file (csv, "x,y,a,b\n1,2,3,4\n5,6,7,8\n");
    FL_CHECK (fl_score_names_from_csv (csv, "y", 3, 2, &got, why, sizeof why) == 0);
    FL_CHECK (got.n_features == 3 && strcmp (got.features[1], "a") == 0 && strcmp (got.label, "y") == 0);
    fl_modelfile_names_clear (&got);
    FL_CHECK (fl_score_names_from_csv (csv, "z", 3, 2, &got, why, sizeof why) == -1 && strstr (why, "no label column 'z'"));
    FL_CHECK (fl_score_names_from_csv (csv, NULL, 4, 2, &got, why, sizeof why) == -1 && got.features == NULL);
    s_write_file (csv, "x,x,a,b\n");
    FL_CHECK (fl_score_names_from_csv (csv, NULL, 3, 2, &got, why, sizeof why) == -1);   /* duplicate header */
    unlink (csv);
    unlink (model);
    rmdir (dir);
    fl_model_destroy (&m);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_scores_match_hand_computed_logreg);
    FL_RUN (test_scores_softmax_and_many_rows);
    FL_RUN (test_gradcheck);
    FL_RUN (test_names_in_model_file);
    FL_RUN (test_match_columns);
    FL_RUN (test_write_csv);
    FL_RUN (test_fast_reader_matches_general_path);
    FL_TEST_DONE ();
}
