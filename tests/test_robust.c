/*  test_robust.c - fl_robust: reference vectors, parameter refusals, edge cases,
    selection against a sort-based reference, properties.

    The reference vectors are tests/data/robust_vectors.json (provenance in
    tests/data/robust_vectors.PROVENANCE.md), read with the minimal JSON reader
    below (test-only code: objects, arrays, numbers, strings, true/false/null).
*/
#include "fl_robust.h"
#include "fl_rng.h"
#include "fl_test.h"

#include <stdint.h>

/*  ---- minimal JSON reader (test-only) -------------------------------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct jval {
    jtype_t t;
    double num;
    char *str;
    struct jval *items;      /* array elements or object values */
    char **keys;             /* object keys */
    size_t n;
} jval_t;

typedef struct {
    const char *p, *end;
    int depth;
} jparser_t;

static void
s_jskip (jparser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static int s_jparse (jparser_t *ps, jval_t *v);

static int
s_jstring (jparser_t *ps, char **out)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return -1;
    ps->p++;
    size_t cap = 16, len = 0;
    char *s = malloc (cap);
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if (c == '\\') {
            if (ps->p >= ps->end)
                break;
            char e = *ps->p++;
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
              : e == 'f' ? '\f' : e;
            if (e == 'u') {             /* keep it simple: \uXXXX -> '?' */
                if (ps->end - ps->p < 4)
                    break;
                ps->p += 4;
                c = '?';
            }
        }
        if (len + 2 > cap)
            s = realloc (s, cap *= 2);
        s[len++] = c;
    }
    if (ps->p >= ps->end) {
        free (s);
        return -1;
    }
    ps->p++;
    s[len] = 0;
    *out = s;
    return 0;
}

static int
s_jparse (jparser_t *ps, jval_t *v)
{
    memset (v, 0, sizeof *v);
    if (++ps->depth > 64)
        return -1;
    s_jskip (ps);
    if (ps->p >= ps->end)
        return -1;
    char c = *ps->p;
    int rc = 0;
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        ps->p++;
        size_t cap = 0;
        s_jskip (ps);
        if (ps->p < ps->end && *ps->p == (obj ? '}' : ']'))
            ps->p++;
        else
            for (;;) {
                if (v->n == cap) {
                    cap = cap ? 2 * cap : 8;
                    v->items = realloc (v->items, cap * sizeof *v->items);
                    if (obj)
                        v->keys = realloc (v->keys, cap * sizeof *v->keys);
                }
                if (obj) {
                    s_jskip (ps);
                    if (s_jstring (ps, &v->keys[v->n]))
                        return -1;
                    s_jskip (ps);
                    if (ps->p >= ps->end || *ps->p++ != ':')
                        return -1;
                }
                if (s_jparse (ps, &v->items[v->n++]))
                    return -1;
                s_jskip (ps);
                if (ps->p >= ps->end)
                    return -1;
                if (*ps->p == ',') {
                    ps->p++;
                    continue;
                }
                if (*ps->p++ != (obj ? '}' : ']'))
                    return -1;
                break;
            }
    }
    else if (c == '"') {
        v->t = J_STR;
        rc = s_jstring (ps, &v->str);
    }
    else if (strncmp (ps->p, "true", 4) == 0 || strncmp (ps->p, "false", 5) == 0) {
        v->t = J_BOOL;
        v->num = c == 't';
        ps->p += c == 't' ? 4 : 5;
    }
    else if (strncmp (ps->p, "null", 4) == 0) {
        v->t = J_NULL;
        ps->p += 4;
    }
    else {
        char *e;
        v->t = J_NUM;
        v->num = strtod (ps->p, &e);
        if (e == ps->p)
            return -1;
        ps->p = e;
    }
    ps->depth--;
    return rc;
}

static void
s_jfree (jval_t *v)
{
    for (size_t i = 0; v->items && i < v->n; i++) {
        s_jfree (&v->items[i]);
        if (v->keys)
            free (v->keys[i]);
    }
    free (v->items);
    free (v->keys);
    free (v->str);
}

static const jval_t *
jget (const jval_t *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp (o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}

static double
jnum (const jval_t *o, const char *key)
{
    const jval_t *v = jget (o, key);
    return v && v->t == J_NUM ? v->num : NAN;
}

/*  Flattens a number array or an array of number arrays into a malloc'd
    buffer; *rows and *cols receive the shape. */
static double *
jmatrix (const jval_t *v, size_t *rows, size_t *cols)
{
    if (!v || v->t != J_ARR || v->n == 0)
        return NULL;
    int nested = v->items[0].t == J_ARR;
    size_t r = nested ? v->n : 1, c = nested ? v->items[0].n : v->n;
    double *m = malloc (r * c * sizeof *m);
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) {
            const jval_t *e = nested ? &v->items[i].items[j] : &v->items[j];
            m[i * c + j] = e->num;
        }
    if (rows)
        *rows = r;
    if (cols)
        *cols = c;
    return m;
}

/*  ---- helpers --------------------------------------------------------------- */

#define REL 1e-9

static void
s_check_vec (const char *what, const double *got, const jval_t *expect, size_t d, double rel)
{
    size_t r = 0, c = 0;
    double *e = jmatrix (expect, &r, &c);
    FL_CHECK (e != NULL && r * c == d);
    if (!e || r * c != d) {
        fprintf (stderr, "  (%s: missing or misshapen)\n", what);
        free (e);
        return;
    }
    for (size_t j = 0; j < d; j++) {
        double tol = 1e-12 + rel * fabs (e[j]);
        if (!(fabs (got[j] - e[j]) <= tol))
            fprintf (stderr, "  %s[%zu]: got %.17g expected %.17g\n", what, j, got[j], e[j]);
        FL_CHECK_CLOSE (got[j], e[j], 1e-12, rel);
    }
    free (e);
}

