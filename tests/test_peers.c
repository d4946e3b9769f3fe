/*  test_peers - the coordinator's peer table (fl_peers) on its own, played
    from the attacker's side: a connection that reuses another member's
    routing id, an impostor naming a roster member it did not authenticate
    as, a non-member, a flood of unknown peers, a peer that keeps breaking
    the protocol; and the honest paths (reconnect, re-HELLO, liveness). */
#include "fl_test.h"

#include <czmq.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "fl_peers.h"
#include "fl_roster.h"

static const uint8_t ID_A[] = {0, 1, 2, 3, 4};
static const uint8_t ID_B[] = {0, 9, 9, 9, 9};
static const uint8_t ID_A2[] = {0, 7, 7, 7, 7};

static void
test_pinning_and_reconnect (void)
{
    fl_peers_t *t = fl_peers_new (10);
    FL_CHECK (t != NULL);
    fl_peer_t *a = fl_peers_route (t, ID_A, sizeof ID_A, "alice");
    FL_CHECK (a != NULL);
    FL_CHECK (fl_peers_size (t) == 1);
    FL_CHECK (strcmp (a->auth_member, "alice") == 0);
    /* mallory's authenticated connection arrives on alice's routing id:
       nothing it sends is credited to alice */
    FL_CHECK (fl_peers_route (t, ID_A, sizeof ID_A, "mallory") == NULL);
    FL_CHECK (strcmp (fl_peers_at (t, 0)->auth_member, "alice") == 0);
    /* alice reconnects on a new routing id, authenticated with her key: her
       entry moves there (no new entry) */
    fl_peer_t *a2 = fl_peers_route (t, ID_A2, sizeof ID_A2, "alice");
    FL_CHECK (a2 == fl_peers_at (t, 0));
    FL_CHECK (fl_peers_size (t) == 1);
    FL_CHECK (a2->id_len == sizeof ID_A2 && memcmp (a2->id, ID_A2, sizeof ID_A2) == 0);
    /* an unauthenticated connection on the old id is a new, unknown peer */
    fl_peer_t *x = fl_peers_route (t, ID_A, sizeof ID_A, "");
    FL_CHECK (x != NULL && x != fl_peers_at (t, 0));
    FL_CHECK (fl_peers_size (t) == 2);
    FL_CHECK (x && x->auth_member[0] == 0 && !x->admitted);
    fl_peers_destroy (&t);
    FL_CHECK (t == NULL);
}

/*  Unknown peers are bounded at 2 x limit + 16 entries. */
static void
test_flood_bounded (void)
{
    fl_peers_t *t = fl_peers_new (2);
    size_t accepted = 0;
    for (uint32_t i = 0; i < 100; i++) {
        uint8_t id[5] = {0, (uint8_t) (i >> 8), (uint8_t) i, 0xaa, 0x55};
        accepted += fl_peers_route (t, id, sizeof id, NULL) != NULL;
    }
    FL_CHECK (accepted == 2 * 2 + 16);
    FL_CHECK (fl_peers_size (t) == 20);
    FL_CHECK (fl_peers_admitted (t) == 0);
    fl_peers_destroy (&t);
}

/*  HELLO checks in plaintext: bad shapes, another shape than the
    consortium's, a full consortium, the end of training. */
static void
test_hello_checks (void)
{
    fl_peers_t *t = fl_peers_new (1);
    fl_peer_t *a = fl_peers_route (t, ID_A, sizeof ID_A, NULL);
    char why[160];
    fl_peers_hello_t h = {"alice", 0, 2, 100, 10};
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 0, 0, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "unsupported data shape") != NULL);
    FL_CHECK (strcmp (a->name, "alice") == 0);         /* log name from HELLO */
    h.features = 5;
    h.classes = 1001;
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 0, 0, 0, why, sizeof why) == -1);
    h.classes = 3;
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 6, 0, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "5 features") != NULL);
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 5, 2, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "3 classes") != NULL);
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 5, 3, 1, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "ended") != NULL);
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 5, 3, 0, why, sizeof why) == 0);
    FL_CHECK (fl_peers_admit (t, a, &h, 1000) == 0);
    FL_CHECK (fl_peers_admitted (t) == 1);
    FL_CHECK (a->n_train == 100 && a->n_test == 10 && a->last_seen == 1000);
    FL_CHECK (fl_peers_admit (t, a, &h, 2000) == 1);    /* a re-HELLO */
    FL_CHECK (fl_peers_admitted (t) == 1);
    /* the limit is 1: bob is refused, alice (admitted) may HELLO again */
    fl_peer_t *b = fl_peers_route (t, ID_B, sizeof ID_B, NULL);
    a = fl_peers_at (t, 0);
    fl_peers_hello_t hb = {"bob", 5, 3, 100, 10};
    FL_CHECK (fl_peers_check_hello (t, b, &hb, NULL, 5, 3, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "full") != NULL);
    FL_CHECK (fl_peers_check_hello (t, a, &h, NULL, 5, 3, 0, why, sizeof why) == 0);
    char names[64];
    FL_CHECK (fl_peers_member_names (t, names, sizeof names) == 1);
    FL_CHECK (strcmp (names, "alice") == 0);
    fl_peers_destroy (&t);
}

/*  Secure mode: a non-member and an impostor (HELLO names a roster member
    the connection did not authenticate as) are refused. */
