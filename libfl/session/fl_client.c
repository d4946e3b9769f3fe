/*  fl_client.c - a member's side of a run (see fl_client.h).

    The data never leaves this object: only sufficient statistics (round 0),
    parameter differences (training) and evaluation counts leave it, and the
    secure-aggregation layer masks the differences before they travel.
*/
#include "fl_client_priv.h"
#include "fl_secmem.h"


const char *
fl_client_state_name (fl_client_state_t s)
{
    static const char *n[] = {"new", "joining", "joined", "finished", "refused"};
    return (unsigned) s < 5 ? n[s] : "?";
}

void
fl_client_enqueue_raw_ (fl_client_t *self, uint8_t *buf, size_t len)
{
    s_out_t *o = (s_out_t *) calloc (1, sizeof *o);
    if (!o) {
        free (buf);
        return;
    }
    o->data = buf;
    o->len = len;
    if (self->tail)
        self->tail->next = o;
    else
        self->head = o;
    self->tail = o;
}

static void
s_enqueue (fl_client_t *self, fl_wire_writer_t *w)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fl_wire_writer_finish (&w, &buf, &len) != 0) {
        zsys_error ("client %s: could not encode a message", self->member);
        return;
    }
    fl_client_enqueue_raw_ (self, buf, len);
}

static fl_wire_writer_t *
s_writer (fl_client_t *self, fl_wire_type_t type, uint64_t round)
{
    static const uint8_t zero[FL_WIRE_RUNIDBYTES];
    return fl_wire_writer_new (type, self->have_run ? self->run_id : zero, round);
}