static void
s_check_indices (const char *what, const size_t *got, const jval_t *expect, size_t n)
{
    FL_CHECK (expect && expect->t == J_ARR && expect->n == n);
    if (!expect || expect->n != n)
        return;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != (size_t) expect->items[i].num)
            fprintf (stderr, "  %s[%zu]: got %zu expected %g\n", what, i, got[i],
                     expect->items[i].num);
        FL_CHECK (got[i] == (size_t) expect->items[i].num);
    }
}

static int
s_load_vectors (jval_t *root, char **text_out)
{
    FILE *fp = fopen (FL_TEST_PATH ("tests/data/robust_vectors.json"), "rb");
    FL_CHECK (fp != NULL);
    if (!fp)
        return -1;
    fseek (fp, 0, SEEK_END);
    long len = ftell (fp);
    fseek (fp, 0, SEEK_SET);
    char *text = malloc ((size_t) len + 1);
    size_t got = fread (text, 1, (size_t) len, fp);
    fclose (fp);
    text[got] = 0;
    jparser_t ps = {text, text + got, 0};
    int rc = s_jparse (&ps, root);
    FL_CHECK (rc == 0);
    *text_out = text;
    return rc;
}

/*  ---- reference vectors ------------------------------------------------------- */

static void
s_run_case (const jval_t *cs, fl_robust_work_t *work)
{
    size_t n = 0, d = 0;
    double *X = jmatrix (jget (cs, "X"), &n, &d);
    FL_CHECK (X != NULL && n == (size_t) jnum (cs, "n") && d == (size_t) jnum (cs, "d"));
    if (!X)
        return;
    size_t f = (size_t) jnum (cs, "f");
    double *out = calloc (d, sizeof *out);
    size_t *sel = calloc (n, sizeof *sel);
    if (fl_test_verbose_)
        printf ("  case seed %g: n=%zu d=%zu f=%zu\n", jnum (cs, "seed"), n, d, f);

    /* median and mean */
    FL_CHECK (fl_robust_median (X, n, d, work, out) == 0);
    s_check_vec ("median", out, jget (cs, "coordinate_median"), d, REL);
    FL_CHECK (fl_robust_mean (X, n, d, out) == 0);
    s_check_vec ("mean", out, jget (cs, "mean"), d, REL);

    /* trimmed mean by fraction and by count */
    const jval_t *tm = jget (cs, "trimmed_mean");
    double beta = jnum (tm, "beta");
    FL_CHECK ((size_t) floor (beta * (double) n) == (size_t) jnum (tm, "k_each_side"));
    FL_CHECK (fl_robust_trimmed_mean (X, n, d, beta, work, out) == 0);
    s_check_vec ("trimmed_mean", out, jget (tm, "out"), d, REL);
    const jval_t *tb = jget (cs, "trimmed_mean_b_eq_f");
    FL_CHECK (fl_robust_trimmed_mean_b (X, n, d, (size_t) jnum (tb, "b"), work, out) == 0);
    s_check_vec ("trimmed_mean_b", out, jget (tb, "out"), d, REL);

    /* Krum: scores, the selected index, the output row */
    const jval_t *kr = jget (cs, "krum");
    double *scores = calloc (n, sizeof *scores);
    FL_CHECK ((size_t) jnum (kr, "neighbours") == n - f - 2);
    FL_CHECK (fl_robust_krum_scores (X, n, d, f, work, scores) == 0);
    s_check_vec ("krum_scores", scores, jget (kr, "scores"), n, REL);
    size_t ksel = 99;
    FL_CHECK (fl_robust_krum (X, n, d, f, work, out, &ksel) == 0);
    FL_CHECK (ksel == (size_t) jnum (kr, "selected_index"));
    s_check_vec ("krum_out", out, jget (kr, "out"), d, 0);
    /* byzfl's n-f-1 neighbours are our n-(f-1)-2: same scores with f-1 */
    const jval_t *kb = jget (cs, "krum_byzfl_variant");
    if (f >= 1 && kb) {
        FL_CHECK ((size_t) jnum (kb, "neighbours") == n - f - 1);
        FL_CHECK (fl_robust_krum_scores (X, n, d, f - 1, work, scores) == 0);
        s_check_vec ("krum_byzfl_scores", scores, jget (kb, "scores"), n, REL);
        FL_CHECK (fl_robust_krum (X, n, d, f - 1, work, out, &ksel) == 0);
        FL_CHECK (ksel == (size_t) jnum (kb, "selected_index"));
    }
    free (scores);

    /* multi-Krum: indices in score order, exact; mean of those rows */
    const jval_t *mk = jget (cs, "multi_krum");
    size_t m = (size_t) jnum (mk, "m");
    FL_CHECK (fl_robust_multi_krum (X, n, d, (size_t) jnum (mk, "f"), m, work, out, sel) == 0);
    s_check_indices ("multi_krum_selected", sel, jget (mk, "selected_indices"), m);
    s_check_vec ("multi_krum_out", out, jget (mk, "out"), d, REL);

    /* geometric median, Pillutla et al. convention */
    const jval_t *gm = jget (cs, "geometric_median_weiszfeld");
    int iters = 0;
    FL_CHECK (fl_robust_geomed (X, n, d, jnum (gm, "eps"), (int) jnum (gm, "maxiter"),
                                jnum (gm, "ftol"), NULL, work, out, &iters) == 0);
    s_check_vec ("geomed", out, jget (gm, "out"), d, REL);
    double obj = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += (X[i * d + j] - out[j]) * (X[i * d + j] - out[j]);
        obj += sqrt (s);
    }
    FL_CHECK_CLOSE (obj / (double) n, jnum (gm, "objective_mean_dist"), 1e-12, REL);
    /* ftol = 1e-20 stops at the first iteration whose objective is unchanged
       in the last bit; we sum as numpy does, so the count matches exactly. */
    if (fl_test_verbose_)
        printf ("    geomed iterations: %d (reference %g)\n", iters, jnum (gm, "iterations_run"));
    FL_CHECK (iters == (int) jnum (gm, "iterations_run"));

    /* smoothed Weiszfeld, byzfl convention: z0 = 0, nu = 0.1, T = 3 */
    double *zero = calloc (d, sizeof *zero);
    FL_CHECK (fl_robust_geomed (X, n, d, 0.1, 3, 0.0, zero, work, out, &iters) == 0);
    FL_CHECK (iters == 3);
    s_check_vec ("geomed_smoothed", out, jget (cs, "geometric_median_smoothed_T3_nu0.1_z0zero"),
                 d, REL);

    /* centered clipping from v0 = 0 (both as NULL and as an explicit zero) */
    const jval_t *cc = jget (cs, "centered_clipping");
    FL_CHECK (fl_robust_cclip (X, n, d, jnum (cc, "tau"), (int) jnum (cc, "L"), NULL, work,
                               out) == 0);
    s_check_vec ("cclip", out, jget (cc, "out"), d, REL);
    FL_CHECK (fl_robust_cclip (X, n, d, jnum (cc, "tau"), (int) jnum (cc, "L"), zero, work,
                               out) == 0);
    s_check_vec ("cclip_v0", out, jget (cc, "out"), d, REL);

    /* norm bound then mean */
    const jval_t *nbd = jget (cs, "norm_bound");
    double *Y = malloc (n * d * sizeof *Y);
    FL_CHECK (fl_robust_norm_bound (X, n, d, jnum (nbd, "M"), Y) == 0);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += Y[i * d + j] * Y[i * d + j];
        FL_CHECK (sqrt (s) <= jnum (nbd, "M") * (1 + 1e-12));
    }
    FL_CHECK (fl_robust_mean (Y, n, d, out) == 0);
    s_check_vec ("norm_bound", out, jget (nbd, "out"), d, REL);

    /* Bulyan: selected rows in order and output, or a refusal when n < 4f+3 */
    const jval_t *bu = jget (cs, "bulyan");
    if (jget (bu, "skipped")) {
        FL_CHECK (n < 4 * f + 3);
        FL_CHECK (fl_robust_bulyan (X, n, d, f, work, out, sel) == -1);
    }
    else {
        size_t theta = (size_t) jnum (bu, "theta");
        FL_CHECK (theta == n - 2 * f && (size_t) jnum (bu, "beta") == theta - 2 * f);
        FL_CHECK (fl_robust_bulyan (X, n, d, f, work, out, sel) == 0);
        s_check_indices ("bulyan_selected", sel, jget (bu, "selected_indices_in_order"), theta);
        s_check_vec ("bulyan", out, jget (bu, "out"), d, REL);
    }

    /* bucketing, then median / geometric median over the bucket means */
    const jval_t *bk = jget (cs, "bucketing_s2");
    size_t s = (size_t) jnum (bk, "s"), nb = 0;
    const jval_t *pj = jget (bk, "perm");
    uint32_t *perm = malloc (n * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t) pj->items[i].num;
    double *Bm = malloc (n * d * sizeof *Bm);
    FL_CHECK (fl_robust_bucket_means (X, n, d, s, perm, Bm, &nb) == 0);
    FL_CHECK (nb == (n + s - 1) / s);
    s_check_vec ("bucket_means", Bm, jget (bk, "bucket_means"), nb * d, REL);
    FL_CHECK (fl_robust_median (Bm, nb, d, work, out) == 0);
    s_check_vec ("bucket_median", out, jget (cs, "bucketing_s2_then_median"), d, REL);
    FL_CHECK (fl_robust_geomed (Bm, nb, d, 1e-6, 100, 1e-20, NULL, work, out, NULL) == 0);
    s_check_vec ("bucket_geomed", out, jget (cs, "bucketing_s2_then_geomed_weiszfeld"), d, REL);

    /* the dispatcher reproduces the same cases */
    fl_robust_params_t p;
    fl_robust_params_defaults (&p);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_MEDIAN, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_median", out, jget (cs, "coordinate_median"), d, REL);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_MEAN, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_mean", out, jget (cs, "mean"), d, REL);
    p.beta = beta;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_TRIMMED_MEAN, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_trimmed", out, jget (tm, "out"), d, REL);
    p.beta = 0;
    p.b = (size_t) jnum (tb, "b");
    FL_CHECK (fl_robust_aggregate_work (FL_ROBUST_TRIMMED_MEAN, &p, X, n, d, NULL, work, out) == 0);
    s_check_vec ("agg_trimmed_b", out, jget (tb, "out"), d, REL);
    p.f = f;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_KRUM, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_krum", out, jget (kr, "out"), d, 0);
    p.m = m;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_MULTI_KRUM, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_multi_krum", out, jget (mk, "out"), d, REL);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_GEOMED, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_geomed", out, jget (gm, "out"), d, REL);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_CCLIP, &p, X, n, d, NULL, out) == 0);
    s_check_vec ("agg_cclip", out, jget (cc, "out"), d, REL);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_BULYAN, &p, X, n, d, NULL, out)
              == (jget (bu, "skipped") ? -1 : 0));
    if (!jget (bu, "skipped"))
        s_check_vec ("agg_bulyan", out, jget (bu, "out"), d, REL);
    fl_robust_params_defaults (&p);
    p.M = jnum (nbd, "M");
    FL_CHECK (fl_robust_aggregate_work (FL_ROBUST_MEAN, &p, X, n, d, NULL, work, out) == 0);
    s_check_vec ("agg_norm_bound", out, jget (nbd, "out"), d, REL);

    free (Bm);
    free (perm);
    free (Y);
    free (zero);
    free (sel);
    free (out);
    free (X);
}

