/*  fl_server_opt - FedAvg weighting and the server optimizers that move the
    global model: FedAvg, FedAvgM, FedAdam.

    The pipeline of a round ends here: the aggregate update (a weighted mean
    of client updates, or a robust aggregate of bucket means) is treated as a
    pseudo-gradient step and applied by a server optimizer.  Sources:
      FedAvg   McMahan et al., "Communication-Efficient Learning of Deep
               Networks from Decentralized Data", AISTATS 2017, Alg. 1.
      FedAvgM  Hsu, Qi, Brown, "Measuring the Effects of Non-Identical Data
               Distribution for Federated Visual Classification", 2019, §3.
      FedAdam  Reddi et al., "Adaptive Federated Optimization", ICLR 2021,
               Alg. 2 (FedAdam, with tau adaptivity).
    Updates are differences "local model minus global model", so all three
    ADD the step to the global parameters.
*/
#ifndef FL_SERVER_OPT_H_INCLUDED
#define FL_SERVER_OPT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FL_SERVER_FEDAVG = 0, FL_SERVER_FEDAVGM, FL_SERVER_FEDADAM } fl_server_opt_kind_t;

typedef struct {
    fl_server_opt_kind_t kind;
    double lr;          /* server learning rate (FedAvg: 1.0 is plain averaging) */
    double momentum;    /* FedAvgM beta (0.9 typical) */
    double beta1;       /* FedAdam first-moment decay (0.9) */
    double beta2;       /* FedAdam second-moment decay (0.99) */
    double tau;         /* FedAdam adaptivity / epsilon (1e-3) */
} fl_server_opt_config_t;

typedef struct fl_server_opt_t fl_server_opt_t;

/*  Fills cfg with FedAvg, lr 1, momentum 0.9, beta1 0.9, beta2 0.99, tau 1e-3. */
void fl_server_opt_config_default (fl_server_opt_config_t *cfg);

/*  "fedavg" | "fedavgm" | "fedadam" -> kind.  -1 for anything else. */
int fl_server_opt_kind_parse (const char *s, fl_server_opt_kind_t *kind);
const char *fl_server_opt_kind_name (fl_server_opt_kind_t kind);

/*  Optimizer state for a model of n parameters.  NULL (with a log line) if a
    parameter is out of range (lr <= 0, momentum or betas outside [0,1),
    tau <= 0) or on allocation failure.  Caller owns the result. */
fl_server_opt_t *fl_server_opt_new (const fl_server_opt_config_t *cfg, size_t n);
void fl_server_opt_destroy (fl_server_opt_t **self_p);

/*  Applies one round's aggregate update delta (n floats) to params (n floats)
    in place, updating the optimizer state.  -1 if delta holds a NaN or
    infinity (params untouched). */
int fl_server_opt_step (fl_server_opt_t *self, float *params, const float *delta);

/*  State for checkpoints: number of floats and a pointer to them (first and
    second moments, 2n floats, plus the step count kept separately). */
size_t fl_server_opt_state_len (const fl_server_opt_t *self);
float *fl_server_opt_state (fl_server_opt_t *self);
uint64_t fl_server_opt_steps (const fl_server_opt_t *self);
void fl_server_opt_set_steps (fl_server_opt_t *self, uint64_t steps);

/*  FedAvg weighting: a streaming weighted mean of client updates.
    Weight of a client = min(num_examples, cap) (cap 0 = no cap), so a client
    claiming a huge example count cannot dominate the round. */
typedef struct fl_fedavg_t fl_fedavg_t;

fl_fedavg_t *fl_fedavg_new (size_t n, uint64_t example_cap);
void fl_fedavg_destroy (fl_fedavg_t **self_p);
/*  Resets the accumulator for a new round. */
void fl_fedavg_reset (fl_fedavg_t *self);
/*  Adds one update of n floats with its example count.  -1 (and nothing
    added) if the update holds NaN/inf or num_examples is 0. */
int fl_fedavg_add (fl_fedavg_t *self, const float *update, uint64_t num_examples);
/*  Weighted mean into out (n floats).  -1 if nothing was added. */
int fl_fedavg_mean (const fl_fedavg_t *self, float *out);
size_t fl_fedavg_count (const fl_fedavg_t *self);
double fl_fedavg_total_weight (const fl_fedavg_t *self);

#ifdef __cplusplus
}
#endif
#endif
