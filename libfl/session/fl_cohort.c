/*  fl_cohort.c - one aggregation of one purpose over buckets (see
    fl_cohort.h for the picture and the invariants).

    Why one room for secure and plaintext: the design asks for plaintext
    as the degenerate bucket.  Bucket assignment, membership in the peer
    table, deadlines, who is left out, and the results the round reads are
    the same code; only how a bucket's sum is formed differs (a secure
    aggregation's unmasking, or the coordinator adding what it sees).

    Bucket lifecycle:

        start --> open --(all replies / deadline)--> finished --> results --> end
                    \--(secure: server DONE or ABORTED)--/
*/
#include "fl_cohort.h"

#include <assert.h>
#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fl_dp.h"
#include "fl_metrics_wire.h"
#include "fl_quant.h"
#include "fl_roster.h"
#include "fl_secagg.h"
#include "fl_secagg_wire.h"

#define s_purpose_name fl_session_purpose_name

/* One bucket: one secure aggregation, or one plaintext sum. */
typedef struct {
    fl_secagg_server_t *srv;         /* secure: its server until it finishes */
    uint32_t n;
    size_t *members;                 /* (n) peer indices, in bucket order */
    fl_quant_encoding_t enc;         /* secure training: the bucket's encoding */
    double dp_sigma_i;               /* distributed DP: each member's noise (grid units), 0 = none */
    uint32_t dp_t;                   /* distributed DP: fewest honest noise shares a surviving sum holds */
    int64_t deadline;                /* secure: of the current phase */
    int state;                       /* secure: server state last seen */
    int finished;                    /* 1: over (and, secure, handled) */
    int ok;                          /* 1: its sum is usable */
    uint32_t survivors;              /* contributors in the sum (secure: |U3|) */
    double *sum;                     /* training: (n_params + 2 + extra) sum: Σ wΔ, Σ w, Σ w·loss (, Σ (b_i - 1/2)) */
    uint32_t *raw;                   /* secure statistics / evaluation: (m_enc) unmasked sum */
    uint64_t rows;                   /* ... and the survivors' announced training (statistics) or test
                                        (evaluation) rows: the summed count cannot honestly exceed it */
    fl_stats_t *stats;               /* plaintext statistics: the members' merged statistics */
    fl_metrics_counts_t counts;      /* plaintext evaluation: the members' merged counts */
    const uint8_t **ids;             /* secure: the member ids announced, (n), borrowed from the roster */
    size_t *id_lens;
    fl_session_announce_t *an;       /* secure: (n) each member's session, pointed to by its invitation */
} s_bucket_t;

typedef struct s_item_t {
    fl_cohort_out_t out;
    struct s_item_t *next;
} s_item_t;

struct fl_cohort_t {
    fl_cohort_config_t cfg;
    fl_peers_t *peers;               /* borrowed */
    fl_privacy_t *privacy;           /* borrowed, or NULL */

    fl_cohort_spec_t spec;           /* the current aggregation (binding, run id borrowed) */
    int active;                      /* an aggregation started and has not ended */
    s_bucket_t *buckets;
    size_t n_buckets;
    size_t m_enc;                    /* secure: the encoded vector's length */
    uint32_t *cohort;                /* secure: the cohort in roster order (announced) */
    size_t cohort_len;
    int64_t deadline;                /* plaintext: the aggregation's deadline */
    int expired;                     /* plaintext: the deadline passed */

    int secure_started;              /* a secure bucket has started in this run */
    double sa_dropout_used;          /* auto dropout: the smallest chosen so far (-1: none yet) */
    uint32_t sa_auto_logged_n;       /* auto dropout: the bucket size last logged */

    s_item_t *head, *tail;
};

static fl_peer_t *
s_peer (const fl_cohort_t *self, size_t i)
{
    return fl_peers_at (self->peers, i);
}

/*  Coordinates each training contribution carries after [update, count,
    loss] (adaptive clipping: the shifted unclipped indicator). */
static size_t
s_extra (const fl_cohort_t *self)
{
    return self->privacy ? fl_privacy_extra_coords (self->privacy) : 0;
}

#ifndef NDEBUG
static int
s_invariants (const fl_cohort_t *self)
{
    size_t n = fl_peers_size (self->peers);
    for (size_t i = 0; i < n; i++) {
        const fl_peer_t *p = fl_peers_at (self->peers, i);
        if (p->sa_bucket < 0)
            continue;
        if ((size_t) p->sa_bucket >= self->n_buckets)
            return 0;
        const s_bucket_t *bk = &self->buckets[p->sa_bucket];
        if (p->sa_index >= bk->n || bk->members[p->sa_index] != i)
            return 0;
    }
    for (size_t b = 0; b < self->n_buckets; b++)
        if (self->buckets[b].finished && self->buckets[b].srv)
            return 0;
    return 1;
}
#endif

/* ---- construction ------------------------------------------------------- */