fl_client_t *
fl_client_new (const fl_client_config_t *cfg, fl_dataset_t **train, fl_dataset_t **test)
{
    assert (cfg && train && test);
    if (!*train || !*test || fl_dataset_rows (*train) == 0 || fl_dataset_rows (*test) == 0) {
        zsys_error ("client: empty training data");
        return NULL;
    }
    if (fl_dataset_features (*train) != fl_dataset_features (*test)) {
        zsys_error ("client: training and test data disagree in feature count (%zu vs %zu)",
                    fl_dataset_features (*train), fl_dataset_features (*test));
        return NULL;
    }
    const fl_client_dp_policy_t *p = cfg->dp_policy;
    if (p && (!(p->min_noise > 0 && p->min_noise <= FL_ACCOUNTANT_MAX_SIGMA) || !(p->max_rate > 0 && p->max_rate <= 1)
              || p->max_steps < 1 || p->max_steps > FL_SESSION_DP_STEPS_MAX || !(p->epsilon >= 0)
              || !isfinite (p->epsilon) || (p->epsilon > 0 && !(p->delta > 0 && p->delta < 1)))) {
        zsys_error ("client: invalid differential-privacy policy (noise multiplier in (0, 1e6], rate in (0, 1], "
                    "steps in 1..%d, epsilon >= 0 finite with delta in (0, 1))", FL_SESSION_DP_STEPS_MAX);
        return NULL;
    }
    fl_client_t *self = (fl_client_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->member, sizeof self->member, "%s", cfg->member ? cfg->member : "member");
    if (cfg->model)
        snprintf (self->want_model, sizeof self->want_model, "%s", cfg->model);
    if (cfg->hidden)
        snprintf (self->want_hidden, sizeof self->want_hidden, "%s", cfg->hidden);
    self->seed = cfg->seed;
    self->roster = cfg->roster;
    self->identity_secret = cfg->identity_secret;
    self->allow_plaintext = cfg->allow_plaintext || !(cfg->roster && cfg->identity_secret);
    self->model_plugin = cfg->model_plugin;
    self->want_qat = cfg->qat;
    self->raw_train = *train;
    self->raw_test = *test;
    *train = *test = NULL;
    self->update_hook = cfg->update_hook;
    self->update_arg = cfg->update_arg;
    self->max_weight_decay = cfg->max_weight_decay == 0 ? FL_CLIENT_MAX_WEIGHT_DECAY : cfg->max_weight_decay;
    if (cfg->dp_policy) {
        self->has_dp_policy = 1;
        self->dp_policy = *cfg->dp_policy;
        self->dp_acc = fl_accountant_new ();
        if (!self->dp_acc) {
            fl_client_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
fl_client_destroy (fl_client_t **self_p)
{
    assert (self_p);
    fl_client_t *self = *self_p;
    if (!self)
        return;
    while (self->head) {
        s_out_t *o = self->head;
        self->head = o->next;
        free (o->data);
        free (o);
    }
    fl_dataset_destroy (&self->train);
    fl_dataset_destroy (&self->test);
    fl_dataset_destroy (&self->raw_train);
    fl_dataset_destroy (&self->raw_test);
    fl_model_destroy (&self->model);
    fl_secagg_client_destroy (&self->sa);
    fl_accountant_destroy (&self->dp_acc);
    free (self->global);
    free (self);
    *self_p = NULL;
}

static fl_dataset_t *
s_clone (const fl_dataset_t *ds)
{
    size_t n = fl_dataset_rows (ds);
    uint32_t *rows = (uint32_t *) malloc ((n ? n : 1) * sizeof (uint32_t));
    if (!rows)
        return NULL;
    for (size_t i = 0; i < n; i++)
        rows[i] = (uint32_t) i;
    fl_dataset_t *c = fl_dataset_subset (ds, rows, n);
    free (rows);
    return c;
}

static size_t
s_classes (const fl_client_t *self)
{
    size_t a = fl_dataset_classes (self->raw_train), b = fl_dataset_classes (self->raw_test);
    size_t k = a > b ? a : b;
    return k < 2 ? 2 : k;
}

/*  The model this client's own configuration fully names (a plugin or a
    built-in model, with its hidden sizes; logreg has none), built only for
    its fingerprint; NULL when the configuration leaves part of the choice
    to the coordinator. */
static fl_model_t *
s_build_expected (const fl_client_t *self)
{
    if (!self->model_plugin && !self->want_model[0])
        return NULL;
    if (!self->want_hidden[0] && (self->model_plugin || strcmp (self->want_model, "logreg") != 0))
        return NULL;
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = fl_dataset_features (self->raw_train);
    mc.n_classes = s_classes (self);
    mc.qat = self->want_qat;
    if (self->want_hidden[0] && fl_model_parse_hidden (self->want_hidden, &mc) != 0)
        return NULL;
    return fl_model_make (self->model_plugin, self->want_model, &mc, NULL, 0);
}

void
fl_client_hello (fl_client_t *self)
{
    uint8_t fp[32] = {0};
    if (self->model)
        memcpy (fp, self->fingerprint, 32);
    else {
        fl_model_t *mine = s_build_expected (self);
        if (mine)
            fl_model_fingerprint (mine, fp);
        fl_model_destroy (&mine);
    }
    self->have_run = 0;
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_HELLO, 0);
    fl_wire_put_str (w, FL_K_MEMBER, self->member);
    fl_wire_put_bin (w, FL_K_FP, fp, 32);
    fl_wire_put_u64 (w, FL_K_N_TRAIN, fl_dataset_rows (self->raw_train));
    fl_wire_put_u64 (w, FL_K_N_TEST, fl_dataset_rows (self->raw_test));
    fl_wire_put_u64 (w, FL_K_FEATURES, fl_dataset_features (self->raw_train));
    fl_wire_put_u64 (w, FL_K_CLASSES, s_classes (self));
    fl_wire_put_str (w, FL_K_MODEL, self->want_model);
    s_enqueue (self, w);
    if (self->state != FL_CLIENT_FINISHED && self->state != FL_CLIENT_REFUSED)
        self->state = FL_CLIENT_JOINING;
}

void
fl_client_heartbeat (fl_client_t *self)
{
    s_enqueue (self, s_writer (self, FL_WIRE_HEARTBEAT, 0));
}

static void
s_refuse (fl_client_t *self, const char *why)
{
    snprintf (self->reason, sizeof self->reason, "%s", why);
    self->state = FL_CLIENT_REFUSED;
    zsys_error ("client %s: %s", self->member, why);
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_BYE, 0);
    fl_wire_put_str (w, FL_K_REASON, why);
    s_enqueue (self, w);
}

static int
s_on_welcome (fl_client_t *self, const fl_wire_msg_t *m)
{
    const char *model = fl_wire_get_cstr (m, FL_K_MODEL);
    const char *hidden = fl_wire_get_cstr (m, FL_K_HIDDEN);
    uint64_t features = 0, classes = 0, seed = 0;
    /* the run's id first: a BYE refusing this WELCOME must carry it, or the
       coordinator discards it as another run's and keeps counting us */
    memcpy (self->run_id, fl_wire_run_id (m), FL_WIRE_RUNIDBYTES);
    self->have_run = 1;
    if (!model || !hidden || fl_wire_get_u64 (m, FL_K_FEATURES, &features) != 0
        || fl_wire_get_u64 (m, FL_K_CLASSES, &classes) != 0 || fl_wire_get_u64 (m, FL_K_SEED, &seed) != 0)
        return 0;
    if (self->want_model[0]
        && (strcmp (self->want_model, model) != 0
            || (self->want_hidden[0] && strcmp (self->want_hidden, hidden) != 0))) {
        char why[200];
        snprintf (why, sizeof why, "coordinator runs model %s(%s), this client was configured for %s(%s)",
                  model, hidden, self->want_model, self->want_hidden);
        s_refuse (self, why);
        return 0;
    }
    uint64_t qat = 0;
    if (fl_wire_get_u64 (m, FL_K_QAT, &qat) == 0 && qat > FL_MODEL_QAT_PER_CHANNEL)
        return 0;
    if (self->want_qat && qat != self->want_qat) {
        s_refuse (self, qat ? "coordinator trains with another QAT mode than this client was configured with"
                            : "coordinator trains without QAT, this client was configured with a QAT mode");
        return 0;
    }
    if (features != fl_dataset_features (self->raw_train)) {
        s_refuse (self, "coordinator's model takes a different number of features");
        return 0;
    }
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = features;
    mc.n_classes = classes;
    mc.seed = seed;
    mc.qat = (uint32_t) qat;
    if (hidden[0] && fl_model_parse_hidden (hidden, &mc) != 0) {
        s_refuse (self, "coordinator sent invalid hidden sizes");
        return 0;
    }
    fl_model_destroy (&self->model);
    free (self->global);
    self->global = NULL;
    self->model = fl_model_make (self->model_plugin, model, &mc, NULL, 0);
    if (self->model && self->model_plugin && strcmp (fl_model_name (self->model), model) != 0) {
        char why[512];
        snprintf (why, sizeof why, "coordinator runs model %s, this client's plugin is %s", model,
                  fl_model_name (self->model));
        fl_model_destroy (&self->model);
        s_refuse (self, why);
        return 0;
    }
    if (!self->model) {
        s_refuse (self, "cannot build the coordinator's model");
        return 0;
    }
    fl_model_fingerprint (self->model, self->fingerprint);
    self->global = (float *) calloc (fl_model_num_params (self->model), sizeof (float));
    memcpy (self->run_id, fl_wire_run_id (m), FL_WIRE_RUNIDBYTES);
    self->have_run = 1;
    self->state = FL_CLIENT_JOINED;
    zsys_info ("client %s: joined run; model %s%s%s (%zu parameters)", self->member, model,
               hidden[0] ? " " : "", hidden, fl_model_num_params (self->model));
    return 1;
}

static int
s_on_standardise (fl_client_t *self, const fl_wire_msg_t *m)
{
    size_t d = fl_dataset_features (self->raw_train);
    float *mean = (float *) calloc (2 * d, sizeof (float));
    if (!mean)
        return 0;
    float *std = mean + d;
    int ok = fl_wire_copy_f32s (m, FL_K_MEAN, mean, d) == 0 && fl_wire_copy_f32s (m, FL_K_STD, std, d) == 0;
    for (size_t i = 0; ok && i < d; i++)
        ok = isfinite (mean[i]) && isfinite (std[i]) && std[i] > 0;
    if (!ok) {
        zsys_warning ("client %s: rejected STANDARDISE: wrong length or invalid values", self->member);
        free (mean);
        return 0;
    }
    /* The statistics are decided: a round 0 session we dropped out of (or
       that the coordinator closed without us) is over. */
    if (self->sa && self->sa_purpose == FL_SESSION_PURPOSE_STATS)
        fl_secagg_client_destroy (&self->sa);
    /* Always from the raw rows: a rejoin after a coordinator restart may
       bring different statistics. */
    fl_dataset_destroy (&self->train);
    fl_dataset_destroy (&self->test);
    self->train = s_clone (self->raw_train);
    self->test = s_clone (self->raw_test);
    self->standardised = self->train && self->test
                         && fl_dataset_standardise (self->train, mean, std) == 0
                         && fl_dataset_standardise (self->test, mean, std) == 0;
    free (mean);
    return self->standardised;
}

/* Loads params from a TRAIN / EVALUATE message into the model; checks the
   round's model fingerprint (a coordinator that sends different models to
   different clients is caught by the signed fingerprint in secure mode;
   here the check is against the agreed model). */
static int
s_load_global (fl_client_t *self, const fl_wire_msg_t *m, const char *what)
{
    const uint8_t *fp = NULL;
    size_t fp_len = 0;
    size_t n = fl_model_num_params (self->model);
    if (fl_wire_get_bin (m, FL_K_FP, &fp, &fp_len) != 0 || fp_len != 32
        || sodium_memcmp (fp, self->fingerprint, 32) != 0) {
        zsys_warning ("client %s: rejected %s: model fingerprint differs from the agreed model",
                      self->member, what);
        return -1;
    }
    if (fl_wire_copy_f32s (m, FL_K_PARAMS, self->global, n) != 0) {
        zsys_warning ("client %s: rejected %s: parameter vector has the wrong length", self->member, what);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite (self->global[i])) {
            zsys_warning ("client %s: rejected %s: non-finite parameter", self->member, what);
            return -1;
        }
    memcpy (fl_model_params (self->model), self->global, n * sizeof (float));
    return 0;
}

/* Round 0: (count, Σx, Σx²) of the raw training rows.  In a secure run
   they go through the bucket's secure aggregation in the fixed-point
   encoding of fl_stats (the coordinator learns only bucket sums);
   otherwise in a plaintext STATS message. */
static int
s_on_stats_request (fl_client_t *self, const fl_wire_msg_t *m)
{
    int secure = fl_client_secure_or_plain_ (self, m, "STATS_REQUEST", "feature statistics");
    if (secure < 0)
        return 0;
    fl_client_session_t ss;
    memset (&ss, 0, sizeof ss);
    if (secure && fl_client_parse_session_ (self, m, &ss, "STATS_REQUEST", FL_SESSION_PURPOSE_STATS) != 0)
        return 0;
    size_t d = fl_dataset_features (self->raw_train);
    fl_stats_t *st = fl_stats_new (d);
    if (!st || fl_stats_accumulate (st, self->raw_train) != 0) {
        fl_stats_destroy (&st);
        free (ss.pks);
        return 0;
    }
    if (secure) {
        size_t me = fl_stats_fixed_len (d);
        uint32_t *enc = (uint32_t *) fl_secmem_alloc (me * sizeof (uint32_t));
        uint8_t binding[32];
        fl_session_stats_binding (self->fingerprint, d, binding);
        int rc = -1;
        if (enc && fl_stats_to_fixed (st, enc) == 0)
            rc = fl_client_secure_begin_ (self, fl_wire_round (m), &ss, FL_SESSION_PURPOSE_STATS, enc, me, binding);
        else
            zsys_error ("client %s: refused round 0: the feature statistics cannot be encoded for secure "
                        "aggregation (a value is beyond +-2^%d)", self->member, FL_STATS_FIXED_MAX_BITS);
        if (enc)
            fl_secmem_free (enc);              /* wipes */
        fl_stats_destroy (&st);
        free (ss.pks);
        return rc == 0;
    }
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_STATS, fl_wire_round (m));
    fl_wire_put_u64 (w, FL_K_COUNT, fl_stats_count (st));
    fl_wire_put_f64s (w, FL_K_SUM, fl_stats_sum (st), d);
    fl_wire_put_f64s (w, FL_K_SUMSQ, fl_stats_sumsq (st), d);
    s_enqueue (self, w);
    fl_stats_destroy (&st);
    return 1;
}