static void
test_reference_vectors (void)
{
    jval_t root;
    char *text = NULL;
    if (s_load_vectors (&root, &text) == 0) {
        const jval_t *cases = jget (&root, "cases");
        FL_CHECK (cases && cases->t == J_ARR && cases->n == 5);
        const jval_t *conv = jget (&root, "conventions");
        /* the conventions we implement are the ones the file states */
        FL_CHECK (conv && conv->t == J_STR && strstr (conv->str, "eps=1e-6, maxiter=100"));
        FL_CHECK (conv && strstr (conv->str, "(n-f-2) smallest"));
        fl_robust_work_t *work = fl_robust_work_new ();
        for (size_t c = 0; cases && c < cases->n; c++) {
            s_run_case (&cases->items[c], work);        /* with a reused work area */
            s_run_case (&cases->items[c], NULL);        /* and with internal scratch */
        }
        fl_robust_work_destroy (&work);
    }
    s_jfree (&root);
    free (text);
}

/*  ---- refusals ---------------------------------------------------------------------- */

static void
test_parameter_errors (void)
{
    enum { B = 7, D = 3 };
    double x[B * D], out[D], y[B * D], sc[B];
    size_t sel[B];
    for (int i = 0; i < B * D; i++)
        x[i] = (double) ((i * 37) % 11) - 5.0;

    /* shape */
    FL_CHECK (fl_robust_mean (x, 0, D, out) == -1);
    FL_CHECK (fl_robust_mean (x, B, 0, out) == -1);
    FL_CHECK (fl_robust_median (x, 0, D, NULL, out) == -1);
    FL_CHECK (fl_robust_median (x, FL_ROBUST_MAX_ROWS + 1, 1, NULL, out) == -1);
    FL_CHECK (fl_robust_median (x, 2, FL_ROBUST_MAX_ELEMENTS, NULL, out) == -1);
    /* trimmed mean: beta in [0, 0.5), 2b < B */
    FL_CHECK (fl_robust_trimmed_mean (x, B, D, -0.01, NULL, out) == -1);
    FL_CHECK (fl_robust_trimmed_mean (x, B, D, 0.5, NULL, out) == -1);
    FL_CHECK (fl_robust_trimmed_mean (x, B, D, NAN, NULL, out) == -1);
    FL_CHECK (fl_robust_trimmed_mean (x, B, D, 0.49, NULL, out) == 0);   /* k = 3, 2k = 6 < 7 */
    FL_CHECK (fl_robust_trimmed_mean_b (x, B, D, 3, NULL, out) == 0);
    FL_CHECK (fl_robust_trimmed_mean_b (x, B, D, 4, NULL, out) == -1);
    FL_CHECK (fl_robust_trimmed_mean_b (x, 6, D, 3, NULL, out) == -1);
    FL_CHECK (fl_robust_trimmed_mean_b (x, B, D, SIZE_MAX, NULL, out) == -1);
    /* Krum: B >= 2f+3 */
    FL_CHECK (fl_robust_krum (x, B, D, 2, NULL, out, sel) == 0);      /* 7 = 2*2+3 */
    FL_CHECK (fl_robust_krum (x, B, D, 3, NULL, out, sel) == -1);
    FL_CHECK (fl_robust_krum (x, 2, D, 0, NULL, out, sel) == -1);
    FL_CHECK (fl_robust_krum_scores (x, B, D, 3, NULL, sc) == -1);
    FL_CHECK (fl_robust_krum (x, B, D, SIZE_MAX, NULL, out, sel) == -1);
    /* multi-Krum: 1 <= m <= B - f */
    FL_CHECK (fl_robust_multi_krum (x, B, D, 1, 0, NULL, out, sel) == -1);
    FL_CHECK (fl_robust_multi_krum (x, B, D, 1, 7, NULL, out, sel) == -1);
    FL_CHECK (fl_robust_multi_krum (x, B, D, 1, 6, NULL, out, sel) == 0);
    FL_CHECK (fl_robust_multi_krum (x, B, D, 3, 1, NULL, out, sel) == -1);
    /* Bulyan: B >= 4f+3 */
    FL_CHECK (fl_robust_bulyan (x, B, D, 1, NULL, out, sel) == 0);     /* 7 = 4+3 */
    FL_CHECK (fl_robust_bulyan (x, B, D, 2, NULL, out, sel) == -1);
    FL_CHECK (fl_robust_bulyan (x, 2, D, 0, NULL, out, sel) == -1);
    /* geometric median: nu > 0, max_iter >= 1, tol >= 0 */
    FL_CHECK (fl_robust_geomed (x, B, D, 0.0, 10, 0, NULL, NULL, out, NULL) == -1);
    FL_CHECK (fl_robust_geomed (x, B, D, -1.0, 10, 0, NULL, NULL, out, NULL) == -1);
    FL_CHECK (fl_robust_geomed (x, B, D, NAN, 10, 0, NULL, NULL, out, NULL) == -1);
    FL_CHECK (fl_robust_geomed (x, B, D, 1e-6, 0, 0, NULL, NULL, out, NULL) == -1);
    FL_CHECK (fl_robust_geomed (x, B, D, 1e-6, 10, -1e-9, NULL, NULL, out, NULL) == -1);
    FL_CHECK (fl_robust_geomed (x, B, D, 1e-6, 10, INFINITY, NULL, NULL, out, NULL) == -1);
    /* centered clipping: tau > 0, L >= 1 */
    FL_CHECK (fl_robust_cclip (x, B, D, 0.0, 1, NULL, NULL, out) == -1);
    FL_CHECK (fl_robust_cclip (x, B, D, INFINITY, 1, NULL, NULL, out) == -1);
    FL_CHECK (fl_robust_cclip (x, B, D, 1.0, 0, NULL, NULL, out) == -1);
    /* norm bound: M > 0 */
    FL_CHECK (fl_robust_norm_bound (x, B, D, 0.0, y) == -1);
    FL_CHECK (fl_robust_norm_bound (x, B, D, -2.0, y) == -1);
    FL_CHECK (fl_robust_norm_bound (x, B, D, NAN, y) == -1);
    /* bucketing: s >= 1, perm a permutation */
    uint32_t perm[B] = {0, 1, 2, 3, 4, 5, 6};
    size_t nb;
    FL_CHECK (fl_robust_bucket_means (x, B, D, 0, perm, y, &nb) == -1);
    perm[3] = 2;
    FL_CHECK (fl_robust_bucket_means (x, B, D, 2, perm, y, &nb) == -1);
    perm[3] = 7;
    FL_CHECK (fl_robust_bucket_means (x, B, D, 2, perm, y, &nb) == -1);
    perm[3] = 3;
    FL_CHECK (fl_robust_bucket_means (x, B, D, 2, perm, y, &nb) == 0 && nb == 4);

    /* dispatcher */
    fl_robust_params_t p;
    fl_robust_params_defaults (&p);
    p.beta = 0.2;
    p.b = 1;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_TRIMMED_MEAN, &p, x, B, D, NULL, out) == -1);
    fl_robust_params_defaults (&p);
    p.M = -1;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_MEAN, &p, x, B, D, NULL, out) == -1);
    fl_robust_params_defaults (&p);
    p.f = 3;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_KRUM, &p, x, B, D, NULL, out) == -1);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_MULTI_KRUM, &p, x, B, D, NULL, out) == -1);
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_BULYAN, &p, x, B, D, NULL, out) == -1);
    p.f = 100;      /* m = 0 -> B - f must not underflow */
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_MULTI_KRUM, &p, x, B, D, NULL, out) == -1);
    fl_robust_params_defaults (&p);
    p.tau = 0;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_CCLIP, &p, x, B, D, NULL, out) == -1);
    p.tau = 1;
    p.max_iter = 0;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_GEOMED, &p, x, B, D, NULL, out) == -1);
    FL_CHECK (fl_robust_aggregate ((fl_robust_kind_t) 99, &p, x, B, D, NULL, out) == -1);

    /* names */
    fl_robust_kind_t k = FL_ROBUST_MEAN;
    FL_CHECK (fl_robust_kind_parse ("nonsense", &k) == -1);
    FL_CHECK (fl_robust_kind_parse (NULL, &k) == -1);
    FL_CHECK (fl_robust_kind_parse ("multi-krum", &k) == 0 && k == FL_ROBUST_MULTI_KRUM);
    for (int i = FL_ROBUST_MEAN; i <= FL_ROBUST_BULYAN; i++) {
        FL_CHECK (fl_robust_kind_parse (fl_robust_kind_name ((fl_robust_kind_t) i), &k) == 0);
        FL_CHECK ((int) k == i);
    }
    FL_CHECK (strcmp (fl_robust_kind_name ((fl_robust_kind_t) 99), "unknown") == 0);
}

