/*  fl_predict.c - scoring and gradient checks (see fl_predict.h). */
#include "fl_predict.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fl_rng.h"

int
fl_predict_scores (fl_model_t *model, const float *mean, const float *std, const float *x, size_t n, float *out)
{
    assert (model && (x || n == 0) && (out || n == 0) && (!mean) == (!std));
    size_t d = fl_model_num_inputs (model), k = fl_model_num_outputs (model);
    if (n == 0)
        return 0;
    if (!mean)
        return fl_model_predict (model, x, n, out);
    for (size_t j = 0; j < d; j++)
        if (!isfinite (mean[j]) || !isfinite (std[j]) || !(std[j] > 0.0f)) {
            zsys_error ("fl_predict: feature %zu: mean %g, std %g invalid", j, (double) mean[j], (double) std[j]);
            return -1;
        }
    size_t chunk = n < FL_PREDICT_CHUNK ? n : FL_PREDICT_CHUNK;
    float *z = (float *) malloc (chunk * d * sizeof (float));
    if (!z) {
        zsys_error ("fl_predict: no memory for %zu x %zu inputs", chunk, d);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        const float *xi = x + i * d;
        for (size_t r = 0; r < m; r++) {
            const float *a = xi + r * d;
            float *b = z + r * d;
            for (size_t j = 0; j < d; j++)
                b[j] = (a[j] - mean[j]) / std[j];
        }
        rc = fl_model_predict (model, z, m, out + i * k);
    }
    free (z);
    return rc;
}

void
fl_predict_classes (const float *scores, size_t n, size_t n_out, float threshold, int32_t *cls)
{
    assert ((scores && cls) || n == 0);
    for (size_t i = 0; i < n; i++) {
        const float *p = scores + i * n_out;
        if (n_out == 1) {
            cls[i] = p[0] >= threshold ? 1 : 0;
            continue;
        }
        size_t best = 0;
        for (size_t c = 1; c < n_out; c++)
            if (p[c] > p[best])
                best = c;
        cls[i] = (int32_t) best;
    }
}

/*  Best relative disagreement over the steps between the backward's
    gradient ana of parameter p and central differences of the loss on
    (x, y); *num gets that step's estimate.  -1 if a forward failed. */
static int
s_fd (fl_model_t *model, const float *x, const int32_t *y, size_t n, size_t p, double ana, double *rel_out,
      double *num_out)
{
    float *w = fl_model_params (model);
    float saved = w[p];
    /* Several steps: the largest is robust to float32 rounding of the loss,
       the smaller ones to kinks (a ReLU input crossing 0 within the step);
       the best agreement counts. */
    double rel = INFINITY, num = 0;
    for (int s = 0; s < FL_GRADCHECK_STEPS; s++) {
        double lp = 0, lm = 0, step = FL_GRADCHECK_EPS * pow (10.0, -0.5 * s);
        float hi = saved + (float) step, lo = saved - (float) step;
        w[p] = hi;
        int e1 = fl_model_loss_grad (model, x, y, n, NULL, &lp);
        w[p] = lo;
        int e2 = fl_model_loss_grad (model, x, y, n, NULL, &lm);
        w[p] = saved;
        if (e1 != 0 || e2 != 0) {
            zsys_error ("fl_gradcheck (%s): forward/backward failed", fl_model_name (model));
            return -1;
        }
        double est = (lp - lm) / ((double) hi - (double) lo);     /* the step actually taken, in float32 */
        double r = fabs (ana - est) / fmax (fmax (fabs (ana), fabs (est)), FL_GRADCHECK_FLOOR);
        if (!isfinite (r))
            r = INFINITY;
        if (s == 0 || r < rel) {
            rel = r;
            num = est;
        }
    }
    *rel_out = rel;
    *num_out = num;
    return 0;
}

/*  n rows of N(0, 1) inputs and uniform labels. */
static void
s_draw (fl_rng_t *rng, float *x, int32_t *y, size_t n, size_t d, size_t k)
{
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float) fl_rng_normal (rng);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t) fl_rng_uniform (rng, k);
}

int
fl_gradcheck (fl_model_t *model, size_t n, uint64_t seed, size_t max_params, fl_gradcheck_result_t *out)
{
    assert (model && out);
    memset (out, 0, sizeof *out);
    size_t d = fl_model_num_inputs (model), k = fl_model_num_classes (model), np = fl_model_num_params (model);
    if (n == 0) {
        zsys_error ("fl_gradcheck: no rows");
        return -1;
    }
    float *x = (float *) malloc (2 * n * d * sizeof (float)), *x2 = x ? x + n * d : NULL;
    int32_t *y = (int32_t *) malloc (2 * n * sizeof (int32_t)), *y2 = y ? y + n : NULL;
    float *g = (float *) malloc (2 * np * sizeof (float)), *g2 = g ? g + np : NULL;
    fl_rng_t *rng = fl_rng_new_u64 (seed, 0x6772616463686bull);   /* "gradchk" */
    int rc = -1, have_g2 = 0;
    if (!x || !y || !g || !rng) {
        zsys_error ("fl_gradcheck: no memory");
        goto done;
    }
    s_draw (rng, x, y, n, d, k);
    s_draw (rng, x2, y2, n, d, k);
    if (fl_model_loss_grad (model, x, y, n, NULL, &out->loss) != 0) {
        zsys_error ("fl_gradcheck (%s): forward/backward failed", fl_model_name (model));
        goto done;
    }
    memcpy (g, fl_model_grads (model), np * sizeof (float));
    if (!isfinite (out->loss)) {
        zsys_error ("fl_gradcheck (%s): the loss is not finite", fl_model_name (model));
        goto done;
    }
    size_t count = max_params == 0 || max_params >= np ? np : max_params;
    for (size_t t = 0; t < count; t++) {
        size_t p = count == np ? t : (size_t) ((double) t * (double) np / (double) count);
        double rel, num, ana = g[p];
        if (s_fd (model, x, y, n, p, ana, &rel, &num) != 0)
            goto done;
        if (rel > FL_GRADCHECK_TOL) {
            /* A kink can sit within every step at one point; it is most
               unlikely to at a second, independent one, while a wrong
               backward disagrees at any point: the better point counts. */
            double loss2, rel2, num2;
            if (!have_g2) {
                if (fl_model_loss_grad (model, x2, y2, n, NULL, &loss2) != 0) {
                    zsys_error ("fl_gradcheck (%s): forward/backward failed", fl_model_name (model));
                    goto done;
                }
                memcpy (g2, fl_model_grads (model), np * sizeof (float));
                have_g2 = 1;
            }
            if (s_fd (model, x2, y2, n, p, g2[p], &rel2, &num2) != 0)
                goto done;
            if (rel2 < rel) {
                rel = rel2;
                num = num2;
                ana = g2[p];
            }
        }
        if (t == 0 || rel > out->max_rel_error) {
            out->max_rel_error = rel;
            out->worst_param = p;
            out->worst_analytic = ana;
            out->worst_numeric = num;
        }
        out->checked++;
    }
    /* Leave the gradient block as backward left it at the first point. */
    memcpy (fl_model_grads (model), g, np * sizeof (float));
    rc = out->max_rel_error <= FL_GRADCHECK_TOL ? 0 : 1;
done:
    fl_rng_destroy (&rng);
    free (x);
    free (y);
    free (g);
    return rc;
}
