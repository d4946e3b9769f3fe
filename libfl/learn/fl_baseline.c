/*  fl_baseline - converged baselines: L-BFGS for logistic regression, early
    stopping for everything else, and exact metrics.  See fl_baseline.h for
    the objective, the algorithms and their sources.
*/
#include "fl_baseline.h"
#include "fl_rng.h"

#include <cblas.h>
#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
fl_baseline_lbfgs_default (fl_baseline_lbfgs_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->l2 = FL_BASELINE_L2_DEFAULT;
    cfg->max_iter = 2000;
    cfg->history = 10;
    cfg->gtol = 1e-7;
    cfg->ftol = 1e-13;
}

void
fl_baseline_early_stop_default (fl_baseline_early_stop_t *cfg)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->val_fraction = 0.1;
    cfg->max_epochs = 500;
    cfg->patience = 20;
}

/* The problem L-BFGS sees: theta = [W (k, d) row-major, b (k)], k outputs. */
typedef struct {
    const double *x;     /* (n, d) */
    const int32_t *y;    /* (n) */
    size_t n, d, k;      /* k = 1 binary (sigmoid), else softmax over k */
    double l2;
    double *z;           /* (n, k) scratch: logits, then dloss/dlogits */
    const float *cw;     /* class weights (classes) or NULL: example i's loss times cw[y_i] */
} s_problem_t;

/* f(theta) and grad (same layout).  Returns f (NAN if non-finite). */
static double
s_objective (s_problem_t *p, const double *theta, double *grad)
{
    const size_t n = p->n, d = p->d, k = p->k;
    const double *w = theta, *b = theta + k * d;
    double *z = p->z;
    /* Z = X W^T + 1 b^T */
    cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, (int) k, (int) d, 1.0, p->x, (int) d, w,
                 (int) d, 0.0, z, (int) k);
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        double *zi = z + i * k;
        for (size_t c = 0; c < k; c++)
            zi[c] += b[c];
        if (k == 1) {
            /* softplus(z) - y z, stably; dloss/dz = sigmoid(z) - y */
            double t = zi[0];
            loss += (p->cw ? (double) p->cw[p->y[i]] : 1.0) * ((t > 0 ? t : 0) + log1p (exp (-fabs (t)))
                                                                 - (p->y[i] ? t : 0));
            double s = t >= 0 ? 1 / (1 + exp (-t)) : exp (t) / (1 + exp (t));
            zi[0] = s - (p->y[i] ? 1 : 0);
        }
        else {
            double mx = zi[0];
            for (size_t c = 1; c < k; c++)
                if (zi[c] > mx)
                    mx = zi[c];
            double sum = 0;
            for (size_t c = 0; c < k; c++)
                sum += exp (zi[c] - mx);
            loss += (p->cw ? (double) p->cw[p->y[i]] : 1.0) * (mx + log (sum) - zi[p->y[i]]);
            for (size_t c = 0; c < k; c++)
                zi[c] = exp (zi[c] - mx) / sum - (c == (size_t) p->y[i] ? 1 : 0);
        }
    }
    if (p->cw)                            /* weighted loss: scale each example's loss and residual */
        for (size_t i = 0; i < n; i++) {
            double wi = (double) p->cw[p->y[i]];
            for (size_t c = 0; c < k; c++)
                z[i * k + c] *= wi;
        }
    loss /= (double) n;
    /* grad W = R^T X / n + l2 W;  grad b = column sums of R / n */
    cblas_dgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (int) k, (int) d, (int) n, 1.0 / (double) n, z, (int) k,
                 p->x, (int) d, 0.0, grad, (int) d);
    double pen = 0;
    for (size_t j = 0; j < k * d; j++) {
        pen += w[j] * w[j];
        grad[j] += p->l2 * w[j];
    }
    for (size_t c = 0; c < k; c++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += z[i * k + c];
        grad[k * d + c] = s / (double) n;
    }
    double f = loss + 0.5 * p->l2 * pen;
    return isfinite (f) ? f : NAN;
}

static double
s_inf_norm (const double *v, size_t m)
{
    double r = 0;
    for (size_t j = 0; j < m; j++)
        if (fabs (v[j]) > r)
            r = fabs (v[j]);
    return r;
}