static void
test_nonfinite_rejected (void)
{
    enum { B = 7, D = 3 };
    double x[B * D], out[D], y[B * D], sc[B];
    size_t sel[B], nb;
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int v = 0; v < 3; v++) {
        for (int i = 0; i < B * D; i++)
            x[i] = (double) i;
        x[4 * D + 2] = bad[v];
        FL_CHECK (fl_robust_mean (x, B, D, out) == -1);
        FL_CHECK (fl_robust_median (x, B, D, NULL, out) == -1);
        FL_CHECK (fl_robust_trimmed_mean (x, B, D, 0.2, NULL, out) == -1);
        FL_CHECK (fl_robust_trimmed_mean_b (x, B, D, 1, NULL, out) == -1);
        FL_CHECK (fl_robust_krum_scores (x, B, D, 1, NULL, sc) == -1);
        FL_CHECK (fl_robust_krum (x, B, D, 1, NULL, out, sel) == -1);
        FL_CHECK (fl_robust_multi_krum (x, B, D, 1, 3, NULL, out, sel) == -1);
        FL_CHECK (fl_robust_geomed (x, B, D, 1e-6, 10, 0, NULL, NULL, out, NULL) == -1);
        FL_CHECK (fl_robust_cclip (x, B, D, 1, 1, NULL, NULL, out) == -1);
        FL_CHECK (fl_robust_bulyan (x, B, D, 1, NULL, out, sel) == -1);
        FL_CHECK (fl_robust_norm_bound (x, B, D, 1, y) == -1);
        FL_CHECK (fl_robust_bucket_means (x, B, D, 2, NULL, y, &nb) == -1);
        fl_robust_params_t p;
        fl_robust_params_defaults (&p);
        p.M = 1;
        FL_CHECK (fl_robust_aggregate (FL_ROBUST_MEDIAN, &p, x, B, D, NULL, out) == -1);
        /* non-finite starting points */
        x[4 * D + 2] = 0;
        double v0[D] = {0, bad[v], 0};
        FL_CHECK (fl_robust_cclip (x, B, D, 1, 1, v0, NULL, out) == -1);
        FL_CHECK (fl_robust_geomed (x, B, D, 1e-6, 10, 0, v0, NULL, out, NULL) == -1);
        fl_robust_params_defaults (&p);
        FL_CHECK (fl_robust_aggregate (FL_ROBUST_CCLIP, &p, x, B, D, v0, out) == -1);
    }
    /* huge but finite values are fine and the median midpoint does not overflow */
    double h[2] = {1.5e308, 1.7e308};
    FL_CHECK (fl_robust_median (h, 2, 1, NULL, out) == 0);
    FL_CHECK (isfinite (out[0]) && out[0] == 1.6e308);
}

