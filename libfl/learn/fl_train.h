/*  fl_train - a client's local training: minibatch SGD, SGD with momentum,
    Adam, over epochs of seeded shuffles.

    In federated averaging (McMahan et al. 2017, "Communication-Efficient
    Learning of Deep Networks from Decentralized Data", Algorithm 1,
    ClientUpdate) each selected client starts from the global model, runs E
    epochs of minibatch steps of size B on its own data and returns the
    result.  fl_train_local is exactly ClientUpdate: one call = one client's
    local training for one round.  Optimizer state (momentum buffer, Adam
    moments and step count) is created fresh at the start of every call and
    freed at its end, so nothing leaks from one round, or one client, to the
    next; that is the usual FedAvg convention (client optimizers are reset
    each round; cf. Reddi et al. 2021, "Adaptive Federated Optimization",
    Algorithm 1, where clients run plain SGD from the current global model).

    Weight decay is an L2 penalty (wd / 2) ||w||^2 on every parameter
    (weights and biases), added to the gradient before the optimizer step
    (so with Adam it is "Adam + L2", not decoupled AdamW).  Reported losses are
    the data loss only, without the penalty.
*/
#ifndef FL_TRAIN_H_INCLUDED
#define FL_TRAIN_H_INCLUDED

#include "fl_model.h"
#include "fl_rng.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on a training config (user input). */
#define FL_TRAIN_MAX_EPOCHS 100000
#define FL_TRAIN_MAX_BATCH  ((size_t) 1 << 20)
#define FL_TRAIN_MAX_ROWS   ((size_t) UINT32_MAX)   /* shuffles index with u32 */

typedef enum { FL_OPT_SGD, FL_OPT_MOMENTUM, FL_OPT_ADAM } fl_opt_kind_t;

typedef struct {
    fl_opt_kind_t optimizer;
    int epochs;                  /* passes over the local data, >= 1 */
    size_t batch_size;           /* examples per step, >= 1; the last batch of an epoch may be smaller */
    float lr;                    /* learning rate, > 0 */
    float momentum;              /* FL_OPT_MOMENTUM: mu in [0, 1) */
    float beta1, beta2, eps;     /* FL_OPT_ADAM: betas in [0, 1), eps > 0 */
    float weight_decay;          /* L2 coefficient >= 0 */
    const float *class_weights;  /* n_classes non-negative finite weights, or NULL; not owned */
    uint64_t seed;               /* shuffling seed */
} fl_train_config_t;

/*  Defaults: SGD, 1 epoch, batch 32, lr 0.01, momentum 0.9, Adam betas
    (0.9, 0.999), eps 1e-8 (Kingma & Ba 2015, sec. 2), no weight decay, no
    class weights, seed 0. */
void fl_train_config_default (fl_train_config_t *cfg);

/*  "sgd", "momentum", "adam" -> kind.  -1 and a log line otherwise. */
int fl_opt_kind_parse (const char *s, fl_opt_kind_t *out);

/*  Name of an optimizer kind ("sgd", ...), "?" for an unknown value. */
const char *fl_opt_kind_name (fl_opt_kind_t kind);

/*  Checks a config against the ranges above for a model with n_classes
    classes.  -1 and a log line naming the bad field. */
int fl_train_config_check (const fl_train_config_t *cfg, size_t n_classes);

/*  Local training of m on x (n, n_inputs) row-major with labels y (n) in
    0..n_classes-1, in place: for each epoch, a fresh permutation of 0..n-1
    from fl_rng stream (cfg->seed, "train") (same seed = same order = same
    result), then ceil(n / batch_size) optimizer steps on the mean weighted
    loss of each batch (fl_model_loss_grad) plus weight decay.
    If mean_loss is not NULL, writes the mean over the last epoch's examples
    of the per-example weighted loss, as measured during that epoch (each
    batch before its step).
    Returns -1 and logs, leaving the model untouched, on a bad config, n = 0
    or > FL_TRAIN_MAX_ROWS, a label out of range, a non-finite input value,
    or no memory for the call's buffers.  Returns -1 after training started
    if the loss or parameters become non-finite (divergence) or the model's
    forward pass fails; the parameters are then part-trained and the caller
    should reload the global model rather than send them. */
int fl_train_local (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                    const fl_train_config_t *cfg, double *mean_loss);

/*  Mean weighted loss of m on (x, y), the same definition as training uses
    (class_weights n_classes or NULL), computed by forward passes in chunks;
    parameters and gradients are not touched.  Returns NAN and logs on n = 0,
    a label out of range, a bad class weight or no memory. */
double fl_train_loss (fl_model_t *m, const float *x, const int32_t *y, size_t n,
                      const float *class_weights);