/* L-BFGS on p from theta = 0; theta (m) receives the solution. */
static int
s_lbfgs (s_problem_t *p, const fl_baseline_lbfgs_t *cfg, double *theta, size_t m, fl_baseline_report_t *rep)
{
    const size_t h = (size_t) cfg->history;
    double *buf = (double *) calloc ((2 * h + 4) * m + 2 * h, sizeof (double));
    if (!buf) {
        zsys_error ("fl_baseline: no memory for L-BFGS (%zu parameters)", m);
        return -1;
    }
    double *S = buf, *Y = S + h * m, *g = Y + h * m, *gn = g + m, *dir = gn + m, *tn = dir + m;
    double *rho = tn + m, *alpha = rho + h;
    size_t stored = 0, head = 0;           /* ring buffer of (s, y) pairs, newest at head - 1 */
    memset (theta, 0, m * sizeof (double));
    double f = s_objective (p, theta, g);
    int it = 0, rc = 0;
    const char *stop = "iteration cap";
    if (isnan (f)) {
        zsys_error ("fl_baseline: the objective is not finite at zero");
        free (buf);
        return -1;
    }
    while (1) {
        if (s_inf_norm (g, m) <= cfg->gtol) {
            stop = "gradient";
            break;
        }
        if (it >= cfg->max_iter)
            break;
        /* two-loop recursion (N&W Algorithm 7.4): dir = -H g */
        memcpy (dir, g, m * sizeof (double));
        for (size_t q = 0; q < stored; q++) {
            size_t i = (head + h - 1 - q) % h;
            alpha[i] = rho[i] * cblas_ddot ((int) m, S + i * m, 1, dir, 1);
            cblas_daxpy ((int) m, -alpha[i], Y + i * m, 1, dir, 1);
        }
        double gamma = 1;
        if (stored) {
            size_t i = (head + h - 1) % h;
            gamma = cblas_ddot ((int) m, S + i * m, 1, Y + i * m, 1) / cblas_ddot ((int) m, Y + i * m, 1, Y + i * m, 1);
        }
        else
            gamma = 1 / fmax (1, s_inf_norm (g, m));    /* first step: no longer than 1 in any coordinate */
        cblas_dscal ((int) m, gamma, dir, 1);
        for (size_t q = stored; q-- > 0;) {
            size_t i = (head + h - 1 - q) % h;
            double beta = rho[i] * cblas_ddot ((int) m, Y + i * m, 1, dir, 1);
            cblas_daxpy ((int) m, alpha[i] - beta, S + i * m, 1, dir, 1);
        }
        cblas_dscal ((int) m, -1, dir, 1);
        double slope = cblas_ddot ((int) m, g, 1, dir, 1);
        if (!(slope < 0)) {                /* not a descent direction (rounding): restart from -g */
            for (size_t j = 0; j < m; j++)
                dir[j] = -g[j];
            slope = -cblas_ddot ((int) m, g, 1, g, 1);
            stored = 0;
        }
        /* backtracking Armijo line search (N&W Algorithm 3.1) */
        double step = 1, fn = NAN;
        int ok = 0;
        for (int ls = 0; ls < 60; ls++) {
            for (size_t j = 0; j < m; j++)
                tn[j] = theta[j] + step * dir[j];
            fn = s_objective (p, tn, gn);
            if (!isnan (fn) && fn <= f + 1e-4 * step * slope) {
                ok = 1;
                break;
            }
            step *= 0.5;
        }
        it++;
        if (!ok) {
            stop = "line search";
            break;
        }
        /* the new pair s = theta_new - theta, y = g_new - g */
        double *s = S + head * m, *yv = Y + head * m;
        for (size_t j = 0; j < m; j++) {
            s[j] = tn[j] - theta[j];
            yv[j] = gn[j] - g[j];
        }
        double sy = cblas_ddot ((int) m, s, 1, yv, 1), ss = cblas_ddot ((int) m, s, 1, s, 1);
        if (sy > 1e-16 * ss && sy > 0) {
            rho[head] = 1 / sy;
            head = (head + 1) % h;
            if (stored < h)
                stored++;
        }
        memcpy (theta, tn, m * sizeof (double));
        memcpy (g, gn, m * sizeof (double));
        double fold = f;
        f = fn;
        if (fold - f <= cfg->ftol * fmax (fmax (fabs (fold), fabs (f)), 1)) {
            stop = "relative change";
            break;
        }
    }
    if (rep) {
        rep->iterations = it;
        rep->best_epoch = 0;
        rep->loss = f;
        rep->grad_inf = s_inf_norm (g, m);
        rep->stop = stop;
    }
    free (buf);
    return rc;
}

static int
s_data_ok (const fl_model_t *m, const float *x, const int32_t *y, size_t n, const char *where)
{
    size_t d = fl_model_num_inputs (m), k = fl_model_num_classes (m);
    if (n == 0 || n > FL_TRAIN_MAX_ROWS) {
        zsys_error ("%s: %zu rows (need 1..%zu)", where, n, FL_TRAIN_MAX_ROWS);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t) y[i] >= k) {
            zsys_error ("%s: row %zu: label %d out of range 0..%zu", where, i, (int) y[i], k - 1);
            return 0;
        }
        for (size_t j = 0; j < d; j++)
            if (!isfinite (x[i * d + j])) {
                zsys_error ("%s: row %zu, feature %zu: not a finite number", where, i, j);
                return 0;
            }
    }
    return 1;
}