/*  ---- edge cases ----------------------------------------------------------------------- */

static void
test_edge_cases (void)
{
    double out[4];
    size_t sel[16];
    int iters;
    /* B = 1: every rule that accepts one row returns it */
    double one[4] = {1.5, -2.0, 0.0, 3.25};
    FL_CHECK (fl_robust_mean (one, 1, 4, out) == 0 && memcmp (out, one, sizeof one) == 0);
    FL_CHECK (fl_robust_median (one, 1, 4, NULL, out) == 0 && memcmp (out, one, sizeof one) == 0);
    FL_CHECK (fl_robust_trimmed_mean (one, 1, 4, 0.4, NULL, out) == 0
              && memcmp (out, one, sizeof one) == 0);
    FL_CHECK (fl_robust_geomed (one, 1, 4, 1e-6, 100, 1e-20, NULL, NULL, out, &iters) == 0);
    for (int j = 0; j < 4; j++)
        FL_CHECK (out[j] == one[j]);
    FL_CHECK (fl_robust_cclip (one, 1, 4, 100.0, 1, NULL, NULL, out) == 0);
    for (int j = 0; j < 4; j++)
        FL_CHECK_CLOSE (out[j], one[j], 1e-15, 0);
    FL_CHECK (fl_robust_krum (one, 1, 4, 0, NULL, out, sel) == -1);    /* needs B >= 3 */

    /* d = 1 */
    double col[5] = {3, -1, 7, 2, 100};
    FL_CHECK (fl_robust_median (col, 5, 1, NULL, out) == 0 && out[0] == 3);
    FL_CHECK (fl_robust_trimmed_mean_b (col, 5, 1, 1, NULL, out) == 0);
    FL_CHECK_CLOSE (out[0], 4.0, 1e-15, 0);
    FL_CHECK (fl_robust_krum (col, 5, 1, 1, NULL, out, sel) == 0 && sel[0] == 3);
    FL_CHECK (fl_robust_bulyan (col, 5, 1, 0, NULL, out, sel) == 0);
    FL_CHECK_CLOSE (out[0], 22.2, 1e-12, 0);                            /* f = 0: the mean */

    /* all-equal rows: every rule returns that row, Krum and friends pick index 0 */
    enum { B = 11, D = 4 };
    double eq[B * D];
    for (int i = 0; i < B; i++)
        for (int j = 0; j < D; j++)
            eq[i * D + j] = 0.1 * (j + 1);
    FL_CHECK (fl_robust_median (eq, B, D, NULL, out) == 0);
    for (int j = 0; j < D; j++)
        FL_CHECK (out[j] == eq[j]);
    FL_CHECK (fl_robust_trimmed_mean_b (eq, B, D, 5, NULL, out) == 0);
    for (int j = 0; j < D; j++)
        FL_CHECK (out[j] == eq[j]);
    FL_CHECK (fl_robust_krum (eq, B, D, 2, NULL, out, sel) == 0 && sel[0] == 0);
    FL_CHECK (fl_robust_multi_krum (eq, B, D, 2, 5, NULL, out, sel) == 0);
    for (size_t t = 0; t < 5; t++)
        FL_CHECK (sel[t] == t);                         /* ties: lowest index first */
    FL_CHECK (fl_robust_bulyan (eq, B, D, 2, NULL, out, sel) == 0);
    for (size_t t = 0; t < B - 4; t++)
        FL_CHECK (sel[t] == t);
    for (int j = 0; j < D; j++)
        FL_CHECK_CLOSE (out[j], eq[j], 1e-15, 0);
    FL_CHECK (fl_robust_geomed (eq, B, D, 1e-6, 100, 1e-20, NULL, NULL, out, NULL) == 0);
    for (int j = 0; j < D; j++)
        FL_CHECK_CLOSE (out[j], eq[j], 1e-15, 0);
    /* from 0 at distance 0.548 it moves by tau = 0.01 per step, then lands */
    FL_CHECK (fl_robust_cclip (eq, B, D, 0.01, 60, NULL, NULL, out) == 0);
    for (int j = 0; j < D; j++)
        FL_CHECK_CLOSE (out[j], eq[j], 1e-12, 0);

    /* ties in the trimmed mean: {1,1,1,5,5,9,9} trim 2 -> {1,5,5} */
    double ties[7] = {9, 1, 5, 1, 9, 5, 1};
    FL_CHECK (fl_robust_trimmed_mean_b (ties, 7, 1, 2, NULL, out) == 0);
    FL_CHECK_CLOSE (out[0], 11.0 / 3.0, 1e-15, 0);
    /* even B median with ties */
    double ev[6] = {4, 2, 2, 4, 4, 2};
    FL_CHECK (fl_robust_median (ev, 6, 1, NULL, out) == 0 && out[0] == 3.0);

    /* bucketing without perm and with a last incomplete bucket */
    double rows[5] = {1, 2, 3, 4, 10};
    double bm[3];
    size_t nb = 0;
    FL_CHECK (fl_robust_bucket_means (rows, 5, 1, 2, NULL, bm, &nb) == 0 && nb == 3);
    FL_CHECK (bm[0] == 1.5 && bm[1] == 3.5 && bm[2] == 10);
    FL_CHECK (fl_robust_bucket_means (rows, 5, 1, 5, NULL, bm, &nb) == 0 && nb == 1);
    FL_CHECK_CLOSE (bm[0], 4.0, 1e-15, 0);
    FL_CHECK (fl_robust_bucket_means (rows, 5, 1, 9, NULL, bm, &nb) == 0 && nb == 1);

    /* norm bound in place; zero rows stay zero */
    double nbx[6] = {3, 4, 0, 0, 0.3, 0.4};
    FL_CHECK (fl_robust_norm_bound (nbx, 3, 2, 1.0, nbx) == 0);
    FL_CHECK_CLOSE (nbx[0], 0.6, 1e-15, 0);
    FL_CHECK_CLOSE (nbx[1], 0.8, 1e-15, 0);
    FL_CHECK (nbx[2] == 0 && nbx[3] == 0 && nbx[4] == 0.3 && nbx[5] == 0.4);

    /* centered clipping starts from prev through the dispatcher */
    double cx[4] = {10, 10, 12, 10};      /* B = 2, d = 2 */
    double prev[2] = {10, 10};
    fl_robust_params_t p;
    fl_robust_params_defaults (&p);
    p.tau = 1;
    p.L = 1;
    FL_CHECK (fl_robust_aggregate (FL_ROBUST_CCLIP, &p, cx, 2, 2, prev, out) == 0);
    FL_CHECK_CLOSE (out[0], 10.5, 1e-15, 0);       /* (0 + 1)/2 step from prev */
    FL_CHECK_CLOSE (out[1], 10.0, 1e-15, 0);
}

