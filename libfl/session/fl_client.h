/*  fl_client - one consortium member's side of a training run (sans I/O).

    The client holds its data shard (training and test split, never sent
    anywhere), answers the coordinator's requests, and trains locally:

        (start) --fl_client_hello--> HELLO sent
        WELCOME   -> build the model the consortium agreed on (a plugin's if
                     configured with model_plugin; QAT mode from WELCOME "qat");
                     check it against what the client was configured with.
                     A client configured with model_plugin, or with model and
                     its hidden sizes, sends that model's fingerprint in HELLO,
                     so the coordinator refuses a mismatch (REJECT) up front
        STATS_REQUEST -> count, sum, sum of squares of its *raw* training rows
        STANDARDISE   -> apply the global mean / std to its training and test rows
        TRAIN     -> load the global model, train locally (with the TRAIN's
                     class weights "balanced" computed from its own training
                     label counts, and weight decay, refused above
                     max_weight_decay); hand the update to
                     the update hook if one is configured (an adversary, for
                     evaluation only); then, in a secure
                     round, clip, weight and encode the update and run the
                     bucket's secure aggregation (SECAGG messages); in a
                     plaintext round (only if allowed), reply UPDATE
                     (local minus global parameters, example count, loss)
        EVALUATE  -> evaluate the global model on the local test split, reply
                     EVAL_RESULT (counts and score histograms only)
        BYE / REJECT -> finished

    Every payload is decoded by fl_wire before use; a message for another
    run, out of order, with a model fingerprint that differs from the one
    agreed, or with parameters of the wrong length is rejected with a log
    line and no state change.
*/
#ifndef FL_CLIENT_H_INCLUDED
#define FL_CLIENT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "fl_dataset.h"
#include "fl_session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_client_t fl_client_t;

typedef enum {
    FL_CLIENT_NEW = 0,        /* HELLO not sent yet */
    FL_CLIENT_JOINING,        /* HELLO sent, waiting for WELCOME */
    FL_CLIENT_JOINED,         /* WELCOME received */
    FL_CLIENT_FINISHED,       /* BYE received: training is over */
    FL_CLIENT_REFUSED         /* REJECT received, or a fatal mismatch */
} fl_client_state_t;

/*  What the update hook (fl_client_config_t.update_hook) is told about the
    update it is handed. */
typedef struct {
    const uint8_t *run_id;    /* FL_SESSION_RUNIDBYTES bytes: the run (borrowed, valid during the call) */
    uint64_t round;           /* the TRAIN request's round */
    const char *member;       /* this member's id (borrowed) */
    int secure;               /* 1: the update is then clipped (unless clip is cleared), weighted,
                                 encoded and masked for secure aggregation; 0: sent as is in UPDATE */
    double clip_norm;         /* secure rounds: the clipping norm the client applies next; 0 in plaintext */
    int clip;                 /* in: 1 in secure rounds; the hook may set it to 0 to send the update
                                 unclipped (it still cannot escape the encoding's per-coordinate bound
                                 max(clip_norm, 1), fl_session_encoding_max_abs) */
    uint64_t examples;        /* in: this member's training rows; the hook may change it: the example
                                 count claimed (UPDATE "n" in plaintext, the weight min(examples,
                                 cap)/cap in secure rounds).  The coordinator cannot check it: FedAvg
                                 caps it at its example cap; robust rules ignore it (unweighted) */
} fl_client_update_t;

/*  The update hook: called once per TRAIN after local training (and, under
    record-level DP, after the clipped-gradient sum replaced the model
    difference), with update (n floats: the local model minus the global
    model, n = the model's parameter count) BEFORE the client clips,
    weights, encodes and masks it (secure round) or sends it (plaintext
    UPDATE).  The hook may change update in place (any values; the client
    does not check them beyond what the encoding clamps) and info->clip; it
    must not keep update or info.  Returns 0 to go on, or -1 to drop this
    round's update (the client logs it and sends nothing; the coordinator
    sees a dropout).  arg is fl_client_config_t.update_arg.  An honest
    member has no hook; io/fl_adversary uses it to evaluate robust
    aggregation against Byzantine members (docs/ATTACKS.md). */
typedef int (*fl_client_update_fn) (void *arg, fl_client_update_t *info, float *update, size_t n);

