/*  fl_client_secure.c - a member's side of a bucket's secure aggregation:
    the checks it makes of the session the coordinator announces, against
    its own roster and the consortium's policy (never the coordinator's
    numbers), and the fl_secagg client it runs for statistics, training
    and evaluation alike (docs/SECAGG.md).  Part of the client class
    (fl_client_priv.h).

        request with a session --parse & check--> refuse (logged)
                                     \--> begin: signed key advertisement
        SECAGG --> fl_secagg client --> reply, DONE (counted) or ABORTED
*/
#include "fl_client_priv.h"

/* Re-derives our bucket from the cohort list and the bucket count with the
   public rule (fl_secagg_buckets_derive) and checks that the announced
   bucket, our index in it and its member list are exactly that: the
   coordinator chooses the cohort, not who shares a bucket with whom.
   NULL if it matches, else why (into buf). */
static const char *
s_verify_bucket (fl_client_t *self, const fl_wire_msg_t *m, const fl_client_session_t *ss, uint32_t purpose,
                 char *buf, size_t cap)
{
    const uint32_t *cohort = ss->an.cohort;
    size_t count = ss->an.cohort_len;
    uint64_t buckets = ss->an.buckets;
    size_t roster_n = fl_roster_size (self->roster);
    int me = fl_roster_find_by_id (self->roster, self->member);
    if (!ss->an.have_cohort)
        return "no cohort list or bucket count: the bucket cannot be verified";
    if (count == 0 || count > roster_n || buckets == 0 || buckets > count) {
        snprintf (buf, cap, "cohort of %zu members in %" PRIu64 " buckets is out of range (roster of %zu)", count,
                  buckets, roster_n);
        return buf;
    }
    for (size_t i = 0; i < count; i++)
        if (cohort[i] >= roster_n || (i > 0 && cohort[i] <= cohort[i - 1])) {
            snprintf (buf, cap, "cohort list is not in roster order at entry %zu (roster position %u)", i, cohort[i]);
            return buf;
        }
    uint32_t *order = (uint32_t *) malloc (count * sizeof (uint32_t));
    if (!order || fl_secagg_buckets_derive (self->run_id, fl_wire_round (m), purpose, cohort, (uint32_t) count,
                                            (uint32_t) buckets, order) != 0) {
        free (order);
        return "could not derive the buckets";
    }
    const char *why = NULL;
    size_t pos = count;
    for (size_t i = 0; i < count && me >= 0; i++)
        if (cohort[order[i]] == (uint32_t) me)
            pos = i;
    size_t b = 0;
    while (b + 1 < buckets && (b + 1) * count / buckets <= pos)
        b++;
    size_t lo = b * count / buckets, hi = (b + 1) * count / buckets;
    if (pos == count)
        why = "the cohort list does not include this client";
    else if (b != ss->an.bucket || hi - lo != ss->an.n || pos - lo != ss->an.index) {
        snprintf (buf, cap, "bucket %u (index %u, %u members) offered, the public rule puts this client in bucket "
                  "%zu (index %zu, %zu members)", ss->an.bucket, ss->an.index, ss->an.n, b, pos - lo, hi - lo);
        why = buf;
    }
    for (uint32_t j = 0; !why && j < ss->an.n; j++) {
        char id[160];
        fl_session_announce_member (m, j, id, sizeof id);
        if (fl_roster_find_by_id (self->roster, id) != (int) cohort[order[lo + j]]) {
            snprintf (buf, cap, "bucket member %u is '%s', the public rule puts '%s' there", j, id,
                      fl_roster_member_id (self->roster, cohort[order[lo + j]]));
            why = buf;
        }
    }
    free (order);
    return why;
}

/* Validates the session against our own roster before anything is trained
   or revealed: we must be listed at our index, every member must be in the
   roster (a sybil or unknown key is refused), sizes and encoding consistent,
   the threshold, graph and bucket size no weaker than the consortium's
   policy (fl_secagg_policy_check, from our roster), and the bucket the one
   the public rule gives (s_verify_bucket).  what: the request's name for
   log lines; purpose: FL_SESSION_PURPOSE_* (TRAIN also carries the
   clipping and encoding parameters of the update, fl_session_announce_get). */