/*  ---- selection against sorting ------------------------------------------------------------- */

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static void
test_select_vs_sort (void)
{
    enum { NMAX = 300 };
    double a[NMAX], s[NMAX];
    int bad = 0;
    for (uint64_t seed = 0; seed < 400; seed++) {
        fl_rng_t *r = fl_rng_new_u64 (seed, 0x5e1ec7);
        size_t n = 1 + fl_rng_uniform (r, NMAX);
        int pattern = (int) (seed % 6);
        for (size_t i = 0; i < n; i++) {
            switch (pattern) {
            case 0: a[i] = fl_rng_normal (r); break;
            case 1: a[i] = (double) fl_rng_uniform (r, 4); break;          /* heavy ties */
            case 2: a[i] = (double) i; break;                              /* sorted */
            case 3: a[i] = (double) (n - i); break;                        /* reversed */
            case 4: a[i] = (double) (i < n / 2 ? i : n - i); break;        /* organ pipe */
            default: a[i] = 7.0; break;                                    /* all equal */
            }
        }
        memcpy (s, a, n * sizeof (double));
        qsort (s, n, sizeof (double), s_cmp);
        for (int rep = 0; rep < 4; rep++) {
            size_t k = rep == 0 ? 0 : rep == 1 ? n - 1 : fl_rng_uniform (r, n);
            double t[NMAX];
            memcpy (t, a, n * sizeof (double));
            double v = fl_robust_select (t, n, k);
            if (v != s[k] || t[k] != s[k])
                bad++;
            for (size_t i = 0; i < n; i++)     /* partition property */
                if ((i < k && t[i] > t[k]) || (i > k && t[i] < t[k]))
                    bad++;
            qsort (t, n, sizeof (double), s_cmp);       /* still a permutation */
            if (memcmp (t, s, n * sizeof (double)) != 0)
                bad++;
        }
        fl_rng_destroy (&r);
    }
    FL_CHECK (bad == 0);
}

