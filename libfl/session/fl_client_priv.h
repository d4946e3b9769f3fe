/*  fl_client_priv.h - the member's session object, shared only by the
    files of the client class in libfl/session/ (not installed; callers
    use fl_client.h):
      fl_client.c         messages, training, evaluation, statistics, DP;
      fl_client_secure.c  the secure-aggregation session: checks and run.
*/
#ifndef FL_CLIENT_PRIV_H_INCLUDED
#define FL_CLIENT_PRIV_H_INCLUDED

#include "fl_client.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fl_accountant.h"
#include "fl_dp.h"
#include "fl_metrics.h"
#include "fl_metrics_wire.h"
#include "fl_model.h"
#include "fl_quant.h"
#include "fl_rng.h"
#include "fl_roster.h"
#include "fl_secagg.h"
#include "fl_secagg_wire.h"
#include "fl_session.h"
#include "fl_stats.h"
#include "fl_train.h"
#include "fl_wire.h"

typedef struct s_out_t {
    uint8_t *data;
    size_t len;
    struct s_out_t *next;
} s_out_t;

struct fl_client_t {
    char member[64];
    char want_model[32], want_hidden[64];
    fl_model_plugin_t *model_plugin;   /* borrowed from the driver; NULL = built-in models */
    uint32_t want_qat;             /* 0 = the coordinator's */
    uint64_t seed;
    fl_client_state_t state;
    char reason[256];
    fl_run_id_t run_id;
    int have_run;
    fl_dataset_t *raw_train, *raw_test;   /* as loaded: statistics come from these */
    fl_dataset_t *train, *test;           /* standardised working copies */
    int standardised;
    fl_model_t *model;
    uint8_t fingerprint[32];
    float *global;                 /* (n_params) copy of the global model of the round */
    uint64_t rounds_trained;
    s_out_t *head, *tail;
    /* secure aggregation */
    const fl_roster_t *roster;
    const uint8_t *identity_secret;
    int allow_plaintext;
    fl_secagg_client_t *sa;          /* the current round's session, or NULL */
    uint64_t sa_round;
    uint32_t sa_bucket;
    uint32_t sa_purpose;             /* FL_SESSION_PURPOSE_* of the session */
    uint64_t secure_done[FL_SESSION_PURPOSE_MAX + 1];   /* masked inputs completed, by purpose */
    fl_client_update_fn update_hook;   /* NULL: an honest member */
    void *update_arg;
    double max_weight_decay;         /* policy (fl_client_config_t); < 0: refuse any */
    /* differential privacy: the member's own policy and spend */
    int has_dp_policy;
    fl_client_dp_policy_t dp_policy;
    struct fl_accountant_t *dp_acc;    /* the rounds this member trained in under local DP-SGD */
};

/* A secure round's session as the coordinator announced it in TRAIN. */
typedef struct {
    fl_session_announce_t an;     /* as announced (fl_session_announce_get) */
    uint8_t *pks;                 /* (n, 32) identity keys of the bucket, from our roster */
    uint32_t t_policy;            /* the least threshold our policy requires for (n, k) */
    uint32_t colluders;           /* ceil(policy gamma n): members assumed colluding */
    double dp_sigma_i;            /* distributed DP: our noise share (grid units, validated); 0 = none */
} fl_client_session_t;

/*  Queues len encoded bytes (taken) for the coordinator. */
void fl_client_enqueue_raw_ (fl_client_t *self, uint8_t *buf, size_t len);

/*  A request with a secure-aggregation session needs our roster and keys;
    one without it needs allow_plaintext.  Returns 1 secure, 0 plaintext,
    -1 refused (logged).  what, payload: names for log lines. */
int fl_client_secure_or_plain_ (fl_client_t *self, const fl_wire_msg_t *m, const char *what, const char *payload);

/*  Parses the session announced in m for purpose and checks it against our
    own roster and policy (fl_client_secure.c).  0 (ss filled; the caller
    frees ss->pks), or -1 (logged; nothing to free). */
int fl_client_parse_session_ (fl_client_t *self, const fl_wire_msg_t *m, fl_client_session_t *ss, const char *what,
                              uint32_t purpose);

/*  Starts our part of the bucket's secure aggregation of purpose over enc
    (m words), signing binding; queues the key advertisement.  0 or -1. */
int fl_client_secure_begin_ (fl_client_t *self, uint64_t round, const fl_client_session_t *ss, uint32_t purpose,
                             const uint32_t *enc, size_t m, const uint8_t binding[32]);

/*  A SECAGG message for the running session.  1 handled, 0 refused (logged). */
int fl_client_on_secagg_ (fl_client_t *self, const fl_wire_msg_t *m);

#endif