static double s_dp_indicator (const fl_wire_msg_t *m, const float *delta, size_t n, double clip);

/* Clips, weights and encodes the update, and starts the bucket's secure
   aggregation.  The encoded vector is [w·Δ (n_params), w, w·loss] with
   w = min(examples, cap) / cap in [0, 1], so FedAvg weighting survives the
   masking; every value is within [-max(C,1), max(C,1)].  With adaptive
   clipping (TRAIN "dp_adaptive") one more value follows: the shifted
   unclipped indicator +-1/2 (s_dp_indicator). */
static int
s_secure_start (fl_client_t *self, const fl_wire_msg_t *m, fl_client_session_t *ss, float *delta, size_t n_rows,
                double loss, int clip)
{
    size_t np = fl_model_num_params (self->model);
    double w = ss->an.cap ? (double) (n_rows < ss->an.cap ? n_rows : ss->an.cap) / (double) ss->an.cap : 1.0;
    double unclipped = s_dp_indicator (m, delta, np, ss->an.clip);   /* adaptive clipping: before clipping */
    size_t me = fl_session_update_words (np, !isnan (unclipped));
    /* clip is 0 only when the update hook (an adversary) said so; what it
       cannot escape is the encoding's per-coordinate bound (values are
       clamped to [-max_abs, max_abs] by fl_quant_encode). */
    if (clip)
        fl_quant_clip_l2 (delta, np, ss->an.clip);
    float *x = (float *) fl_secmem_alloc (me * sizeof (float));
    uint32_t *enc = (uint32_t *) fl_secmem_alloc (me * sizeof (uint32_t));
    fl_rng_t *rng = fl_rng_new_random ();
    fl_quant_encoding_t qe;
    int rc = -1;
    if (!x || !enc || !rng || fl_quant_encoding_init (&qe, ss->an.max_abs, (uint32_t) ss->an.summands) != 0)
        goto done;
    for (size_t i = 0; i < np; i++)
        x[i] = (float) (w * delta[i]);
    double l = isfinite (loss) ? (loss < 0 ? 0 : loss > ss->an.max_abs ? ss->an.max_abs : loss) : 0;
    x[np] = (float) w;
    x[np + 1] = (float) (w * l);
    if (me > np + 2)
        x[np + 2] = (float) unclipped;      /* masked like the rest: the coordinator sees bucket totals */
    if (fl_quant_encode (x, me, &qe, rng, enc) != 0)
        goto done;
    /* distributed DP: our noise share, before masking (CSPRNG, exact sampler) */
    if (ss->dp_sigma_i > 0 && fl_dp_discrete_gaussian_add_u32 (rng, ss->dp_sigma_i, enc, me) != 0)
        goto done;
    uint8_t binding[32];
    fl_session_model_binding (self->fingerprint, self->global, np, binding);
    rc = fl_client_secure_begin_ (self, fl_wire_round (m), ss, FL_SESSION_PURPOSE_TRAIN, enc, me, binding);
done:
    if (x)
        fl_secmem_free (x);               /* fl_secmem_free wipes */
    if (enc)
        fl_secmem_free (enc);
    fl_rng_destroy (&rng);
    return rc;
}