/*  Median and trimmed mean of random matrices with ties, against per-column sort. */
static void
test_columnwise_vs_sort (void)
{
    int bad = 0;
    fl_robust_work_t *work = fl_robust_work_new ();
    for (uint64_t seed = 0; seed < 60; seed++) {
        fl_rng_t *r = fl_rng_new_u64 (seed, 0xc01);
        size_t B = 1 + fl_rng_uniform (r, 120), d = 1 + fl_rng_uniform (r, 70);
        int ties = seed % 2;
        double *x = malloc (B * d * sizeof *x), *o1 = malloc (d * sizeof *o1),
               *o2 = malloc (d * sizeof *o2), *c = malloc (B * sizeof *c);
        for (size_t i = 0; i < B * d; i++)
            x[i] = ties ? (double) fl_rng_uniform (r, 5) : fl_rng_normal (r);
        size_t k = fl_rng_uniform (r, (B + 1) / 2);     /* 2k < B */
        FL_CHECK (fl_robust_median (x, B, d, work, o1) == 0);
        FL_CHECK (fl_robust_trimmed_mean_b (x, B, d, k, work, o2) == 0);
        for (size_t j = 0; j < d; j++) {
            for (size_t i = 0; i < B; i++)
                c[i] = x[i * d + j];
            qsort (c, B, sizeof *c, s_cmp);
            double med = B % 2 ? c[B / 2] : (c[B / 2 - 1] + c[B / 2]) / 2;
            double s = 0;
            for (size_t i = k; i < B - k; i++)
                s += c[i];
            s /= (double) (B - 2 * k);
            if (o1[j] != med)
                bad++;
            if (fabs (o2[j] - s) > 1e-12 * (1 + fabs (s)))
                bad++;
        }
        free (x);
        free (o1);
        free (o2);
        free (c);
        fl_rng_destroy (&r);
    }
    FL_CHECK (bad == 0);
    FL_CHECK (fl_robust_work_bytes (work) > 0);
    fl_robust_work_destroy (&work);
    FL_CHECK (work == NULL);
    fl_robust_work_destroy (&work);
}

/*  ---- properties ------------------------------------------------------------------------------ */