static void
test_hello_roster (void)
{
    fl_roster_t *r = fl_roster_new ();
    FL_CHECK (r != NULL);
    if (!r)
        return;
    const char *ids[2] = {"alice", "bob"};
    for (int i = 0; i < 2; i++) {
        uint8_t pk[32], sk[64];
        crypto_sign_keypair (pk, sk);
        zcert_t *c = zcert_new ();
        FL_CHECK (fl_roster_add_member (r, ids[i], pk, zcert_public_txt (c)) == 0);
        zcert_destroy (&c);
    }
    fl_peers_t *t = fl_peers_new (0);
    FL_CHECK (fl_peers_limit (t) == FL_PEERS_MAX);
    char why[160];
    fl_peer_t *m = fl_peers_route (t, ID_B, sizeof ID_B, "mallory");
    fl_peers_hello_t hm = {"mallory", 5, 3, 100, 10};
    FL_CHECK (fl_peers_check_hello (t, m, &hm, r, 0, 0, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "not a member") != NULL);
    /* mallory authenticated as herself claims to be bob */
    fl_peers_hello_t hb = {"bob", 5, 3, 100, 10};
    FL_CHECK (fl_peers_check_hello (t, m, &hb, r, 0, 0, 0, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "authenticated as 'mallory'") != NULL);
    FL_CHECK (m->roster_index == -1);
    fl_peer_t *b = fl_peers_route (t, ID_A, sizeof ID_A, "bob");
    FL_CHECK (fl_peers_check_hello (t, b, &hb, r, 0, 0, 0, why, sizeof why) == 0);
    FL_CHECK (b->roster_index == 1);
    fl_peers_destroy (&t);
    fl_roster_destroy (&r);
}

/*  Strikes: 7 violations are counted, the 8th quarantines (one REJECT,
    admitted count down, no longer waited for); more are not counted twice;
    a valid HELLO starts afresh. */
static void
test_strikes (void)
{
    fl_peers_t *t = fl_peers_new (4);
    fl_peer_t *a = fl_peers_route (t, ID_A, sizeof ID_A, NULL);
    fl_peers_hello_t h = {"alice", 5, 3, 100, 10};
    fl_peers_admit (t, a, &h, 0);
    a->ready = 1;
    a->expected = 1;
    char reason[256];
    int told = 0;
    for (int i = 0; i < FL_PEERS_MAX_STRIKES - 1; i++)
        told += fl_peers_strike (t, a, "UPDATE", "non-finite values", reason, sizeof reason);
    FL_CHECK (told == 0);
    FL_CHECK (!fl_peers_quarantined (a));
    FL_CHECK (fl_peers_admitted (t) == 1);
    FL_CHECK (fl_peers_strike (t, a, "UPDATE", "duplicate reply", reason, sizeof reason) == 1);
    FL_CHECK (strstr (reason, "quarantined: 8 protocol violations (last: UPDATE: duplicate reply)") != NULL);
    FL_CHECK (fl_peers_quarantined (a));
    FL_CHECK (!a->admitted && !a->ready && !a->expected);
    FL_CHECK (fl_peers_admitted (t) == 0);
    FL_CHECK (fl_peers_strike (t, a, "UPDATE", "again", reason, sizeof reason) == 0);
    FL_CHECK (a->strikes == FL_PEERS_MAX_STRIKES);
    fl_peers_admit (t, a, &h, 10);
    FL_CHECK (!fl_peers_quarantined (a) && a->strikes == 0);
    FL_CHECK (fl_peers_admitted (t) == 1);
    /* leaving twice counts once */
    fl_peers_leave (t, a);
    fl_peers_leave (t, a);
    FL_CHECK (fl_peers_admitted (t) == 0);
    fl_peers_destroy (&t);
}

/*  Liveness: only ready peers heard within the window are sampled; the
    "say HELLO" answer to an unknown peer at most once a second. */
static void
test_liveness (void)
{
    fl_peers_t *t = fl_peers_new (4);
    fl_peers_hello_t h = {"m", 5, 3, 100, 10};
    for (uint8_t i = 0; i < 3; i++) {
        uint8_t id[2] = {0, i};
        fl_peer_t *p = fl_peers_route (t, id, sizeof id, NULL);
        fl_peers_admit (t, p, &h, 1000 * (int64_t) i);
        p->ready = i != 1;
    }
    uint32_t idx[3];
    FL_CHECK (fl_peers_ready (t, 2500, 10000, idx) == 2);
    FL_CHECK (idx[0] == 0 && idx[1] == 2);
    FL_CHECK (fl_peers_ready (t, 11500, 10000, idx) == 1);   /* peer 0 silent 11.5 s */
    FL_CHECK (idx[0] == 2);
    fl_peer_t *p = fl_peers_at (t, 1);
    FL_CHECK (fl_peers_may_ask_hello (p, 5000) == 1);
    FL_CHECK (fl_peers_may_ask_hello (p, 5999) == 0);
    FL_CHECK (fl_peers_may_ask_hello (p, 6000) == 1);
    fl_peers_destroy (&t);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_pinning_and_reconnect);
    FL_RUN (test_flood_bounded);
    FL_RUN (test_hello_checks);
    FL_RUN (test_hello_roster);
    FL_RUN (test_strikes);
    FL_RUN (test_liveness);
    FL_TEST_DONE ();
}