/* ---- differential privacy (docs/PRIVACY.md) ---------------------------------- */

/* What TRAIN says about differential privacy (unit 0: none). */
typedef struct {
    uint64_t unit;                /* FL_SESSION_DP_* */
    double clip;                  /* record-level: per-example clipping norm C_rec */
    double q;                     /* record-level: Poisson rate per example and local batch */
    uint64_t steps;               /* record-level: local batches K */
    int dist;                     /* distributed noise (secure rounds only) */
    double z, sigma_i;            /* distributed: noise multiplier, our share (grid units) */
    uint64_t adaptive;            /* client-level: adaptive clipping, report the unclipped indicator */
    int local;                    /* record-level local DP-SGD: we noise each of our K steps */
    double local_z;               /* ... with this noise multiplier */
} s_dp_round_t;

static int
s_dp_parse (fl_client_t *self, const fl_wire_msg_t *m, s_dp_round_t *dp)
{
    memset (dp, 0, sizeof *dp);
    if (!fl_wire_has (m, FL_K_DP_UNIT))
        return 0;
    const char *why = NULL;
    if (fl_wire_get_u64 (m, FL_K_DP_UNIT, &dp->unit) != 0
        || (dp->unit != FL_SESSION_DP_RECORD && dp->unit != FL_SESSION_DP_CLIENT))
        why = "unknown privacy unit";
    else if (dp->unit == FL_SESSION_DP_RECORD
             && (fl_wire_get_f64 (m, FL_K_DP_CLIP, &dp->clip) != 0 || fl_wire_get_f64 (m, FL_K_DP_Q, &dp->q) != 0
                 || fl_wire_get_u64 (m, FL_K_DP_STEPS, &dp->steps) != 0 || !(dp->clip > 0 && dp->clip <= FL_SESSION_DP_CLIP_MAX)
                 || !(dp->q > 0 && dp->q <= 1) || dp->steps < 1 || dp->steps > FL_SESSION_DP_STEPS_MAX))
        why = "record-level privacy parameters missing or out of range";
    else if (fl_wire_has (m, FL_K_DP_SIGMA_I)
             && (fl_wire_get_f64 (m, FL_K_DP_SIGMA_I, &dp->sigma_i) != 0 || fl_wire_get_f64 (m, FL_K_DP_Z, &dp->z) != 0
                 || !isfinite (dp->sigma_i) || !isfinite (dp->z) || dp->sigma_i < 0 || dp->z < 0))
        why = "distributed-noise parameters missing or out of range";
    else if (fl_wire_has (m, FL_K_DP_LOCAL_Z)
             && (dp->unit != FL_SESSION_DP_RECORD || fl_wire_get_f64 (m, FL_K_DP_LOCAL_Z, &dp->local_z) != 0
                 || !(dp->local_z >= 0 && dp->local_z <= FL_ACCOUNTANT_MAX_SIGMA) || fl_wire_has (m, FL_K_DP_SIGMA_I)))
        why = "local DP-SGD noise announced for a unit other than record-level, with distributed noise, or out of "
              "range";
    else if (fl_wire_has (m, FL_K_DP_SIGMA_I) && !fl_wire_has (m, FL_K_SA_BUCKET))
        why = "distributed noise was asked for a round without secure aggregation (the noise shares protect only "
              "a masked sum)";
    else if (fl_wire_has (m, FL_K_DP_ADAPTIVE)) {
        /* adaptive clipping: C_t changes every round; keep it in the range
           the coordinator clamps it to (a secure round's "clip") */
        double clip = 0;
        if (fl_wire_get_u64 (m, FL_K_DP_ADAPTIVE, &dp->adaptive) != 0 || dp->adaptive != 1
            || dp->unit != FL_SESSION_DP_CLIENT)
            why = "adaptive clipping is announced for a unit other than client-level, or malformed";
        else if (fl_wire_has (m, FL_K_CLIP) && (fl_wire_get_f64 (m, FL_K_CLIP, &clip) != 0
                                             || !(clip >= FL_DP_ADACLIP_MIN && clip <= FL_DP_ADACLIP_MAX)))
            why = "adaptive clipping norm out of range";
    }
    if (why) {
        zsys_warning ("client %s: rejected TRAIN: %s", self->member, why);
        return -1;
    }
    dp->dist = fl_wire_has (m, FL_K_DP_SIGMA_I);   /* validated against the session by s_dp_session */
    dp->local = fl_wire_has (m, FL_K_DP_LOCAL_Z);
    return 0;
}