int
fl_client_parse_session_ (fl_client_t *self, const fl_wire_msg_t *m, fl_client_session_t *ss, const char *what, uint32_t purpose)
{
    memset (ss, 0, sizeof *ss);
    const char *why = NULL;
    char awhy[160];
    if (fl_session_announce_get (m, purpose, &ss->an, awhy, sizeof awhy) != 0) {
        zsys_warning ("client %s: rejected %s: %s", self->member, what, awhy);
        return -1;
    }
    uint32_t n = ss->an.n;
    /*  The consortium's policy, recomputed here from our own roster: the
        coordinator's numbers are an offer, not an instruction. */
    fl_secagg_policy_t policy;
    char pwhy[320];
    fl_roster_policy (self->roster, &policy);
    if (fl_secagg_policy_check (&policy, n, ss->an.t, ss->an.graph, ss->an.k, &ss->t_policy, pwhy, sizeof pwhy) != 0) {
        zsys_error ("client %s: refused %s of round %" PRIu64 ": secure-aggregation session weaker than the "
                    "consortium's policy: %s", self->member, what, fl_wire_round (m), pwhy);
        return -1;
    }
    ss->colluders = (uint32_t) ceil (policy.gamma * (double) n - 1e-9);
    /* the encoding's headroom (summands) is checked by s_dp_session (fl_dp_dist_check) */
    ss->pks = (uint8_t *) calloc (n, 32);
    int *seen = (int *) calloc (fl_roster_size (self->roster) + 1, sizeof (int));
    if (!ss->pks || !seen) {
        free (ss->pks);
        free (seen);
        ss->pks = NULL;
        return -1;
    }
    for (uint32_t j = 0; j < ss->an.n && !why; j++) {
        char id[160];
        fl_session_announce_member (m, j, id, sizeof id);
        int ri = fl_roster_find_by_id (self->roster, id);
        if (ri < 0) {
            zsys_warning ("client %s: rejected %s: bucket lists '%s', who is not in the roster", self->member, what, id);
            why = "unknown member";
        }
        else if (seen[ri]++)
            why = "a member listed twice";
        else if (j == ss->an.index && strcmp (id, self->member) != 0)
            why = "our index in the bucket names another member";
        else
            memcpy (ss->pks + 32 * j, fl_roster_identity_pk (self->roster, (size_t) ri), 32);
    }
    free (seen);
    if (why) {
        zsys_warning ("client %s: rejected %s: %s", self->member, what, why);
        free (ss->pks);
        ss->pks = NULL;
        return -1;
    }
    char bwhy[320];
    if ((why = s_verify_bucket (self, m, ss, purpose, bwhy, sizeof bwhy)) != NULL) {
        zsys_error ("client %s: refused %s of round %" PRIu64 ": bucket not formed by the public rule: %s",
                    self->member, what, fl_wire_round (m), why);
        free (ss->pks);
        ss->pks = NULL;
        return -1;
    }
    return 0;
}

/* Starts this client's part of a bucket's secure aggregation of purpose
   over the encoded input enc (m words; copied into the session's guarded
   memory), signing binding in the consistency check, and queues the signed
   key advertisement.  A previous session is dropped (wiped). */