/*  A member's own differential-privacy policy (docs/PRIVACY.md "What the
    member checks"): what it accepts whatever the coordinator announces.
    With a policy the member trains only in record-level local DP-SGD rounds
    (it adds the noise itself) whose announced per-step noise multiplier is
    at least min_noise, per-example Poisson rate at most max_rate and steps
    per round at most max_steps, and, with epsilon > 0, only while its own
    RDP accountant (the same composition the coordinator uses: K steps at q
    per round) stays within (epsilon, delta); anything else is refused
    before training. */
typedef struct {
    double min_noise;         /* least noise multiplier per local step (> 0) */
    double max_rate;          /* largest per-example Poisson rate q, in (0, 1] */
    uint32_t max_steps;       /* most local DP-SGD steps per round (>= 1) */
    double epsilon;           /* own budget; 0 = none */
    double delta;             /* in (0, 1) when epsilon > 0 */
} fl_client_dp_policy_t;

typedef struct {
    const char *member;       /* member id (roster name); copied */
    const char *model;        /* expected model name, or NULL to accept the coordinator's */
    const char *hidden;       /* expected hidden sizes (with model), or NULL */
    uint64_t seed;            /* local randomness (shuffling) */
    /* Secure aggregation: with both set, the client takes part in masked
       rounds; without allow_plaintext it refuses to send an unmasked
       update, round 0 statistics or evaluation counts. */
    const struct fl_roster_t *roster;   /* borrowed; must outlive the client */
    const uint8_t *identity_secret;     /* 64-byte Ed25519 secret key, borrowed (sodium_malloc'd) */
    int allow_plaintext;                /* take part in plaintext (unmasked) rounds */
    struct fl_model_plugin_t *model_plugin;  /* the model plugin to make the model from, opened by
                                                the driver (fl_model_plugin_open), or NULL for the
                                                built-in models; borrowed, must outlive the client */
    uint32_t qat;             /* expected QAT mode (FL_MODEL_QAT_*), 0 = take the coordinator's */
    fl_client_update_fn update_hook;    /* NULL for an honest member (see fl_client_update_fn) */
    void *update_arg;                   /* passed to update_hook; borrowed, must outlive the client */
    double max_weight_decay;  /* policy: the largest L2 weight decay accepted in TRAIN; 0 = the
                                 default FL_CLIENT_MAX_WEIGHT_DECAY; negative = refuse any */
    const fl_client_dp_policy_t *dp_policy;   /* NULL: take the coordinator's DP settings; copied */
} fl_client_config_t;

/*  The weight decay a client accepts by default (fl_client_config_t.max_weight_decay). */
#define FL_CLIENT_MAX_WEIGHT_DECAY 1.0

/*  A client over its shards.  Ownership of *train and *test passes to the
    client (the pointers are nulled).  NULL (with a log line) if the shards
    disagree in feature count, or are empty. */
fl_client_t *fl_client_new (const fl_client_config_t *cfg, fl_dataset_t **train, fl_dataset_t **test);
void fl_client_destroy (fl_client_t **self_p);

/*  Queues a HELLO (first contact, or rejoining after the coordinator
    restarted).  Resets the run id, so messages of the old run are refused. */
void fl_client_hello (fl_client_t *self);

/*  Handles one payload from the coordinator; replies go to the outbox.
    Returns 1 if accepted, 0 if rejected (logged).  A REJECT "not admitted"
    makes the client send HELLO again (the coordinator restarted). */
int fl_client_on_message (fl_client_t *self, const uint8_t *data, size_t len);

/*  Next payload to send: 1 and (*data, *len) (caller frees), or 0. */
int fl_client_next_out (fl_client_t *self, uint8_t **data, size_t *len);

/*  Queues a HEARTBEAT (for liveness while idle). */
void fl_client_heartbeat (fl_client_t *self);

fl_client_state_t fl_client_state (const fl_client_t *self);
const char *fl_client_state_name (fl_client_state_t state);
/*  Why the client was refused, or "". */
const char *fl_client_reason (const fl_client_t *self);
/*  Rounds trained so far. */
uint64_t fl_client_rounds_trained (const fl_client_t *self);
/*  Secure aggregations of training updates this client completed (it sent
    its unmasking shares); a round it trained for but aborted (e.g.
    signatures over a different survivor set or model) is not counted. */
uint64_t fl_client_secure_rounds (const fl_client_t *self);
/*  The same for any purpose (FL_SECAGG_PURPOSE_TRAIN, _STATS, _EVAL):
    completed secure aggregations of that kind; 0 for an unknown purpose. */
uint64_t fl_client_secure_count (const fl_client_t *self, unsigned purpose);

#ifdef __cplusplus
}
#endif
#endif