/*  The member's own policy decides (fl_client_dp_policy_t), whatever the
    coordinator announced: only record-level local DP-SGD rounds (we add the
    noise ourselves), with at least the policy's noise, at most its rate and
    steps, and, with a budget, only while our own accountant stays within
    it.  On success *eps_after holds our epsilon after this round (NaN
    without a budget); the round is charged by the caller once it trains. */
static int
s_dp_policy (fl_client_t *self, const s_dp_round_t *dp, double *eps_after)
{
    *eps_after = NAN;
    if (!self->has_dp_policy)
        return 0;
    const fl_client_dp_policy_t *p = &self->dp_policy;
    char why[256] = "";
    if (!dp->unit || !dp->local)
        snprintf (why, sizeof why, "our policy requires record-level local DP-SGD (we add the noise ourselves); the "
                  "round announces %s", !dp->unit ? "no differential privacy" : dp->unit == FL_SESSION_DP_RECORD
                  ? "record-level noise added by the coordinator" : "client-level noise added by the coordinator");
    else if (!(dp->local_z >= p->min_noise))
        snprintf (why, sizeof why, "noise multiplier %g is below our policy's %g", dp->local_z, p->min_noise);
    else if (!(dp->q <= p->max_rate))
        snprintf (why, sizeof why, "sample rate %g is above our policy's %g", dp->q, p->max_rate);
    else if (dp->steps > p->max_steps)
        snprintf (why, sizeof why, "%" PRIu64 " local steps per round are more than our policy's %u", dp->steps,
                  p->max_steps);
    else if (p->epsilon > 0) {
        *eps_after = fl_accountant_epsilon_after (self->dp_acc, dp->local_z, dp->q, dp->steps, p->delta, NULL);
        if (!(*eps_after <= p->epsilon))
            snprintf (why, sizeof why, "this round would bring our own epsilon to %.4g, above our budget %.4g "
                      "(delta %g)", *eps_after, p->epsilon, p->delta);
    }
    if (why[0]) {
        zsys_warning ("client %s: rejected TRAIN: differential privacy: %s", self->member, why);
        return -1;
    }
    return 0;
}

/*  Adaptive clipping (Andrew et al. 2021): the shifted indicator of this
    update, +1/2 if its L2 norm before clipping is at most clip, else -1/2
    (so one member changes the released sum by at most 1/2: the count's
    sensitivity in docs/PRIVACY.md); NaN when TRAIN did not ask for it
    (s_dp_parse validated "dp_adaptive" before). */
static double
s_dp_indicator (const fl_wire_msg_t *m, const float *delta, size_t n, double clip)
{
    if (!fl_wire_has (m, FL_K_DP_ADAPTIVE))
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double) delta[i] * (double) delta[i];
    return sqrt (s) <= clip ? 0.5 : -0.5;       /* NaN norms compare false: clipped */
}

/*  Under DP the loss is not sent (it would be released without noise).
    Record-level: the contribution is the sum of clipped per-example
    gradients at the global model over K Poisson batches drawn with the
    CSPRNG (the coordinator must not learn which records were used); it
    replaces delta (n_params).  Client-level: delta is the local training's
    model difference, clipped with the update (s_secure_start, or by the
    coordinator in plaintext). */
static int
s_dp_contribution (fl_client_t *self, const s_dp_round_t *dp, float *delta, double *loss)
{
    *loss = NAN;
    if (dp->unit != FL_SESSION_DP_RECORD || dp->local)
        return 0;
    fl_rng_t *rng = fl_rng_new_random ();
    uint64_t used = 0;
    int rc = rng ? fl_train_dp_grad_sum (self->model, fl_dataset_x (self->train), fl_dataset_y (self->train),
                                         fl_dataset_rows (self->train), dp->q, dp->clip, (uint32_t) dp->steps, rng,
                                         delta, &used)
                 : -1;
    fl_rng_destroy (&rng);
    if (rc != 0)
        zsys_error ("client %s: record-level gradients failed", self->member);
    return rc;
}

/*  Record-level local DP-SGD (the default record mechanism): K steps of
    fl_train_dp_local from the global model, each on a Poisson sample at the
    announced rate q drawn with the CSPRNG, per-example clipping to C_rec and
    our own discrete Gaussian noise (noise multiplier dp->local_z, the exact
    sampler keyed from libsodium), each step normalised by our expected batch
    q n (n the training-set size we announced in HELLO).  The model moves;
    the update is then its difference to the global model, noised already
    before any clipping, encoding or masking.  Charges our own accountant
    when we have a policy with a budget. */