fl_cohort_t *
fl_cohort_new (const fl_cohort_config_t *cfg, fl_peers_t *peers, fl_privacy_t *privacy)
{
    assert (cfg && peers);
    fl_cohort_t *self = (fl_cohort_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->peers = peers;
    self->privacy = privacy;
    self->sa_dropout_used = -1;
    return self;
}

static void
s_items_free (fl_cohort_t *self)
{
    while (self->head) {
        s_item_t *it = self->head;
        self->head = it->next;
        free (it->out.data);
        free (it);
    }
    self->tail = NULL;
}

void
fl_cohort_end (fl_cohort_t *self)
{
    assert (self);
    /* invitations not yet taken point into the buckets: they go too */
    s_item_t **pp = &self->head;
    self->tail = NULL;
    while (*pp) {
        s_item_t *it = *pp;
        if (!it->out.data) {
            *pp = it->next;
            free (it);
        }
        else {
            self->tail = it;
            pp = &it->next;
        }
    }
    for (size_t b = 0; b < self->n_buckets; b++) {
        s_bucket_t *bk = &self->buckets[b];
        fl_secagg_server_destroy (&bk->srv);
        free (bk->members);
        free (bk->sum);
        free (bk->raw);
        free (bk->ids);
        free (bk->id_lens);
        free (bk->an);
        fl_stats_destroy (&bk->stats);
    }
    free (self->buckets);
    self->buckets = NULL;
    self->n_buckets = 0;
    free (self->cohort);
    self->cohort = NULL;
    self->cohort_len = 0;
    self->active = 0;
    self->expired = 0;
    size_t n = fl_peers_size (self->peers);
    for (size_t i = 0; i < n; i++)
        fl_peers_at (self->peers, i)->sa_bucket = -1;
}

void
fl_cohort_destroy (fl_cohort_t **self_p)
{
    assert (self_p);
    fl_cohort_t *self = *self_p;
    if (!self)
        return;
    fl_cohort_end (self);
    s_items_free (self);
    free (self);
    *self_p = NULL;
}

/* ---- the outbox ----------------------------------------------------------- */

static s_item_t *
s_item_push (fl_cohort_t *self, size_t peer)
{
    s_item_t *it = (s_item_t *) calloc (1, sizeof *it);
    if (!it)
        return NULL;
    it->out.peer = peer;
    if (self->tail)
        self->tail->next = it;
    else
        self->head = it;
    self->tail = it;
    return it;
}

int
fl_cohort_next_out (fl_cohort_t *self, fl_cohort_out_t *out)
{
    assert (self && out);
    s_item_t *it = self->head;
    if (!it)
        return 0;
    self->head = it->next;
    if (!self->head)
        self->tail = NULL;
    *out = it->out;
    free (it);
    return 1;
}

/* Queues what the bucket's server has for its members. */
static void
s_bucket_flush (fl_cohort_t *self, size_t b)
{
    s_bucket_t *bk = &self->buckets[b];
    fl_secagg_msg_t *msg;
    while (bk->srv && (msg = fl_secagg_server_next_out (bk->srv))) {
        if (msg->receiver < bk->n) {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (fl_secagg_msg_to_wire (msg, self->spec.run_id, self->spec.round, (uint32_t) b, &buf, &len) == 0) {
                s_item_t *it = s_item_push (self, bk->members[msg->receiver]);
                if (it) {
                    it->out.data = buf;
                    it->out.len = len;
                }
                else
                    free (buf);
            }
        }
        fl_secagg_msg_destroy (&msg);
    }
}

/* ---- finishing a bucket ------------------------------------------------------ */

/* Every member of bucket b whose input is not in the sum (not in
   surv[0..count), the survivor set U3) missed a deadline: one log line
   each, so an operator sees who was left out of which round. */
static void
s_log_left_out (fl_cohort_t *self, size_t b, const uint32_t *surv, uint32_t count)
{
    s_bucket_t *bk = &self->buckets[b];
    for (uint32_t j = 0; j < bk->n; j++) {
        int in = 0;
        for (uint32_t i = 0; i < count && !in; i++)
            in = surv && surv[i] == j;
        if (in)
            continue;
        fl_peer_t *p = s_peer (self, bk->members[j]);
        p->misses++;
        zsys_warning ("coordinator: round %" PRIu64 " %s bucket %zu: %s missed a deadline (%d in a row); left out of "
                      "this round%s", self->spec.round, s_purpose_name (self->spec.purpose), b, p->name, p->misses,
                      surv ? "" : " (the bucket aborted)");
    }
}

/* A bucket's secure aggregation ended: decode its sum (checking it against
   the encoding's bound), or leave the bucket out.  Statistics and
   evaluation sums are kept raw and decoded with the results. */
static void
s_bucket_finish (fl_cohort_t *self, size_t b)
{
    s_bucket_t *bk = &self->buckets[b];
    uint64_t round = self->spec.round;
    uint32_t purpose = self->spec.purpose;
    bk->finished = 1;
    if (bk->srv && fl_secagg_server_state (bk->srv) == FL_SECAGG_SERVER_DONE && purpose != FL_SECAGG_PURPOSE_TRAIN) {
        const uint32_t *sum = NULL, *surv = NULL;
        size_t m = 0;
        uint32_t count = 0;
        bk->raw = (uint32_t *) malloc (self->m_enc * sizeof (uint32_t));
        if (bk->raw && fl_secagg_server_result (bk->srv, &sum, &m, &surv, &count) == 0 && m == self->m_enc
            && count > 0) {
            memcpy (bk->raw, sum, m * sizeof (uint32_t));
            bk->ok = 1;
            bk->survivors = count;
            bk->rows = 0;
            for (uint32_t i = 0; i < count; i++)
                if (surv[i] < bk->n) {
                    const fl_peer_t *p = s_peer (self, bk->members[surv[i]]);
                    bk->rows += purpose == FL_SECAGG_PURPOSE_STATS ? p->n_train : p->n_test;
                }
            zsys_info ("coordinator: round %" PRIu64 " %s bucket %zu: sum of %u masked inputs unmasked", round,
                       s_purpose_name (purpose), b, count);
            s_log_left_out (self, b, surv, count);
        }
        else
            zsys_error ("coordinator: round %" PRIu64 " %s bucket %zu: no usable sum; bucket left out", round,
                        s_purpose_name (purpose), b);
    }
    else if (bk->srv && fl_secagg_server_state (bk->srv) == FL_SECAGG_SERVER_DONE) {
        const uint32_t *sum = NULL, *surv = NULL;
        size_t m = 0;
        uint32_t count = 0;
        float *dec = (float *) malloc (self->m_enc * sizeof (float));
        bk->sum = (double *) calloc (self->m_enc, sizeof (double));
        if (dec && bk->sum && fl_secagg_server_result (bk->srv, &sum, &m, &surv, &count) == 0 && m == self->m_enc
            && fl_quant_decode_sum (sum, m, &bk->enc, count + (bk->enc.max_summands - bk->n), dec) == 0) {
            for (size_t i = 0; i < m; i++)
                bk->sum[i] = dec[i];
            bk->ok = 1;
            bk->survivors = count;
            zsys_info ("coordinator: round %" PRIu64 " bucket %zu: sum of %u masked inputs unmasked", round, b, count);
            s_log_left_out (self, b, surv, count);
        }
        else
            zsys_error ("coordinator: round %" PRIu64 " bucket %zu: the unmasked sum is out of the encoding's "
                        "range (wrapped or tampered); bucket left out", round, b);
        free (dec);
    }
    else
        zsys_warning ("coordinator: round %" PRIu64 " %s bucket %zu: secure aggregation aborted: %s; bucket left out",
                      round, s_purpose_name (purpose), b, bk->srv ? fl_secagg_server_error (bk->srv) : "not started");
    if (!bk->ok && bk->members)
        s_log_left_out (self, b, NULL, 0);
    fl_secagg_server_destroy (&bk->srv);      /* wipes what it held (invariant 2) */
}

/* Closes secure-aggregation phases early once everyone expected has
   answered, queues what the server has, restarts the phase deadline on a
   phase change, and finishes the bucket when its protocol ended. */
static void
s_bucket_progress (fl_cohort_t *self, size_t b, int64_t now)
{
    s_bucket_t *bk = &self->buckets[b];
    if (bk->finished)
        return;
    for (;;) {
        int st = (int) fl_secagg_server_state (bk->srv);
        if (st >= FL_SECAGG_SERVER_DONE)
            break;
        uint32_t got = fl_secagg_server_set_size (bk->srv, st + 1);
        uint32_t want = st == FL_SECAGG_SERVER_ADVERTISE ? bk->n : fl_secagg_server_set_size (bk->srv, st);
        if (got < want)
            break;
        fl_secagg_server_deadline (bk->srv);
    }
    s_bucket_flush (self, b);
    int st = (int) fl_secagg_server_state (bk->srv);
    if (st != bk->state) {
        bk->state = st;
        bk->deadline = now + self->cfg.secagg_deadline_ms;
    }
    if (st >= FL_SECAGG_SERVER_DONE)
        s_bucket_finish (self, b);
}

/* ---- starting an aggregation ------------------------------------------------ */

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

/*  TEST ONLY (tests/it_secure.sh, set by the driver from FL_TEST_WEAKEN_T):
    offers half the safe threshold (at least 2), as a malicious coordinator
    would; every client must refuse the session.  Logged loudly.  Returns 0
    so it can sit in an else-if chain. */
static int
s_test_weaken_threshold (const fl_cohort_t *self, uint32_t n, uint32_t *t)
{
    if (!self->cfg.test_weaken_threshold)
        return 0;
    uint32_t weak = *t / 2 < 2 ? 2 : *t / 2;
    zsys_warning ("coordinator: TEST HOOK FL_TEST_WEAKEN_T: offering threshold %u instead of %u to a bucket of %u "
                  "(clients must refuse)", weak, *t, n);
    *t = weak;
    return 0;
}

/*  Auto dropout (sa_dropout < 0): the largest assumed dropout fraction of
    0.25, 0.2, ... 0 with a safe (k, t) for a bucket of n
    (fl_secagg_params_choose_auto).  Privacy does not depend on it, only how
    many dropouts the bucket survives; logged when the bucket size changes
    and the smallest choice kept for the report. */
static int
s_auto_dropout (fl_cohort_t *self, uint32_t n, uint32_t *k, uint32_t *t)
{
    double d;
    if (fl_secagg_params_choose_auto (n, self->cfg.sa_corrupt, &d, k, t) != 0)
        return -1;
    if (self->sa_dropout_used < 0 || d < self->sa_dropout_used)
        self->sa_dropout_used = d;
    if (n != self->sa_auto_logged_n) {
        self->sa_auto_logged_n = n;
        zsys_info ("coordinator: buckets of %u: threshold t = %u of k = %u, tolerating up to %.0f%% dropouts "
                   "(the largest of 25%%, 20%%, ... 0 that is safe with %.0f%% colluding; privacy does not depend "
                   "on it; configure the assumed dropout fraction to fix it)", n, *t, *k, 100 * d,
                   100 * self->cfg.sa_corrupt);
    }
    return 0;
}

static const char *
s_dropout_text (const fl_cohort_t *self, char *buf, size_t cap)
{
    if (self->cfg.sa_dropout >= 0)
        snprintf (buf, cap, "%g", self->cfg.sa_dropout);
    else
        snprintf (buf, cap, "auto");
    return buf;
}

/*  Secure: buckets by the public rule every member re-derives
    (fl_secagg_buckets_derive, docs/SECAGG.md §4.1): the cohort in roster
    order, then a permutation keyed by (run, round, purpose, cohort, bucket
    count) alone.  One secure aggregation per bucket; each member invited
    with its bucket's session.  Only the vector (length m_enc), the binding
    and the decoding at the end differ between purposes. */
static int
s_start_secure (fl_cohort_t *self, const uint32_t *idx, size_t k, int64_t now, char *why_out, size_t cap)
{
    const fl_cohort_spec_t *sp = &self->spec;
    uint32_t purpose = sp->purpose;
    size_t B = self->cfg.bucket_size ? k / self->cfg.bucket_size : 1;
    if (B == 0)
        B = 1;
    if (purpose == FL_SECAGG_PURPOSE_STATS)
        self->m_enc = fl_stats_fixed_len (sp->features);
    else if (purpose == FL_SECAGG_PURPOSE_EVAL)
        self->m_enc = fl_metrics_counts_encoded_len (sp->classes);
    else
        self->m_enc = fl_session_update_words (sp->n_params, s_extra (self) > 0);   /* DP: + the unclipped indicator */
    self->buckets = (s_bucket_t *) calloc (B, sizeof (s_bucket_t));
    self->cohort = (uint32_t *) calloc (k ? k : 1, sizeof (uint32_t));
    uint32_t *order = (uint32_t *) calloc (k ? k : 1, sizeof (uint32_t));
    size_t *peer_of = (size_t *) calloc (k ? k : 1, sizeof (size_t));
    if (!self->buckets || self->m_enc == 0 || !self->cohort || !order || !peer_of) {
        free (order);
        free (peer_of);
        snprintf (why_out, cap, "out of memory");
        return -1;
    }
    self->cohort_len = k;
    uint32_t *cohort = self->cohort;
    for (size_t j = 0; j < k; j++)
        cohort[j] = (uint32_t) s_peer (self, idx[j])->roster_index;
    qsort (cohort, k, sizeof (uint32_t), s_cmp_u32);
    for (size_t j = 0; j < k; j++)
        for (size_t q = 0; q < k; q++)
            if ((uint32_t) s_peer (self, idx[q])->roster_index == cohort[j])
                peer_of[j] = idx[q];
    if (k && fl_secagg_buckets_derive (sp->run_id, sp->round, purpose, cohort, (uint32_t) k, (uint32_t) B, order)
                 != 0) {
        free (order);
        free (peer_of);
        snprintf (why_out, cap, "could not derive the buckets (a cohort member without a roster entry?)");
        return -1;
    }
    self->n_buckets = B;
    double max_abs = fl_session_encoding_max_abs (sp->clip_norm);
    fl_secagg_policy_t policy;
    fl_roster_policy (self->cfg.roster, &policy);
    /*  A pair shows each member the other's update: only when both the
        roster's policy and the coordinator's option allow it. */
    uint32_t min_bucket = policy.min_bucket > 3 ? policy.min_bucket
                        : self->cfg.allow_small_buckets ? policy.min_bucket : 3;
    int rc = 0;
    for (size_t b = 0; b < B; b++) {
        s_bucket_t *bk = &self->buckets[b];
        size_t lo = b * k / B, hi = (b + 1) * k / B;
        bk->n = (uint32_t) (hi - lo);
        bk->deadline = now + sp->deadline_ms;
        bk->members = (size_t *) calloc (bk->n ? bk->n : 1, sizeof (size_t));
        uint8_t *pks = (uint8_t *) calloc (bk->n ? bk->n : 1, 32);
        if (!bk->members || !pks) {
            free (pks);
            bk->finished = 1;
            continue;
        }
        for (uint32_t j = 0; j < bk->n; j++) {
            bk->members[j] = peer_of[order[lo + j]];
            memcpy (pks + 32 * j, fl_roster_identity_pk (self->cfg.roster, (size_t) s_peer (self, bk->members[j])->roster_index),
                    32);
        }
        uint32_t kk = bk->n, t = bk->n;
        const char *why = NULL;
        char pwhy[128];
        if (bk->n < 2)
            why = "fewer than 2 clients";
        else if (bk->n < min_bucket) {
            snprintf (pwhy, sizeof pwhy, "below the smallest secure bucket, %u (policy min_bucket %u)%s",
                      min_bucket, policy.min_bucket, bk->n == 2 ? ": each member would learn the other's update" : "");
            why = pwhy;
        }
        else if (bk->n >= 3 && self->cfg.sa_dropout >= 0
                 && fl_secagg_params_choose (bk->n, self->cfg.sa_corrupt, self->cfg.sa_dropout, &kk, &t) != 0)
            why = "no safe threshold for this bucket size and the assumed corrupt/dropout fractions "
                  "(lower the assumed dropout or corrupt fraction, or use larger buckets)";
        else if (bk->n >= 3 && self->cfg.sa_dropout < 0 && s_auto_dropout (self, bk->n, &kk, &t) != 0)
            why = "no safe threshold for this bucket size and the assumed colluding fraction even "
                  "assuming no dropout (lower the assumed corrupt fraction, or use larger buckets)";
        else if (s_test_weaken_threshold (self, bk->n, &t))
            ;                                   /* test hook: clients must refuse (tests/it_secure.sh) */
        else if (purpose == FL_SECAGG_PURPOSE_TRAIN
                 && (self->privacy ? fl_privacy_bucket_encoding (self->privacy, bk->n, t, sp->n_params, max_abs,
                                                                 &bk->enc, &bk->dp_sigma_i, &bk->dp_t)
                                   : fl_quant_encoding_init (&bk->enc, max_abs, bk->n)) != 0)
            why = "no encoding fits this bucket size";
        fl_secagg_config_t sc;
        memset (&sc, 0, sizeof sc);
        if (!why) {
            sc.version = FL_SECAGG_VERSION;
            memcpy (sc.run_id, sp->run_id, FL_SESSION_RUNIDBYTES);
            sc.round = sp->round;
            sc.bucket = (uint32_t) b;
            sc.purpose = purpose;
            sc.n = bk->n;
            sc.t = t;
            sc.graph = kk >= bk->n ? FL_SECAGG_GRAPH_COMPLETE : FL_SECAGG_GRAPH_HARARY;
            sc.k = kk;
            sc.m = self->m_enc;
            sc.roster_pks = pks;
            sc.round_binding = sp->binding;
            bk->srv = fl_secagg_server_new (&sc);
            if (!bk->srv)
                why = "secure aggregation could not start";
        }
        if (why) {
            char msg[512], dtext[32];
            snprintf (msg, sizeof msg, "round %" PRIu64 " %s bucket %zu (%u clients): %s (assumed corrupt "
                      "fraction %g, dropout fraction %s)", sp->round, s_purpose_name (purpose), b, bk->n, why,
                      self->cfg.sa_corrupt, s_dropout_text (self, dtext, sizeof dtext));
            free (pks);
            if (!self->secure_started) {
                /* the first aggregation already cannot run safely: a configuration error */
                snprintf (why_out, cap, "%s", msg);
                rc = -1;
                break;
            }
            /* later (clients vanished, the cohort shrank): leave the bucket out, keep going */
            zsys_error ("coordinator: %s; bucket left out", msg);
            bk->finished = 1;
            continue;
        }
        self->secure_started = 1;
        bk->state = (int) fl_secagg_server_state (bk->srv);
        /* the bucket's member list, the same in every member's invitation */
        bk->ids = (const uint8_t **) calloc (bk->n, sizeof *bk->ids);
        bk->id_lens = (size_t *) calloc (bk->n, sizeof *bk->id_lens);
        bk->an = (fl_session_announce_t *) calloc (bk->n, sizeof *bk->an);
        for (uint32_t q = 0; bk->ids && bk->id_lens && q < bk->n; q++) {
            const char *id = fl_roster_member_id (self->cfg.roster, (size_t) s_peer (self, bk->members[q])->roster_index);
            bk->ids[q] = (const uint8_t *) id;
            bk->id_lens[q] = strlen (id);
        }
        for (uint32_t j = 0; j < bk->n; j++) {
            fl_peer_t *p = s_peer (self, bk->members[j]);
            p->expected = 1;
            p->sa_bucket = (int) b;
            p->sa_index = j;
            s_item_t *it = bk->an ? s_item_push (self, bk->members[j]) : NULL;
            if (!it)
                continue;             /* out of memory: the member misses the round */
            bk->an[j] = (fl_session_announce_t) {.bucket = (uint32_t) b, .index = j, .n = bk->n, .t = t, .k = kk,
                                              .graph = sc.graph,
                                              .member_ids = bk->ids && bk->id_lens ? bk->ids : NULL,
                                              .member_lens = bk->id_lens, .cohort = cohort, .cohort_len = k,
                                              .buckets = B, .max_abs = max_abs, .summands = bk->enc.max_summands};
            it->out.announce = &bk->an[j];
            if (purpose == FL_SECAGG_PURPOSE_TRAIN && self->privacy)
                it->out.sigma_i = &bk->dp_sigma_i;
        }
        free (pks);
        zsys_info ("coordinator: round %" PRIu64 " %s bucket %zu: %u clients, threshold %u, %s graph (k = %u)",
                   sp->round, s_purpose_name (purpose), b, bk->n, t,
                   sc.graph == FL_SECAGG_GRAPH_COMPLETE ? "complete" : "Harary", kk);
    }
    free (order);
    free (peer_of);
    return rc;
}

/*  Plaintext: consecutive runs of idx.  Training with a robust rule: the
    same bucket sizes as a secure run; FedAvg, statistics and evaluation:
    one bucket (the coordinator sees every reply anyway). */
static int
s_start_plain (fl_cohort_t *self, const uint32_t *idx, size_t k, int64_t now)
{
    const fl_cohort_spec_t *sp = &self->spec;
    int train = sp->purpose == FL_SECAGG_PURPOSE_TRAIN;
    size_t B = train && self->cfg.robust ? k / self->cfg.bucket_size : 1;
    if (B == 0)
        B = 1;
    self->buckets = (s_bucket_t *) calloc (B, sizeof (s_bucket_t));
    if (!self->buckets)
        return -1;
    self->n_buckets = B;
    self->deadline = now + sp->deadline_ms;
    for (size_t b = 0; b < B; b++) {
        s_bucket_t *bk = &self->buckets[b];
        size_t lo = b * k / B, hi = (b + 1) * k / B;
        bk->n = (uint32_t) (hi - lo);
        bk->members = (size_t *) calloc (bk->n ? bk->n : 1, sizeof (size_t));
        if (!bk->members)
            return -1;
        if (train && !(bk->sum = (double *) calloc (sp->n_params + 2 + s_extra (self), sizeof (double))))
            return -1;
        if (sp->purpose == FL_SECAGG_PURPOSE_STATS && !(bk->stats = fl_stats_new (sp->features)))
            return -1;
        if (sp->purpose == FL_SECAGG_PURPOSE_EVAL)
            fl_metrics_counts_init (&bk->counts);
        for (uint32_t j = 0; j < bk->n; j++) {
            bk->members[j] = idx[lo + j];
            fl_peer_t *p = s_peer (self, idx[lo + j]);
            p->sa_bucket = (int) b;
            p->sa_index = j;
        }
    }
    /* invitations in the order of idx (the cohort's sampling order) */
    for (size_t j = 0; j < k; j++) {
        s_peer (self, idx[j])->expected = 1;
        if (!s_item_push (self, idx[j]))
            return -1;
    }
    return 0;
}

int
fl_cohort_start (fl_cohort_t *self, const fl_cohort_spec_t *spec, const uint32_t *idx, size_t k, int64_t now_ms,
                 char *why, size_t cap)
{
    assert (self && spec && (idx || k == 0) && why && cap);
    fl_cohort_end (self);
    self->spec = *spec;
    self->active = 1;
    int rc = self->cfg.secure ? s_start_secure (self, idx, k, now_ms, why, cap)
                              : s_start_plain (self, idx, k, now_ms);
    if (rc != 0) {
        if (!self->cfg.secure)
            snprintf (why, cap, "out of memory");
        s_items_free (self);
        fl_cohort_end (self);
        return -1;
    }
    assert (s_invariants (self));
    return 0;
}

/* ---- incoming ------------------------------------------------------------- */

static int
s_verdict (int v, char *why, size_t cap, const char *text)
{
    snprintf (why, cap, "%s", text);
    return v;
}

static int
s_on_stats (fl_cohort_t *self, s_bucket_t *bk, const fl_wire_msg_t *m, char *why, size_t cap)
{
    size_t d = self->spec.features;
    uint64_t count = 0;
    if (fl_wire_get_u64 (m, FL_K_COUNT, &count) != 0)
        return s_verdict (FL_COHORT_VIOLATION, why, cap, "no count");
    double *sum = (double *) calloc (2 * d + 1, sizeof (double));
    if (!sum)
        return s_verdict (FL_COHORT_IGNORED, why, cap, "out of memory");
    double *sumsq = sum + d;
    int ok = fl_wire_copy_f64s (m, FL_K_SUM, sum, d) == 0 && fl_wire_copy_f64s (m, FL_K_SUMSQ, sumsq, d) == 0;
    for (size_t i = 0; ok && i < d; i++)
        ok = isfinite (sum[i]) && isfinite (sumsq[i]) && sumsq[i] >= 0;
    if (!ok || count == 0 || count > ((uint64_t) 1 << 40)) {
        free (sum);
        return s_verdict (FL_COHORT_VIOLATION, why, cap,
                          "vectors of the wrong length, non-finite values or a bad count");
    }
    fl_stats_t *one = fl_stats_from_arrays (d, count, sum, sumsq);
    int rc = one ? fl_stats_merge (bk->stats, one) : -1;
    fl_stats_destroy (&one);
    free (sum);
    if (rc != 0)
        return s_verdict (FL_COHORT_VIOLATION, why, cap, "statistics could not be merged");
    bk->survivors++;
    return FL_COHORT_ACCEPTED;
}

/* Plaintext buckets: sums of weighted updates (FedAvg: the example count
   capped at example_cap; a robust rule: unweighted), finite values only. */
static int
s_on_update (fl_cohort_t *self, s_bucket_t *bk, const fl_wire_msg_t *m, char *why, size_t cap)
{
    size_t np = self->spec.n_params;
    int robust = self->cfg.robust;
    uint64_t n = 0;
    double loss = 0;
    if (fl_wire_get_u64 (m, FL_K_N, &n) != 0 || fl_wire_get_f64 (m, FL_K_LOSS, &loss) != 0)
        return s_verdict (FL_COHORT_VIOLATION, why, cap, "missing fields");
    float *delta = (float *) malloc ((np ? np : 1) * sizeof (float));
    if (!delta)
        return s_verdict (FL_COHORT_IGNORED, why, cap, "out of memory");
    int v = FL_COHORT_ACCEPTED;
    if (fl_wire_copy_f32s (m, FL_K_DELTA, delta, np) != 0)
        v = s_verdict (FL_COHORT_VIOLATION, why, cap, "update vector has the wrong length");
    else if (!robust && n == 0)
        v = s_verdict (FL_COHORT_VIOLATION, why, cap, "non-finite values or zero examples");
    for (size_t i = 0; v == FL_COHORT_ACCEPTED && i < np; i++)
        if (!isfinite (delta[i]))
            v = s_verdict (FL_COHORT_VIOLATION, why, cap,
                           robust ? "non-finite values" : "non-finite values or zero examples");
    if (v != FL_COHORT_ACCEPTED) {
        free (delta);
        return v;
    }
    double norm = 0;
    if (self->privacy)           /* the bound every sensitivity rests on (fl_privacy_release) */
        norm = fl_dp_clip_l2 (delta, np, fl_privacy_clip_norm (self->privacy));
    if (s_extra (self))
        bk->sum[np + 2] += fl_privacy_indicator (self->privacy, norm);
    uint64_t cap_w = self->cfg.example_cap;
    uint64_t w = robust ? 1 : cap_w && n > cap_w ? cap_w : n;
    for (size_t i = 0; i < np; i++)
        bk->sum[i] += (double) w * delta[i];
    bk->sum[np] += (double) w;
    /* a non-finite loss counts as 0 (it cannot poison the reported mean) */
    bk->sum[np + 1] += (double) w * (isfinite (loss) && (loss >= 0 || !robust) ? loss : 0);
    bk->survivors++;
    free (delta);
    return FL_COHORT_ACCEPTED;
}

static int
s_on_eval (s_bucket_t *bk, const fl_wire_msg_t *m, char *why, size_t cap)
{
    fl_metrics_counts_t c;
    if (fl_metrics_counts_from_wire (m, &c) != 0)
        return s_verdict (FL_COHORT_VIOLATION, why, cap, "malformed evaluation counts");
    fl_metrics_counts_merge (&bk->counts, &c);
    bk->survivors++;
    return FL_COHORT_ACCEPTED;
}

int
fl_cohort_on_contribution (fl_cohort_t *self, size_t peer, const fl_wire_msg_t *m, char *why, size_t cap)
{
    assert (self && m && why && cap);
    assert (!self->cfg.secure);
    why[0] = 0;
    fl_peer_t *p = s_peer (self, peer);
    if (!self->active || p->sa_bucket < 0 || (size_t) p->sa_bucket >= self->n_buckets)
        return s_verdict (FL_COHORT_IGNORED, why, cap, "peer is in no bucket of this round");
    s_bucket_t *bk = &self->buckets[p->sa_bucket];
    switch (self->spec.purpose) {
    case FL_SECAGG_PURPOSE_STATS: return s_on_stats (self, bk, m, why, cap);
    case FL_SECAGG_PURPOSE_TRAIN: return s_on_update (self, bk, m, why, cap);
    default: return s_on_eval (bk, m, why, cap);
    }
}

int
fl_cohort_on_secagg (fl_cohort_t *self, size_t peer, const fl_wire_msg_t *m, int64_t now_ms, char *why, size_t cap)
{
    assert (self && m && why && cap);
    why[0] = 0;
    fl_peer_t *p = s_peer (self, peer);
    if (!self->cfg.secure || !self->active || !self->buckets || fl_wire_round (m) != self->spec.round
        || p->sa_bucket < 0)
        return s_verdict (FL_COHORT_IGNORED, why, cap, "no secure aggregation of this round includes this peer (late?)");
    uint32_t bucket = 0;
    fl_secagg_msg_t *msg = fl_secagg_msg_from_wire (m, &bucket, why, cap);
    if (!msg)
        return FL_COHORT_VIOLATION;
    if (bucket != (uint32_t) p->sa_bucket || bucket >= self->n_buckets || self->buckets[bucket].finished) {
        fl_secagg_msg_destroy (&msg);
        return s_verdict (FL_COHORT_IGNORED, why, cap, "not for the peer's bucket, or the bucket has finished");
    }
    msg->sender = p->sa_index;            /* the transport identity decides who is speaking */
    s_bucket_t *bk = &self->buckets[bucket];
    int rc = fl_secagg_server_handle (bk->srv, msg);
    fl_secagg_msg_destroy (&msg);
    if (rc != 0) {
        zsys_warning ("coordinator: peer %s: rejected SECAGG: %s", p->name, fl_secagg_server_error (bk->srv));
        return FL_COHORT_IGNORED;             /* logged here: why stays empty */
    }
    s_bucket_progress (self, bucket, now_ms);
    assert (s_invariants (self));
    return FL_COHORT_ACCEPTED;
}

/* ---- time -------------------------------------------------------------------- */

static const char *
s_phase_name (uint32_t purpose)
{
    return purpose == FL_SECAGG_PURPOSE_STATS ? "stats" : purpose == FL_SECAGG_PURPOSE_TRAIN ? "train" : "evaluate";
}

static size_t
s_pending (const fl_cohort_t *self)
{
    size_t n = 0, np = fl_peers_size (self->peers);
    for (size_t i = 0; i < np; i++) {
        const fl_peer_t *p = fl_peers_at (self->peers, i);
        n += p->expected && !p->answered;
    }
    return n;
}

int
fl_cohort_tick (fl_cohort_t *self, int64_t now_ms)
{
    assert (self);
    if (!self->active)
        return 0;
    int passed = 0;
    if (self->cfg.secure) {
        for (size_t b = 0; b < self->n_buckets; b++) {
            s_bucket_t *bk = &self->buckets[b];
            if (bk->finished || now_ms < bk->deadline)
                continue;
            fl_secagg_server_deadline (bk->srv);
            bk->state = -1;                     /* force a fresh deadline if it continues */
            s_bucket_progress (self, b, now_ms);
            passed = 1;
        }
        return passed;
    }
    if (self->expired || now_ms < self->deadline)
        return 0;
    self->expired = 1;
    size_t late = s_pending (self);
    const char *phase = s_phase_name (self->spec.purpose);
    if (late)
        zsys_warning ("coordinator: round %" PRIu64 " %s: deadline passed, %zu client(s) dropped", self->spec.round,
                      phase, late);
    size_t np = fl_peers_size (self->peers);
    for (size_t i = 0; i < np; i++) {
        fl_peer_t *p = fl_peers_at (self->peers, i);
        if (p->expected && !p->answered) {
            p->expected = 0;
            ++p->misses;
            zsys_warning ("coordinator: round %" PRIu64 " %s: %s missed the deadline (%d in a row); left out "
                          "of this round, a late reply will be discarded", self->spec.round, phase, p->name,
                          p->misses);
            if (p->misses == 2 && p->ready) {
                p->ready = 0;
                zsys_warning ("coordinator: %s missed two deadlines in a row; not sampled until "
                              "it is heard from again", p->name);
            }
        }
    }
    return 1;
}

int64_t
fl_cohort_next_timeout (const fl_cohort_t *self, int64_t now_ms)
{
    assert (self);
    if (!self->active)
        return -1;
    if (!self->cfg.secure)
        return self->deadline > now_ms ? self->deadline - now_ms : 0;
    int64_t best = -1;
    for (size_t b = 0; b < self->n_buckets; b++)
        if (!self->buckets[b].finished) {
            int64_t left = self->buckets[b].deadline > now_ms ? self->buckets[b].deadline - now_ms : 0;
            if (best < 0 || left < best)
                best = left;
        }
    return best;
}

int
fl_cohort_done (const fl_cohort_t *self)
{
    assert (self);
    if (!self->active)
        return 0;
    if (!self->cfg.secure)
        return s_pending (self) == 0;
    for (size_t b = 0; b < self->n_buckets; b++)
        if (!self->buckets[b].finished)
            return 0;
    return 1;
}

size_t
fl_cohort_buckets (const fl_cohort_t *self)
{
    assert (self);
    return self->n_buckets;
}

/* ---- results ------------------------------------------------------------------- */

size_t
fl_cohort_train (const fl_cohort_t *self, fl_strategy_bucket_t *out, size_t *unusable)
{
    assert (self && (out || self->n_buckets == 0));
    int secure = self->cfg.secure;
    size_t nb = 0, bad = 0;
    for (size_t b = 0; b < self->n_buckets; b++) {
        const s_bucket_t *bk = &self->buckets[b];
        if (!(secure ? bk->ok : bk->survivors > 0) || !bk->sum) {
            bad += secure || self->cfg.robust;
            continue;
        }
        out[nb].sum = bk->sum;
        out[nb].n = bk->n;
        out[nb].survivors = bk->survivors;
        out[nb].scale = secure ? bk->enc.scale : 0;
        out[nb].sigma_i = bk->dp_sigma_i;
        out[nb].honest_t = bk->dp_t;
        out[nb].bucket = b;
        nb++;
    }
    if (unusable)
        *unusable = bad;
    return nb;
}

int
fl_cohort_stats (const fl_cohort_t *self, fl_stats_t *into, size_t *ok, size_t *members)
{
    assert (self && into && ok && members);
    *ok = *members = 0;
    size_t d = self->spec.features;
    for (size_t b = 0; b < self->n_buckets; b++) {
        const s_bucket_t *bk = &self->buckets[b];
        if (!self->cfg.secure) {
            if (bk->stats && fl_stats_merge (into, bk->stats) != 0)
                return -1;
            *ok += 1;
            *members += bk->survivors;
            continue;
        }
        if (!bk->ok)
            continue;
        fl_stats_t *one = fl_stats_from_fixed (d, bk->raw, self->m_enc, bk->survivors);
        if (one && fl_stats_count (one) > bk->rows) {
            zsys_error ("coordinator: round 0 statistics bucket %zu: %" PRIu64 " rows summed, more than the %" PRIu64
                        " its members announced", b, fl_stats_count (one), bk->rows);
            fl_stats_destroy (&one);
        }
        if (!one || fl_stats_merge (into, one) != 0)
            zsys_error ("coordinator: round 0 statistics bucket %zu: the unmasked sums are invalid (wrapped or "
                        "tampered); bucket left out", b);
        else {
            *ok += 1;
            *members += bk->survivors;
        }
        fl_stats_destroy (&one);
    }
    return 0;
}

void
fl_cohort_eval (const fl_cohort_t *self, fl_metrics_counts_t *acc, size_t *clients, size_t *ok)
{
    assert (self && acc && clients && ok);
    *clients = *ok = 0;
    for (size_t b = 0; b < self->n_buckets; b++) {
        const s_bucket_t *bk = &self->buckets[b];
        if (!self->cfg.secure) {
            fl_metrics_counts_merge (acc, &bk->counts);
            *clients += bk->survivors;
            *ok += 1;
            continue;
        }
        fl_metrics_counts_t c;
        if (!bk->ok)
            continue;
        if (fl_metrics_counts_decode (bk->raw, self->m_enc, self->spec.classes, bk->survivors, &c) != 0
            || c.n > bk->rows) {
            zsys_error ("coordinator: round %" PRIu64 " evaluation bucket %zu: the unmasked counts are "
                        "inconsistent (wrapped or tampered, or more rows than its members announced); bucket left "
                        "out", self->spec.round, b);
            continue;
        }
        fl_metrics_counts_merge (acc, &c);
        *clients += bk->survivors;
        *ok += 1;
    }
}

/* ---- what the round reports ---------------------------------------------------------- */

int
fl_cohort_secure_state (const fl_cohort_t *self)
{
    assert (self);
    int least = -1;
    for (size_t b = 0; b < self->n_buckets; b++)
        if (!self->buckets[b].finished && self->buckets[b].srv) {
            int st = (int) fl_secagg_server_state (self->buckets[b].srv);
            if (least < 0 || st < least)
                least = st;
        }
    return least;
}

double
fl_cohort_sa_dropout_used (const fl_cohort_t *self)
{
    assert (self);
    return self->sa_dropout_used;
}