int
fl_baseline_fit_logreg (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                        const fl_baseline_lbfgs_t *cfg, fl_baseline_report_t *rep)
{
    assert (m && cfg);
    if (strcmp (fl_model_name (m), "logreg") != 0) {
        zsys_error ("fl_baseline: L-BFGS fits the logreg model, not '%s'", fl_model_name (m));
        return -1;
    }
    if (!(cfg->l2 >= 0) || !isfinite (cfg->l2) || cfg->max_iter < 1 || cfg->history < 1 || cfg->history > 100
        || !(cfg->gtol >= 0) || !(cfg->ftol >= 0)) {
        zsys_error ("fl_baseline: bad L-BFGS config (l2 %g, max_iter %d, history %d, gtol %g, ftol %g)", cfg->l2,
                    cfg->max_iter, cfg->history, cfg->gtol, cfg->ftol);
        return -1;
    }
    if (!s_data_ok (m, x, y, n, "fl_baseline"))
        return -1;
    for (size_t c = 0; cfg->class_weights && c < fl_model_num_classes (m); c++)
        if (!isfinite (cfg->class_weights[c]) || cfg->class_weights[c] < 0) {
            zsys_error ("fl_baseline: class weight %zu is %g (need finite, >= 0)", c, (double) cfg->class_weights[c]);
            return -1;
        }
    size_t d = fl_model_num_inputs (m), k = fl_model_num_outputs (m);
    fl_model_view_t vw, vb;
    if (fl_model_num_views (m) != 2 || fl_model_view (m, 0, &vw) != 0 || fl_model_view (m, 1, &vb) != 0
        || vw.rows != k || vw.cols != d || vb.rows != k || vb.cols != 1) {
        zsys_error ("fl_baseline: unexpected logreg layout");
        return -1;
    }
    size_t mp = k * d + k;
    double *xd = (double *) malloc (n * d * sizeof (double));
    double *z = (double *) malloc (n * k * sizeof (double));
    double *theta = (double *) malloc (mp * sizeof (double));
    int rc = -1;
    if (!xd || !z || !theta) {
        zsys_error ("fl_baseline: no memory for %zu rows of %zu features", n, d);
        goto done;
    }
    for (size_t i = 0; i < n * d; i++)
        xd[i] = x[i];
    s_problem_t p = {.x = xd, .y = y, .n = n, .d = d, .k = k, .l2 = cfg->l2, .z = z, .cw = cfg->class_weights};
    if (s_lbfgs (&p, cfg, theta, mp, rep) != 0)
        goto done;
    float *params = fl_model_params (m);
    for (size_t j = 0; j < k * d; j++)
        params[vw.offset + j] = (float) theta[j];
    for (size_t c = 0; c < k; c++)
        params[vb.offset + c] = (float) theta[k * d + c];
    rc = 0;
done:
    free (xd);
    free (z);
    free (theta);
    return rc;
}