static void
test_properties (void)
{
    enum { B = 23, D = 37 };
    fl_rng_t *r = fl_rng_new_u64 (7, 1);
    double x[B * D], xp[B * D], o1[D], o2[D];
    uint32_t perm[B];
    for (size_t i = 0; i < B * D; i++)
        x[i] = fl_rng_normal (r);
    for (uint32_t i = 0; i < B; i++)
        perm[i] = i;
    fl_rng_shuffle_u32 (r, perm, B);
    for (size_t i = 0; i < B; i++)
        memcpy (xp + i * D, x + (size_t) perm[i] * D, D * sizeof (double));

    /* order statistics do not depend on row order (bit for bit) */
    FL_CHECK (fl_robust_median (x, B, D, NULL, o1) == 0);
    FL_CHECK (fl_robust_median (xp, B, D, NULL, o2) == 0);
    FL_CHECK (memcmp (o1, o2, sizeof o1) == 0);
    /* Krum picks the same row whichever order it arrives in */
    size_t s1, s2;
    FL_CHECK (fl_robust_krum (x, B, D, 5, NULL, o1, &s1) == 0);
    FL_CHECK (fl_robust_krum (xp, B, D, 5, NULL, o2, &s2) == 0);
    FL_CHECK (perm[s2] == s1 && memcmp (o1, o2, sizeof o1) == 0);

    /* robustness: 5 of 23 rows replaced by a huge outlier barely move the
       median, trimmed mean, Krum, geomed, Bulyan; they move the mean a lot. */
    double clean[D], xa[B * D];
    FL_CHECK (fl_robust_median (x, B, D, NULL, clean) == 0);
    memcpy (xa, x, sizeof x);
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < D; j++)
            xa[i * D + j] = 1e6;
    double dev_mean = 0, dev_med = 0, dev_tm = 0, dev_geo = 0, dev_bul = 0;
    FL_CHECK (fl_robust_mean (xa, B, D, o1) == 0);
    for (size_t j = 0; j < D; j++)
        dev_mean = fmax (dev_mean, fabs (o1[j] - clean[j]));
    FL_CHECK (fl_robust_median (xa, B, D, NULL, o1) == 0);
    for (size_t j = 0; j < D; j++)
        dev_med = fmax (dev_med, fabs (o1[j] - clean[j]));
    FL_CHECK (fl_robust_trimmed_mean_b (xa, B, D, 5, NULL, o1) == 0);
    for (size_t j = 0; j < D; j++)
        dev_tm = fmax (dev_tm, fabs (o1[j] - clean[j]));
    FL_CHECK (fl_robust_geomed (xa, B, D, 1e-6, 100, 1e-20, NULL, NULL, o1, NULL) == 0);
    for (size_t j = 0; j < D; j++)
        dev_geo = fmax (dev_geo, fabs (o1[j] - clean[j]));
    size_t sel[B];
    FL_CHECK (fl_robust_bulyan (xa, B, D, 5, NULL, o1, sel) == 0);
    for (size_t j = 0; j < D; j++)
        dev_bul = fmax (dev_bul, fabs (o1[j] - clean[j]));
    /* Krum's guarantee holds while the remaining set has >= 2f+3 rows, so the
       first B-2f-2 picks are honest; later picks may be the 5 colluding
       copies (score 0 once n'-f-2 <= 4), which the median phase discards. */
    for (size_t t = 0; t < B - 12; t++)
        FL_CHECK (sel[t] >= 5);
    FL_CHECK (fl_robust_multi_krum (xa, B, D, 5, B - 5, NULL, o1, sel) == 0);
    for (size_t t = 0; t < B - 5; t++)
        FL_CHECK (sel[t] >= 5);
    FL_CHECK (dev_mean > 1e5);
    FL_CHECK (dev_med < 2 && dev_tm < 2 && dev_geo < 2 && dev_bul < 2);

    /* geomed: translation equivariance */
    double xt[B * D];
    for (size_t i = 0; i < B * D; i++)
        xt[i] = x[i] + 3.0;
    FL_CHECK (fl_robust_geomed (x, B, D, 1e-6, 100, 1e-20, NULL, NULL, o1, NULL) == 0);
    FL_CHECK (fl_robust_geomed (xt, B, D, 1e-6, 100, 1e-20, NULL, NULL, o2, NULL) == 0);
    for (size_t j = 0; j < D; j++)
        FL_CHECK_CLOSE (o2[j], o1[j] + 3.0, 1e-9, 0);
    /* cclip with a huge tau and L = 1 from zero is the mean */
    FL_CHECK (fl_robust_cclip (x, B, D, 1e12, 1, NULL, NULL, o1) == 0);
    FL_CHECK (fl_robust_mean (x, B, D, o2) == 0);
    for (size_t j = 0; j < D; j++)
        FL_CHECK_CLOSE (o1[j], o2[j], 1e-14, 0);
    fl_rng_destroy (&r);
}

/*  Krum scores of a wide matrix (several d tiles) against a naive O(B^2 d) loop. */
static void
test_krum_tiled (void)
{
    enum { B = 40, D = 9000 };
    fl_rng_t *r = fl_rng_new_u64 (11, 2);
    double *x = malloc ((size_t) B * D * sizeof *x), sc[B], ref[B], dist[B];
    for (size_t i = 0; i < (size_t) B * D; i++)
        x[i] = fl_rng_normal (r);
    const size_t f = 7, nb = B - f - 2;
    FL_CHECK (fl_robust_krum_scores (x, B, D, f, NULL, sc) == 0);
    for (size_t i = 0; i < B; i++) {
        size_t c = 0;
        for (size_t k = 0; k < B; k++) {
            if (k == i)
                continue;
            double s = 0;
            for (size_t j = 0; j < D; j++)
                s += (x[i * D + j] - x[k * D + j]) * (x[i * D + j] - x[k * D + j]);
            dist[c++] = s;
        }
        qsort (dist, c, sizeof (double), s_cmp);
        ref[i] = 0;
        for (size_t t = 0; t < nb; t++)
            ref[i] += dist[t];
        FL_CHECK_CLOSE (sc[i], ref[i], 0, 1e-12);
    }
    free (x);
    fl_rng_destroy (&r);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_reference_vectors);
    FL_RUN (test_parameter_errors);
    FL_RUN (test_nonfinite_rejected);
    FL_RUN (test_edge_cases);
    FL_RUN (test_select_vs_sort);
    FL_RUN (test_columnwise_vs_sort);
    FL_RUN (test_properties);
    FL_RUN (test_krum_tiled);
    FL_TEST_DONE ();
}