static int
s_dp_local_steps (fl_client_t *self, const s_dp_round_t *dp, double lr, double own_eps)
{
    fl_rng_t *rng = fl_rng_new_random ();
    fl_train_dp_stats_t st;
    size_t n = fl_dataset_rows (self->train);
    int rc = rng ? fl_train_dp_local (self->model, fl_dataset_x (self->train), fl_dataset_y (self->train), n, dp->q,
                                      dp->clip, dp->local_z, (uint32_t) dp->steps, lr, dp->q * (double) n, rng, &st)
                 : -1;
    fl_rng_destroy (&rng);
    if (rc != 0) {
        zsys_error ("client %s: record-level DP-SGD steps failed", self->member);
        return -1;
    }
    if (self->dp_acc && self->dp_policy.epsilon > 0)
        fl_accountant_add (self->dp_acc, dp->local_z, dp->q, dp->steps);
    zsys_debug ("client %s: %" PRIu64 " DP-SGD step(s) at rate %g, clip %g, noise sigma %.4g per step; our own "
                "epsilon %.4g (NaN: no budget of our own)", self->member, dp->steps, dp->q, dp->clip, st.sigma, own_eps);
    return 0;
}

/*  Distributed noise: validates the coordinator's sigma_i against the
    session (bucket size, threshold, encoding headroom) and our own view of
    the sensitivity (client-level the clipping norm, record-level K C_rec),
    with fl_dp_dist_check; on success the session carries the share. */
static int
s_dp_session (fl_client_t *self, const s_dp_round_t *dp, fl_client_session_t *ss)
{
    ss->dp_sigma_i = 0;
    if (!dp->dist && ss->an.summands != ss->an.n) {
        zsys_warning ("client %s: rejected TRAIN: encoding headroom without distributed noise", self->member);
        return -1;
    }
    if (!dp->dist)
        return 0;
    double sens = dp->unit == FL_SESSION_DP_RECORD ? (double) dp->steps * dp->clip : ss->an.clip;
    char why[160];
    /*  The honest noise shares a surviving sum must hold: our policy's
        threshold minus the members it assumes colluding (what an honest
        coordinator calibrates with), never the coordinator's own t. */
    if (ss->t_policy <= ss->colluders) {
        zsys_warning ("client %s: rejected TRAIN: distributed noise: a bucket of %u with threshold %u may hold only "
                      "colluding members (policy gamma assumes %u)", self->member, ss->an.n, ss->t_policy, ss->colluders);
        return -1;
    }
    if (fl_dp_dist_check (dp->z, sens, fl_model_num_params (self->model), ss->an.n, ss->t_policy - ss->colluders,
                          ss->an.max_abs, (uint32_t) ss->an.summands, dp->sigma_i, NULL, why, sizeof why) != 0) {
        zsys_warning ("client %s: rejected TRAIN: distributed noise: %s", self->member, why);
        return -1;
    }
    ss->dp_sigma_i = dp->sigma_i;
    zsys_info ("client %s: distributed noise: adding N_Z(0, %.6g^2) per coordinate (grid units; noise multiplier "
               "%g, bucket of %u, threshold %u) before masking", self->member, dp->sigma_i, dp->z, ss->an.n, ss->an.t);
    return 0;
}

/*  The TRAIN's class weights and weight decay (docs/TRAINING.md,
    "Imbalance"), validated against our policy: class_weight absent (none)
    or 1 (balanced: w_c = n / (k n_c) from our own training label counts,
    sklearn's class_weight="balanced"; a class we do not hold gets 1, unused),
    weight_decay absent (0) or finite in [0, max_weight_decay].  0, or -1
    with a log line naming what was refused. */
#define FL_CLIENT_MAX_CLASSES_W 1000     /* the most classes a model file / round allows */