/*  Record-level DP contribution of one client for one round (the
    per-example clipping of DP-SGD, Abadi et al. 2016, "Deep Learning with
    Differential Privacy", Algorithm 1, WITHOUT local noise: the coordinator
    adds the noise to the aggregate; docs/PRIVACY.md "Record-level"):
        out (np) = sum over k < steps of  sum over i in S_k of  clip(grad l(w; x_i, y_i), C)
    where w is the model's current parameters for EVERY step (the steps do
    not move the model, so one record's influence on out is at most
    steps * C whatever the other records are), S_k includes each of the n
    examples independently with probability q (Poisson sampling, from rng:
    fl_rng_new_random in production), grad is fl_model_loss_grad on the
    single example (no class weights), and clip is fl_dp_clip_l2.
    *included (if not NULL) receives the total number of inclusions.
    The model's parameters are not changed (its gradient block is).
    Returns 0, or -1 and logs (out zeroed) if n is 0 or > FL_TRAIN_MAX_ROWS,
    q is outside (0, 1], C is not a finite number > 0, steps is 0 or above
    FL_TRAIN_MAX_EPOCHS, a label is out of range, an input is not finite,
    or a gradient is not finite (fl_dp_clip_rows_sum's error). */
int fl_train_dp_grad_sum (fl_model_t *m, const float *x, const int32_t *y, size_t n, double q,
                          double C, uint32_t steps, fl_rng_t *rng, float *out, uint64_t *included);

/*  What fl_train_dp_local did: for the caller's log and the noise-versus-
    signal check; never sent to anyone (signal_norm is computed from the
    private data, without noise). */
typedef struct {
    uint64_t included;           /* Poisson inclusions over all steps */
    double sigma;                /* noise standard deviation per coordinate added to each step's
                                    sum of clipped gradients (gradient units): z (C + step sqrt(np)) */
    double grid;                 /* the noise grid step (fl_dp_noise_grid); 0 without noise */
    double signal_norm;          /* mean over the steps of || sum of clipped gradients || */
} fl_train_dp_stats_t;

/*  Record-level DP-SGD on one member's data for one round (Abadi, Chu,
    Goodfellow, McMahan, Mironov, Talwar, Zhang 2016, "Deep Learning with
    Differential Privacy", Algorithm 1 and Section 3.1, with Poisson
    sampling; docs/PRIVACY.md "Record-level"): `steps` times,
        S   = each of the n examples independently with probability q
              (Bernoulli from rng: fl_rng_new_random in production)
        g   = sum over i in S of clip(grad l(w; x_i, y_i), C)
        g~  = g + discrete Gaussian noise of standard deviation z (C + h sqrt(np))
              on the grid h (fl_dp_noise_grid, fl_dp_discrete_gaussian_add_f64:
              the exact sampler; rounding to the grid adds at most h sqrt(np)
              to the sensitivity C of g to one example)
        w  <- w - lr g~ / expected_batch
    so the model MOVES between steps and every step is one Sampled Gaussian
    Mechanism of rate q and noise multiplier z on this member's records
    (sensitivity C under add/remove of one example).  expected_batch must
    be fixed in advance (public), e.g. q times the training-set size the
    member announced.  z = 0 adds no noise (comparison runs only).
    The model's parameters hold the result (its gradient block is used).
    st (if not NULL) receives the counts above.
    Returns 0, or -1 and logs if n is 0 or > FL_TRAIN_MAX_ROWS, q is outside
    (0, 1], C is not a finite number > 0, z is negative or not finite, steps
    is 0 or above FL_TRAIN_MAX_EPOCHS, lr or expected_batch is not a finite
    number > 0, a label is out of range, an input or gradient is not finite,
    the noise cannot be drawn (z C outside the sampler's range) or the
    parameters diverge; the parameters are then part-trained and the caller
    must reload the global model. */
int fl_train_dp_local (fl_model_t *m, const float *x, const int32_t *y, size_t n, double q, double C,
                       double z, uint32_t steps, double lr, double expected_batch, fl_rng_t *rng,
                       fl_train_dp_stats_t *st);

/* --- the optimizers on their own (for tests and for callers with their
       own loop, e.g. per-example clipping in DP-SGD) ------------------------- */

typedef struct fl_optim_t fl_optim_t;

/*  An optimizer for n parameters with zeroed state, using the kind and
    hyper-parameters of cfg (lr, momentum, betas, eps, weight decay).  NULL
    and a log line on a bad config or no memory. */
fl_optim_t *fl_optim_new (const fl_train_config_t *cfg, size_t n);
void fl_optim_destroy (fl_optim_t **self_p);

/*  One step, in place on params (n), from grads (n) (grads is modified when
    weight decay is on: g += wd * w).  With t the step count after increment:
      SGD:       w -= lr g
      momentum:  v = mu v + g;  w -= lr v            (PyTorch SGD, dampening 0)
      Adam:      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
                 w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
                 (Kingma & Ba 2015, Algorithm 1) */
void fl_optim_step (fl_optim_t *self, float *params, float *grads);

#ifdef __cplusplus
}
#endif
#endif