int
fl_client_secure_begin_ (fl_client_t *self, uint64_t round, const fl_client_session_t *ss, uint32_t purpose, const uint32_t *enc,
                size_t m, const uint8_t binding[32])
{
    fl_secagg_config_t sc;
    memset (&sc, 0, sizeof sc);
    sc.version = FL_SECAGG_VERSION;
    memcpy (sc.run_id, self->run_id, 16);
    sc.round = round;
    sc.bucket = ss->an.bucket;
    sc.purpose = purpose;
    sc.n = ss->an.n;
    sc.t = ss->an.t;
    sc.graph = ss->an.graph;
    sc.k = ss->an.k;
    sc.m = m;
    sc.roster_pks = ss->pks;
    sc.my_index = ss->an.index;
    sc.id_secret_key = self->identity_secret;
    sc.round_binding = binding;
    fl_secagg_policy_t policy;
    fl_roster_policy (self->roster, &policy);
    sc.policy = &policy;                 /* checked in s_parse_session too: the state machine re-checks */
    fl_secagg_client_destroy (&self->sa);
    self->sa = fl_secagg_client_new (&sc);
    fl_secagg_msg_t *out = NULL;
    if (!self->sa || fl_secagg_client_set_input (self->sa, enc) != 0 || fl_secagg_client_start (self->sa, &out) != 0) {
        zsys_error ("client %s: secure aggregation could not start", self->member);
        fl_secagg_client_destroy (&self->sa);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fl_secagg_msg_to_wire (out, self->run_id, round, ss->an.bucket, &buf, &len) == 0)
        fl_client_enqueue_raw_ (self, buf, len);
    fl_secagg_msg_destroy (&out);
    self->sa_round = round;
    self->sa_bucket = ss->an.bucket;
    self->sa_purpose = purpose;
    return 0;
}

/*  A request with a secure-aggregation session ("sa_bucket") needs our
    keys; one without it needs allow_plaintext.  Returns 1 secure, 0 plaintext,
    -1 refused (logged). */
int
fl_client_secure_or_plain_ (fl_client_t *self, const fl_wire_msg_t *m, const char *what, const char *payload)
{
    int secure = fl_session_announce_present (m);
    if (secure && !(self->roster && self->identity_secret)) {
        zsys_error ("client %s: the coordinator runs secure aggregation, but this client has no roster and "
                    "identity key", self->member);
        return -1;
    }
    if (!secure && !self->allow_plaintext) {
        zsys_error ("client %s: refused %s of round %" PRIu64 ": the coordinator asked for unmasked %s, and "
                    "this client takes part in secure aggregation only (plaintext rounds are not allowed)", self->member,
                    what, fl_wire_round (m), payload);
        return -1;
    }
    return secure;
}

int
fl_client_on_secagg_ (fl_client_t *self, const fl_wire_msg_t *m)
{
    char why[160];
    if (!self->sa || fl_wire_round (m) != self->sa_round) {
        zsys_warning ("client %s: rejected SECAGG: no secure aggregation of round %" PRIu64 " in progress",
                      self->member, fl_wire_round (m));
        return 0;
    }
    uint32_t bucket = 0;
    fl_secagg_msg_t *in = fl_secagg_msg_from_wire (m, &bucket, why, sizeof why);
    if (!in || bucket != self->sa_bucket) {
        zsys_warning ("client %s: rejected SECAGG: %s", self->member, in ? "another bucket" : why);
        fl_secagg_msg_destroy (&in);
        return 0;
    }
    fl_secagg_msg_t *out = NULL;
    int rc = fl_secagg_client_handle (self->sa, in, &out);
    fl_secagg_msg_destroy (&in);
    if (rc != 0) {
        zsys_error ("client %s: secure aggregation of round %" PRIu64 " aborted: %s", self->member, self->sa_round,
                    fl_secagg_client_error (self->sa));
        fl_secagg_client_destroy (&self->sa);
        return 0;
    }
    if (out) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (fl_secagg_msg_to_wire (out, self->run_id, self->sa_round, self->sa_bucket, &buf, &len) == 0)
            fl_client_enqueue_raw_ (self, buf, len);
        fl_secagg_msg_destroy (&out);
    }
    fl_secagg_client_state_t st = fl_secagg_client_state (self->sa);
    if (st == FL_SECAGG_CLIENT_DONE) {
        self->secure_done[self->sa_purpose]++;
        fl_secagg_client_destroy (&self->sa);
    }
    else if (st == FL_SECAGG_CLIENT_ABORTED) {
        zsys_warning ("client %s: the coordinator aborted secure aggregation of round %" PRIu64 ": %s", self->member,
                      self->sa_round, fl_secagg_client_error (self->sa));
        fl_secagg_client_destroy (&self->sa);
    }
    return 1;
}