static int
s_train_regularisation (fl_client_t *self, const fl_wire_msg_t *m, fl_train_config_t *tc, float *cw, size_t k)
{
    uint64_t mode = 0;
    double wd = 0;
    if (fl_wire_has (m, FL_K_CLASS_WEIGHT) && (fl_wire_get_u64 (m, FL_K_CLASS_WEIGHT, &mode) != 0 || mode != 1)) {
        zsys_warning ("client %s: rejected TRAIN: unknown class weighting %" PRIu64 " (1 = balanced)", self->member,
                      mode);
        return -1;
    }
    if (fl_wire_has (m, FL_K_WEIGHT_DECAY)
        && (fl_wire_get_f64 (m, FL_K_WEIGHT_DECAY, &wd) != 0 || !isfinite (wd) || wd < 0)) {
        zsys_warning ("client %s: rejected TRAIN: weight decay %g is not a finite non-negative number", self->member,
                      wd);
        return -1;
    }
    if (wd > 0 && wd > self->max_weight_decay) {
        zsys_warning ("client %s: rejected TRAIN: weight decay %g is above this member's policy (max_weight_decay %g)",
                      self->member, wd, self->max_weight_decay < 0 ? 0 : self->max_weight_decay);
        return -1;
    }
    tc->weight_decay = (float) wd;
    if (mode == 1) {
        size_t n = fl_dataset_rows (self->train);
        const int32_t *y = fl_dataset_y (self->train);
        uint64_t cnt[FL_CLIENT_MAX_CLASSES_W] = {0};
        if (k > FL_CLIENT_MAX_CLASSES_W) {
            zsys_warning ("client %s: rejected TRAIN: balanced class weights for %zu classes (at most %d)",
                          self->member, k, FL_CLIENT_MAX_CLASSES_W);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (y[i] >= 0 && (size_t) y[i] < k)
                cnt[y[i]]++;
        for (size_t c = 0; c < k; c++)
            cw[c] = cnt[c] ? (float) ((double) n / ((double) k * (double) cnt[c])) : 1.0f;
        tc->class_weights = cw;
    }
    return 0;
}

static int
s_on_train (fl_client_t *self, const fl_wire_msg_t *m)
{
    uint64_t epochs = 0, batch = 0, seed = 0;
    double lr = 0;
    const char *opt = fl_wire_get_cstr (m, FL_K_OPT);
    fl_train_config_t tc;
    fl_train_config_default (&tc);
    if (fl_wire_get_u64 (m, FL_K_EPOCHS, &epochs) != 0 || fl_wire_get_u64 (m, FL_K_BATCH, &batch) != 0
        || fl_wire_get_f64 (m, FL_K_LR, &lr) != 0 || fl_wire_get_u64 (m, FL_K_SEED, &seed) != 0 || !opt
        || fl_opt_kind_parse (opt, &tc.optimizer) != 0 || epochs == 0 || epochs > 1000 || batch == 0
        || batch > 1000000 || !(lr > 0 && lr < 1e3)) {
        zsys_warning ("client %s: rejected TRAIN: invalid training configuration", self->member);
        return 0;
    }
    int secure_round = fl_client_secure_or_plain_ (self, m, "TRAIN", "an update");
    if (secure_round < 0)
        return 0;
    s_dp_round_t dp;
    double own_eps = NAN;
    if (s_dp_parse (self, m, &dp) != 0 || s_dp_policy (self, &dp, &own_eps) != 0)
        return 0;
    fl_client_session_t ss;
    memset (&ss, 0, sizeof ss);
    if (secure_round && fl_client_parse_session_ (self, m, &ss, "TRAIN", FL_SESSION_PURPOSE_TRAIN) != 0)
        return 0;
    if (secure_round && s_dp_session (self, &dp, &ss) != 0) {
        free (ss.pks);
        return 0;
    }
    if (s_load_global (self, m, "TRAIN") != 0) {
        free (ss.pks);
        return 0;
    }
    tc.epochs = (int) epochs;
    tc.batch_size = (size_t) batch;
    tc.lr = (float) lr;
    tc.seed = self->seed ^ seed;
    float cw[FL_CLIENT_MAX_CLASSES_W];
    if (s_train_regularisation (self, m, &tc, cw, fl_model_num_classes (self->model)) != 0) {
        free (ss.pks);
        return 0;
    }
    double loss = NAN;
    size_t n_rows = fl_dataset_rows (self->train);
    if (dp.unit != FL_SESSION_DP_RECORD       /* record-level: per-example gradients instead (below) */
        && fl_train_local (self->model, fl_dataset_x (self->train), fl_dataset_y (self->train), n_rows,
                           &tc, &loss) != 0) {
        zsys_error ("client %s: local training failed", self->member);
        free (ss.pks);
        return 0;
    }
    if (dp.local && s_dp_local_steps (self, &dp, lr, own_eps) != 0) {
        free (ss.pks);
        return 0;
    }
    size_t n = fl_model_num_params (self->model);
    float *p = fl_model_params (self->model);
    float *delta = (float *) malloc (n * sizeof (float));
    if (!delta) {
        free (ss.pks);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        delta[i] = p[i] - self->global[i];
    if (dp.unit && s_dp_contribution (self, &dp, delta, &loss) != 0) {
        free (delta);
        free (ss.pks);
        return 0;
    }
    /* The update hook (an adversary, for evaluation) sees the update before
       it is clipped, encoded and masked, or sent. */
    fl_client_update_t info = {.run_id = self->run_id, .round = fl_wire_round (m), .member = self->member,
                               .secure = secure_round, .clip_norm = secure_round ? ss.an.clip : 0,
                               .clip = secure_round, .examples = n_rows};
    if (self->update_hook && self->update_hook (self->update_arg, &info, delta, n) != 0) {
        zsys_error ("client %s: the update hook dropped the update of round %" PRIu64, self->member,
                    fl_wire_round (m));
        free (delta);
        free (ss.pks);
        return 0;
    }
    n_rows = (size_t) info.examples;     /* what the hook (an adversary) claims; n_rows unless changed */
    if (secure_round) {
        int rc = s_secure_start (self, m, &ss, delta, n_rows, loss, info.clip);
        sodium_memzero (delta, n * sizeof (float));
        free (delta);
        free (ss.pks);
        if (rc == 0)
            self->rounds_trained++;
        return rc == 0;
    }
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_UPDATE, fl_wire_round (m));
    fl_wire_put_f32s (w, FL_K_DELTA, delta, n);
    fl_wire_put_u64 (w, FL_K_N, n_rows);
    fl_wire_put_f64 (w, FL_K_LOSS, isfinite (loss) ? loss : -1.0);
    s_enqueue (self, w);
    free (delta);
    self->rounds_trained++;
    return 1;
}

/* Federated evaluation of the model in EVALUATE on our test rows.  In a
   secure run the counts and histograms go through the bucket's secure
   aggregation (fl_metrics_counts_encode), signing the evaluated model as
   the round binding; otherwise in a plaintext EVAL_RESULT. */
static int
s_on_evaluate (fl_client_t *self, const fl_wire_msg_t *m)
{
    int secure = fl_client_secure_or_plain_ (self, m, "EVALUATE", "evaluation counts");
    if (secure < 0)
        return 0;
    fl_client_session_t ss;
    memset (&ss, 0, sizeof ss);
    if (secure && fl_client_parse_session_ (self, m, &ss, "EVALUATE", FL_SESSION_PURPOSE_EVAL) != 0)
        return 0;
    if (s_load_global (self, m, "EVALUATE") != 0) {
        free (ss.pks);
        return 0;
    }
    fl_metrics_counts_t c;
    fl_metrics_counts_init (&c);
    if (fl_metrics_counts_from_model (self->model, fl_dataset_x (self->test), fl_dataset_y (self->test),
                                      fl_dataset_rows (self->test), &c) != 0) {
        free (ss.pks);
        return 0;
    }
    if (secure) {
        size_t np = fl_model_num_params (self->model), me = fl_metrics_counts_encoded_len (c.n_classes);
        uint32_t *enc = me ? (uint32_t *) fl_secmem_alloc (me * sizeof (uint32_t)) : NULL;
        uint8_t binding[32];
        fl_session_model_binding (self->fingerprint, self->global, np, binding);
        int rc = -1;
        if (enc && fl_metrics_counts_encode (&c, c.n_classes, ss.an.n, enc) == 0)
            rc = fl_client_secure_begin_ (self, fl_wire_round (m), &ss, FL_SESSION_PURPOSE_EVAL, enc, me, binding);
        else
            zsys_error ("client %s: refused evaluation of round %" PRIu64 ": the counts cannot be encoded for "
                        "secure aggregation", self->member, fl_wire_round (m));
        if (enc)
            fl_secmem_free (enc);
        sodium_memzero (&c, sizeof c);
        free (ss.pks);
        return rc == 0;
    }
    fl_wire_writer_t *w = s_writer (self, FL_WIRE_EVAL_RESULT, fl_wire_round (m));
    fl_metrics_counts_to_wire (&c, w);
    s_enqueue (self, w);
    return 1;
}

int
fl_client_on_message (fl_client_t *self, const uint8_t *data, size_t len)
{
    char why[160];
    fl_wire_limits_t limits = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (data, len, &limits, why, sizeof why);
    if (!m) {
        zsys_warning ("client %s: rejected message from coordinator: %s", self->member, why);
        return 0;
    }
    fl_wire_type_t type = fl_wire_type (m);
    int ok = 0;
    if (type == FL_WIRE_REJECT) {
        const char *r = fl_wire_get_cstr (m, FL_K_REASON);
        if (r && strncmp (r, "not admitted", 12) == 0 && self->state != FL_CLIENT_FINISHED) {
            zsys_info ("client %s: coordinator does not know us (restarted?); joining again", self->member);
            fl_client_hello (self);
            ok = 1;
        }
        else {
            snprintf (self->reason, sizeof self->reason, "refused by coordinator: %s", r ? r : "?");
            zsys_error ("client %s: %s", self->member, self->reason);
            self->state = FL_CLIENT_REFUSED;
            ok = 1;
        }
        goto done;
    }
    if (type == FL_WIRE_ERROR && (self->state == FL_CLIENT_JOINING
                                  || (self->state == FL_CLIENT_JOINED
                                      && sodium_memcmp (fl_wire_run_id (m), self->run_id, FL_WIRE_RUNIDBYTES) == 0))) {
        /* the coordinator gave up on the run (docs/WIRE.md, ERROR) */
        const char *r = fl_wire_get_cstr (m, FL_K_REASON);
        snprintf (self->reason, sizeof self->reason, "the coordinator aborted: %s", r ? r : "(no reason)");
        zsys_error ("client %s: %s", self->member, self->reason);
        self->state = FL_CLIENT_REFUSED;
        ok = 1;
        goto done;
    }
    if (type == FL_WIRE_WELCOME) {
        if (self->state == FL_CLIENT_JOINING)
            ok = s_on_welcome (self, m);
        else
            zsys_warning ("client %s: rejected WELCOME: not joining", self->member);
        goto done;
    }
    if (self->state != FL_CLIENT_JOINED) {
        zsys_warning ("client %s: rejected %s: not joined", self->member, fl_wire_type_name (type));
        goto done;
    }
    if (sodium_memcmp (fl_wire_run_id (m), self->run_id, FL_WIRE_RUNIDBYTES) != 0) {
        zsys_warning ("client %s: rejected %s: from another run", self->member, fl_wire_type_name (type));
        goto done;
    }
    switch (type) {
    case FL_WIRE_STATS_REQUEST: ok = s_on_stats_request (self, m); break;
    case FL_WIRE_STANDARDISE: ok = s_on_standardise (self, m); break;
    case FL_WIRE_TRAIN:
        if (!self->standardised)
            zsys_warning ("client %s: rejected TRAIN: no standardisation received yet", self->member);
        else
            ok = s_on_train (self, m);
        break;
    case FL_WIRE_EVALUATE:
        if (!self->standardised)
            zsys_warning ("client %s: rejected EVALUATE: no standardisation received yet", self->member);
        else
            ok = s_on_evaluate (self, m);
        break;
    case FL_WIRE_SECAGG: ok = fl_client_on_secagg_ (self, m); break;
    case FL_WIRE_HEARTBEAT: ok = 1; break;
    case FL_WIRE_BYE: {
        const char *r = fl_wire_get_cstr (m, FL_K_REASON);
        zsys_info ("client %s: coordinator says goodbye: %s", self->member, r ? r : "");
        self->state = FL_CLIENT_FINISHED;
        ok = 1;
        break;
    }
    default:
        zsys_warning ("client %s: rejected %s: not a coordinator message", self->member,
                      fl_wire_type_name (type));
        break;
    }
done:
    fl_wire_msg_destroy (&m);
    return ok;
}

int
fl_client_next_out (fl_client_t *self, uint8_t **data, size_t *len)
{
    s_out_t *o = self->head;
    if (!o)
        return 0;
    self->head = o->next;
    if (!self->head)
        self->tail = NULL;
    *data = o->data;
    *len = o->len;
    free (o);
    return 1;
}

fl_client_state_t fl_client_state (const fl_client_t *self) { return self->state; }
const char *fl_client_reason (const fl_client_t *self) { return self->reason; }
uint64_t fl_client_rounds_trained (const fl_client_t *self) { return self->rounds_trained; }
uint64_t fl_client_secure_rounds (const fl_client_t *self) { return self->secure_done[FL_SESSION_PURPOSE_TRAIN]; }
uint64_t
fl_client_secure_count (const fl_client_t *self, unsigned purpose)
{
    return purpose <= FL_SESSION_PURPOSE_MAX ? self->secure_done[purpose] : 0;
}