int
fl_baseline_fit_early_stop (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                            const fl_train_config_t *tc, const fl_baseline_early_stop_t *es,
                            fl_baseline_report_t *rep)
{
    assert (m && tc && es);
    if (!(es->val_fraction > 0 && es->val_fraction <= 0.5) || es->max_epochs < 1 || es->patience < 1) {
        zsys_error ("fl_baseline: bad early-stopping config (val_fraction %g, max_epochs %d, patience %d)",
                    es->val_fraction, es->max_epochs, es->patience);
        return -1;
    }
    if (n < 2 || n > FL_TRAIN_MAX_ROWS) {
        zsys_error ("fl_baseline: early stopping needs 2..%zu rows, got %zu", FL_TRAIN_MAX_ROWS, n);
        return -1;
    }
    if (!s_data_ok (m, x, y, n, "fl_baseline"))
        return -1;
    size_t d = fl_model_num_inputs (m), np = fl_model_num_params (m);
    size_t nv = (size_t) (es->val_fraction * (double) n + 0.5);
    if (nv < 1)
        nv = 1;
    if (nv > n - 1)
        nv = n - 1;
    size_t nt = n - nv;
    uint32_t *perm = (uint32_t *) malloc (n * sizeof (uint32_t));
    float *xs = (float *) malloc (n * d * sizeof (float));
    int32_t *ys = (int32_t *) malloc (n * sizeof (int32_t));
    float *best = (float *) malloc (np * sizeof (float));
    fl_rng_t *rng = fl_rng_new_u64 (es->seed, 0x76616c /* "val" */);
    int rc = -1;
    if (!perm || !xs || !ys || !best || !rng) {
        zsys_error ("fl_baseline: no memory for early stopping");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t) i;
    fl_rng_shuffle_u32 (rng, perm, n);
    /* rows [0, nt) train, [nt, n) validate */
    for (size_t i = 0; i < n; i++) {
        memcpy (xs + i * d, x + (size_t) perm[i] * d, d * sizeof (float));
        ys[i] = y[perm[i]];
    }
    const float *xv = xs + nt * d;
    const int32_t *yv = ys + nt;
    double best_loss = fl_train_loss (m, xv, yv, nv, tc->class_weights);
    int best_epoch = 0, epoch = 0;
    const char *stop = "epoch cap";
    memcpy (best, fl_model_params (m), np * sizeof (float));
    fl_train_config_t one = *tc;
    one.epochs = 1;
    for (epoch = 1; epoch <= es->max_epochs; epoch++) {
        one.seed = es->seed + (uint64_t) epoch;
        if (fl_train_local (m, xs, ys, nt, &one, NULL) != 0) {
            if (epoch == 1)
                goto done;
            stop = "divergence";     /* keep the best epoch so far */
            break;
        }
        double vl = fl_train_loss (m, xv, yv, nv, tc->class_weights);
        if (isfinite (vl) && (isnan (best_loss) || vl < best_loss)) {
            best_loss = vl;
            best_epoch = epoch;
            memcpy (best, fl_model_params (m), np * sizeof (float));
        }
        else if (epoch - best_epoch >= es->patience) {
            stop = "patience";
            break;
        }
    }
    memcpy (fl_model_params (m), best, np * sizeof (float));
    if (rep) {
        rep->iterations = epoch > es->max_epochs ? es->max_epochs : epoch;
        rep->best_epoch = best_epoch;
        rep->loss = best_loss;
        rep->grad_inf = NAN;
        rep->stop = stop;
    }
    rc = 0;
done:
    fl_rng_destroy (&rng);
    free (perm);
    free (xs);
    free (ys);
    free (best);
    return rc;
}

int
fl_baseline_metrics (fl_model_t *m, const float *x, const int32_t *y, size_t n, fl_metrics_summary_t *out,
                     size_t *defined)
{
    assert (m && out);
    size_t k = fl_model_num_classes (m), no = fl_model_num_outputs (m);
    out->accuracy = out->log_loss = out->auroc = out->auprc = out->precision = out->recall = NAN;
    out->n = 0;
    if (defined)
        *defined = 0;
    if (n == 0) {
        zsys_error ("fl_baseline_metrics: no rows");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || (size_t) y[i] >= k) {
            zsys_error ("fl_baseline_metrics: row %zu: label %d out of range 0..%zu", i, (int) y[i], k - 1);
            return -1;
        }
    float *prob = (float *) malloc (n * no * sizeof (float));
    float *score = (float *) malloc (n * sizeof (float));
    int32_t *yc = (int32_t *) malloc (n * sizeof (int32_t));
    int rc = -1;
    if (!prob || !score || !yc || fl_model_predict (m, x, n, prob) != 0) {
        zsys_error ("fl_baseline_metrics: no memory for %zu rows", n);
        goto done;
    }
    out->n = n;
    if (no == 1) {
        out->accuracy = fl_metrics_accuracy (prob, y, n, 0.5f);
        out->log_loss = fl_metrics_log_loss (prob, y, n);
        size_t pos = 0;
        for (size_t i = 0; i < n; i++)
            pos += y[i] == 1;
        if (pos > 0 && pos < n) {
            out->auroc = fl_metrics_auroc (prob, y, n);
            out->auprc = fl_metrics_auprc (prob, y, n);
            if (defined)
                *defined = 1;
        }
        double pr, re;
        if (fl_metrics_precision_recall (prob, y, n, 0.5f, &pr, &re) == 0) {
            out->precision = pr;
            out->recall = re;
        }
    }
    else {
        out->accuracy = fl_metrics_accuracy_multi (prob, y, n, k);
        out->log_loss = fl_metrics_log_loss_multi (prob, y, n, k);
        double sroc = 0, sprc = 0;
        size_t def = 0;
        for (size_t c = 0; c < k; c++) {
            size_t pos = 0;
            for (size_t i = 0; i < n; i++) {
                score[i] = prob[i * k + c];
                yc[i] = y[i] == (int32_t) c;
                pos += (size_t) yc[i];
            }
            if (pos == 0 || pos == n)
                continue;                  /* one-vs-rest undefined for this class */
            sroc += fl_metrics_auroc (score, yc, n);
            sprc += fl_metrics_auprc (score, yc, n);
            def++;
        }
        if (def) {
            out->auroc = sroc / (double) def;
            out->auprc = sprc / (double) def;
        }
        if (defined)
            *defined = def;
    }
    rc = 0;
done:
    free (prob);
    free (score);
    free (yc);
    return rc;
}
