/*  test_roster.c - fl_roster: build/save/load round trip, every load error,
    lookups, identity key files, and acceptance of a roster made by the real
    fl-keygen program. */
#include "fl_roster.h"
#include "fl_test.h"

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static const char *
s_path (const char *name)
{
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf (buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    fputs (text, f);
    fclose (f);
}

typedef struct {
    uint8_t pk[32];
    char hex[65];
    char curve[41];
} s_keys_t;

static void
s_keys (s_keys_t *k)
{
    uint8_t sk[64];
    char secret[41];
    crypto_sign_keypair (k->pk, sk);
    sodium_bin2hex (k->hex, sizeof k->hex, k->pk, 32);
    int rc = zmq_curve_keypair (k->curve, secret);
    assert (rc == 0);
    (void) rc;
}

/*  Writes a roster with a coordinator and the given members (ids[i], keys[i]);
    extra is appended verbatim inside the roster section. */
static void
s_write_roster (const char *path, const s_keys_t *coord, int n, const char *const *ids,
                const s_keys_t *keys, const char *extra)
{
    FILE *f = fopen (path, "w");
    fprintf (f, "roster\n");
    if (coord)
        fprintf (f, "    coordinator\n        identity = \"%s\"\n        curve = \"%s\"\n",
                 coord->hex, coord->curve);
    for (int i = 0; i < n; i++)
        fprintf (f, "    member = \"%s\"\n        identity = \"%s\"\n        curve = \"%s\"\n",
                 ids[i], keys[i].hex, keys[i].curve);
    if (extra)
        fputs (extra, f);
    fclose (f);
}

static void
test_round_trip (void)
{
    fl_roster_t *r = fl_roster_new ();
    s_keys_t coord, m[5];
    s_keys (&coord);
    FL_CHECK (fl_roster_set_coordinator (r, coord.pk, coord.curve, "tcp://coord.example:5555") == 0);
    char id[5][16];
    for (int i = 0; i < 5; i++) {
        s_keys (&m[i]);
        snprintf (id[i], sizeof id[i], "hospital-%02d", i + 1);
        FL_CHECK (fl_roster_add_member (r, id[i], m[i].pk, m[i].curve) == 0);
    }
    FL_CHECK (fl_roster_size (r) == 5);
    FL_CHECK (fl_roster_save (r, s_path ("roster.zpl")) == 0);
    fl_roster_t *l = fl_roster_load (s_path ("roster.zpl"));
    FL_CHECK (l != NULL);
    if (!l) {
        fl_roster_destroy (&r);
        return;
    }
    FL_CHECK (fl_roster_size (l) == 5);
    FL_CHECK (fl_roster_has_coordinator (l));
    FL_CHECK (memcmp (fl_roster_coordinator_identity_pk (l), coord.pk, 32) == 0);
    FL_CHECK (streq (fl_roster_coordinator_curve_pk (l), coord.curve));
    FL_CHECK (streq (fl_roster_coordinator_endpoint (l), "tcp://coord.example:5555"));
    for (int i = 0; i < 5; i++) {
        FL_CHECK (streq (fl_roster_member_id (l, (size_t) i), id[i]));
        FL_CHECK (memcmp (fl_roster_identity_pk (l, (size_t) i), m[i].pk, 32) == 0);
        FL_CHECK (streq (fl_roster_curve_pk (l, (size_t) i), m[i].curve));
        uint8_t bin[32];
        zmq_z85_decode (bin, m[i].curve);
        FL_CHECK (memcmp (fl_roster_curve_pk_bin (l, (size_t) i), bin, 32) == 0);
        FL_CHECK (fl_roster_find_by_id (l, id[i]) == i);
        FL_CHECK (fl_roster_find_by_curve (l, m[i].curve) == i);
        FL_CHECK (fl_roster_find_by_identity (l, m[i].pk) == i);
    }
    /* Misses, and the coordinator is not a member. */
    FL_CHECK (fl_roster_find_by_id (l, "hospital-99") == -1);
    FL_CHECK (fl_roster_find_by_id (l, "coordinator") == -1);
    FL_CHECK (fl_roster_find_by_curve (l, coord.curve) == -1);
    FL_CHECK (fl_roster_find_by_identity (l, coord.pk) == -1);
    s_keys_t stranger;
    s_keys (&stranger);
    FL_CHECK (fl_roster_find_by_curve (l, stranger.curve) == -1);
    FL_CHECK (fl_roster_find_by_identity (l, stranger.pk) == -1);
    /* A saved-and-reloaded roster saves to the same bytes. */
    FL_CHECK (fl_roster_save (l, s_path ("roster2.zpl")) == 0);
    char *a = NULL, *b = NULL;
    FILE *fa = fopen (s_path ("roster.zpl"), "r"), *fb = fopen (s_path ("roster2.zpl"), "r");
    size_t na = 0, nb = 0;
    ssize_t la = getdelim (&a, &na, 0, fa), lb = getdelim (&b, &nb, 0, fb);
    FL_CHECK (la > 0 && la == lb && memcmp (a, b, (size_t) la) == 0);
    free (a);
    free (b);
    fclose (fa);
    fclose (fb);
    fl_roster_destroy (&l);
    fl_roster_destroy (&r);
    FL_CHECK (r == NULL);
    fl_roster_destroy (&r);
}

/*  The digest depends on the membership, not on the file's layout. */
static void
test_digest (void)
{
    s_keys_t coord, m[3];
    s_keys (&coord);
    for (int i = 0; i < 3; i++)
        s_keys (&m[i]);
    const char *ids[3] = { "bank-a", "bank-b", "bank-c" };
    s_write_roster (s_path ("d1.zpl"), &coord, 3, ids, m, NULL);
    fl_roster_t *a = fl_roster_load (s_path ("d1.zpl"));
    FL_CHECK (a != NULL);
    /* The same roster written by fl_roster_save (another layout) and reloaded. */
    FL_CHECK (a && fl_roster_save (a, s_path ("d2.zpl")) == 0);
    fl_roster_t *b = fl_roster_load (s_path ("d2.zpl"));
    FL_CHECK (b != NULL);
    /* Members in another order; one member re-keyed; one member fewer; no coordinator. */
    const char *ids_swapped[3] = { "bank-b", "bank-a", "bank-c" };
    s_keys_t swapped[3] = { m[1], m[0], m[2] }, rekeyed[3] = { m[0], m[1], m[2] };
    s_keys (&rekeyed[2]);
    s_write_roster (s_path ("d3.zpl"), &coord, 3, ids_swapped, swapped, NULL);
    s_write_roster (s_path ("d4.zpl"), &coord, 3, ids, rekeyed, NULL);
    s_write_roster (s_path ("d5.zpl"), &coord, 2, ids, m, NULL);
    /* Built in memory: once like d1.zpl (same digest), once without a coordinator. */
    fl_roster_t *mem = fl_roster_new (), *nocoord = fl_roster_new ();
    FL_CHECK (fl_roster_set_coordinator (mem, coord.pk, coord.curve, NULL) == 0);
    for (int i = 0; i < 3; i++) {
        FL_CHECK (fl_roster_add_member (mem, ids[i], m[i].pk, m[i].curve) == 0);
        FL_CHECK (fl_roster_add_member (nocoord, ids[i], m[i].pk, m[i].curve) == 0);
    }
    fl_roster_t *other[4] = { fl_roster_load (s_path ("d3.zpl")), fl_roster_load (s_path ("d4.zpl")),
                              fl_roster_load (s_path ("d5.zpl")), nocoord };
    if (a && b) {
        uint8_t da[FL_ROSTER_DIGESTBYTES], db[FL_ROSTER_DIGESTBYTES], again[FL_ROSTER_DIGESTBYTES];
        fl_roster_digest (a, da);
        fl_roster_digest (a, again);
        fl_roster_digest (b, db);
        FL_CHECK (memcmp (da, again, sizeof da) == 0);
        FL_CHECK (memcmp (da, db, sizeof da) == 0);
        fl_roster_digest (mem, db);
        FL_CHECK (memcmp (da, db, sizeof da) == 0);
        for (int i = 0; i < 4; i++) {
            FL_CHECK (other[i] != NULL);
            if (!other[i])
                continue;
            uint8_t dx[FL_ROSTER_DIGESTBYTES];
            fl_roster_digest (other[i], dx);
            FL_CHECK (memcmp (da, dx, sizeof da) != 0);
        }
    }
    for (int i = 0; i < 4; i++)
        fl_roster_destroy (&other[i]);
    fl_roster_destroy (&mem);
    fl_roster_destroy (&a);
    fl_roster_destroy (&b);
}

static void
test_api_errors (void)
{
    fl_roster_t *r = fl_roster_new ();
    s_keys_t c, a, b;
    s_keys (&c);
    s_keys (&a);
    s_keys (&b);
    FL_CHECK (fl_roster_save (r, s_path ("never.zpl")) == -1);     /* no coordinator */
    FL_CHECK (fl_roster_set_coordinator (r, c.pk, c.curve, NULL) == 0);
    FL_CHECK (fl_roster_set_coordinator (r, b.pk, b.curve, NULL) == -1);  /* twice */
    FL_CHECK (fl_roster_save (r, s_path ("never.zpl")) == -1);     /* no members */
    FL_CHECK (access (s_path ("never.zpl"), F_OK) != 0);
    FL_CHECK (fl_roster_add_member (r, "a", a.pk, a.curve) == 0);
    FL_CHECK (fl_roster_add_member (r, "a", b.pk, b.curve) == -1);        /* dup id */
    FL_CHECK (fl_roster_add_member (r, "b", a.pk, b.curve) == -1);        /* dup identity */
    FL_CHECK (fl_roster_add_member (r, "b", b.pk, a.curve) == -1);        /* dup curve */
    FL_CHECK (fl_roster_add_member (r, "b", b.pk, c.curve) == -1);        /* coordinator's curve */
    FL_CHECK (fl_roster_add_member (r, "b", c.pk, b.curve) == -1);        /* coordinator's identity */
    FL_CHECK (fl_roster_add_member (r, "b c", b.pk, b.curve) == -1);
    FL_CHECK (fl_roster_add_member (r, "-b", b.pk, b.curve) == -1);
    FL_CHECK (fl_roster_add_member (r, "", b.pk, b.curve) == -1);
    FL_CHECK (fl_roster_add_member (r, "b", b.pk, "tooshort") == -1);
    uint8_t small_order[32] = {1};          /* the neutral element */
    FL_CHECK (fl_roster_add_member (r, "b", small_order, b.curve) == -1);
    FL_CHECK (fl_roster_size (r) == 1);
    FL_CHECK (fl_roster_add_member (r, "b", b.pk, b.curve) == 0);        /* failed adds left no trace */
    FL_CHECK (fl_roster_find_by_curve (r, b.curve) == 1);
    char id65[66];
    memset (id65, 'x', 65);
    id65[65] = 0;
    FL_CHECK (!fl_roster_id_valid (id65));
    id65[64] = 0;
    FL_CHECK (fl_roster_id_valid (id65));
    FL_CHECK (fl_roster_id_valid ("Site_3.eu-west"));
    FL_CHECK (!fl_roster_id_valid ("../etc"));
    FL_CHECK (!fl_roster_id_valid ("a/b"));
    fl_roster_destroy (&r);
}

/*  Every malformed roster file is refused (and a well-formed one accepted). */
static void
test_load_errors (void)
{
    s_keys_t c, k[3];
    s_keys (&c);
    for (int i = 0; i < 3; i++)
        s_keys (&k[i]);
    const char *ids[3] = {"alpha", "beta", "gamma"};
    const char *p = s_path ("bad.zpl");
    fl_roster_t *r;

    s_write_roster (p, &c, 3, ids, k, NULL);
    r = fl_roster_load (p);
    FL_CHECK (r && fl_roster_size (r) == 3 && fl_roster_coordinator_endpoint (r) == NULL);
    fl_roster_destroy (&r);

    FL_CHECK (fl_roster_load (s_path ("no-such-file.zpl")) == NULL);
    FL_CHECK (fl_roster_load (tmpdir) == NULL);                 /* a directory */

    /* duplicate member id / identity / curve, and a member reusing the coordinator's key */
    const char *dup_ids[3] = {"alpha", "beta", "alpha"};
    s_write_roster (p, &c, 3, dup_ids, k, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    s_keys_t dk[3] = {k[0], k[1], k[0]};
    strcpy (dk[2].curve, k[2].curve);
    s_write_roster (p, &c, 3, ids, dk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    dk[2] = k[2];
    strcpy (dk[2].curve, k[1].curve);
    s_write_roster (p, &c, 3, ids, dk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    dk[2] = c;
    s_write_roster (p, &c, 3, ids, dk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);

    /* bad key encodings */
    s_keys_t bk[3] = {k[0], k[1], k[2]};
    bk[1].hex[63] = 0;                                          /* 63 hex chars */
    s_write_roster (p, &c, 3, ids, bk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    bk[1] = k[1];
    bk[1].hex[10] = 'g';                                        /* not hex */
    s_write_roster (p, &c, 3, ids, bk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    bk[1] = k[1];
    strcpy (bk[1].hex, "0100000000000000000000000000000000000000000000000000000000000000");
    s_write_roster (p, &c, 3, ids, bk, NULL);                   /* small-order point */
    FL_CHECK (fl_roster_load (p) == NULL);
    bk[1] = k[1];
    bk[1].curve[39] = 0;                                        /* 39 Z85 chars */
    s_write_roster (p, &c, 3, ids, bk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    bk[1] = k[1];
    bk[1].curve[5] = ',';                                       /* not in the Z85 alphabet */
    s_write_roster (p, &c, 3, ids, bk, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    s_keys_t bc = c;
    bc.curve[0] = ';';                                          /* bad coordinator key */
    s_write_roster (p, &bc, 3, ids, k, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);

    /* invalid member ids */
    const char *bad_ids[][3] = {{"alpha", "be ta", "gamma"}, {"alpha", "-beta", "gamma"},
                                {"alpha", "", "gamma"},
                                {"alpha", "beta", "g12345678901234567890123456789012345678901234567890123456789012345"}};
    for (int i = 0; i < 4; i++) {
        s_write_roster (p, &c, 3, bad_ids[i], k, NULL);
        FL_CHECK (fl_roster_load (p) == NULL);
    }
    /* structure: no coordinator, empty roster, unknown entries, missing key */
    s_write_roster (p, NULL, 3, ids, k, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write_roster (p, &c, 0, ids, k, NULL);
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write_roster (p, &c, 3, ids, k, "    observer = \"x\"\n");
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write_roster (p, &c, 3, ids, k, "        weight = \"2\"\n");    /* unknown field in gamma */
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write_roster (p, &c, 3, ids, k, "    member = \"delta\"\n        curve = \"x\"\n");
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write (p, "members\n    member = \"a\"\n");
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write (p, "");
    FL_CHECK (fl_roster_load (p) == NULL);
    s_write (p, "\x01\x02 not zpl {{{\n");
    FL_CHECK (fl_roster_load (p) == NULL);

    /* 65,536 members: refused by the count check before any member is decoded */
    FILE *f = fopen (p, "w");
    fprintf (f, "roster\n    coordinator\n        identity = \"%s\"\n        curve = \"%s\"\n",
             c.hex, c.curve);
    for (unsigned i = 0; i <= FL_ROSTER_MAX_MEMBERS; i++)
        fprintf (f, "    member = \"m%u\"\n", i);
    fclose (f);
    FL_CHECK (fl_roster_load (p) == NULL);
}

/*  The "policy" section: parsed strictly, absent = the safe default, part
    of the digest, kept by save/load. */
static void
test_policy (void)
{
    s_keys_t coord, m[3];
    s_keys (&coord);
    for (int i = 0; i < 3; i++)
        s_keys (&m[i]);
    const char *ids[3] = { "bank-a", "bank-b", "bank-c" };
    s_write_roster (s_path ("p0.zpl"), &coord, 3, ids, m, NULL);
    s_write_roster (s_path ("p1.zpl"), &coord, 3, ids, m,
                    "    policy\n        gamma = 0.25\n        min_bucket = 5\n        graphs = \"complete\"\n");
    fl_roster_t *a = fl_roster_load (s_path ("p0.zpl")), *b = fl_roster_load (s_path ("p1.zpl"));
    FL_CHECK (a && b);
    if (!a || !b)
        return;
    fl_secagg_policy_t pa, pb, def;
    fl_secagg_policy_default (&def);
    fl_roster_policy (a, &pa);
    fl_roster_policy (b, &pb);
    FL_CHECK (!fl_roster_has_policy (a) && fl_roster_has_policy (b));
    FL_CHECK (pa.gamma == 0.15 && pa.min_bucket == 3 && pa.graphs == def.graphs);
    FL_CHECK (pb.gamma == 0.25 && pb.min_bucket == 5 && pb.graphs == (1u << FL_SECAGG_GRAPH_COMPLETE));
    uint8_t da[32], db[32], dc[32];
    fl_roster_digest (a, da);
    fl_roster_digest (b, db);
    FL_CHECK (memcmp (da, db, 32) != 0);                /* sites comparing digests see the policy */
    FL_CHECK (fl_roster_save (b, s_path ("p2.zpl")) == 0);
    fl_roster_t *c = fl_roster_load (s_path ("p2.zpl"));
    FL_CHECK (c != NULL);
    if (c) {
        fl_roster_digest (c, dc);
        FL_CHECK (memcmp (db, dc, 32) == 0);
        fl_roster_destroy (&c);
    }
    /* bad values are refused, naming them */
    static const char *bad[] = {
        "    policy\n        gamma = 1\n",
        "    policy\n        gamma = -0.1\n",
        "    policy\n        gamma = 0.1x\n",
        "    policy\n        min_bucket = 1\n",
        "    policy\n        min_bucket = -3\n",
        "    policy\n        graphs = \"ring\"\n",
        "    policy\n        graphs = \"\"\n",
        "    policy\n        delta = 0.1\n",
        "    policy\n        gamma = 0.1\n        gamma = 0.2\n",
        "    policy\n    policy\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_write_roster (s_path ("pb.zpl"), &coord, 3, ids, m, bad[i]);
        fl_roster_t *r = fl_roster_load (s_path ("pb.zpl"));
        FL_CHECK (r == NULL);
        fl_roster_destroy (&r);
    }
    fl_secagg_policy_t weak = def;
    weak.min_bucket = 1;
    FL_CHECK (fl_roster_set_policy (a, &weak) == -1);
    FL_CHECK (fl_roster_set_policy (a, &pb) == 0);
    fl_roster_digest (a, da);
    FL_CHECK (memcmp (da, db, 32) == 0);
    fl_roster_destroy (&a);
    fl_roster_destroy (&b);
}

static void
test_identity_files (void)
{
    uint8_t pk[32], sk[64], pk2[32];
    crypto_sign_keypair (pk, sk);
    const char *pub = s_path ("site.identity"), *sec = s_path ("site.identity_secret");
    FL_CHECK (fl_identity_save (pub, sec, pk, sk) == 0);
    struct stat st;
    FL_CHECK (stat (sec, &st) == 0 && (st.st_mode & 0777) == 0600);
    FL_CHECK (stat (pub, &st) == 0 && (st.st_mode & 0777) == 0644);
    FL_CHECK (fl_identity_save (pub, sec, pk, sk) == -1);          /* no overwrite */
    FL_CHECK (fl_identity_load_public (pub, pk2) == 0 && memcmp (pk, pk2, 32) == 0);
    uint8_t *lsk = fl_identity_load_secret (sec);
    FL_CHECK (lsk && memcmp (lsk, sk, 64) == 0);
    /* the loaded key signs, the roster key verifies */
    uint8_t sig[64];
    const uint8_t msg[] = "round 7";
    FL_CHECK (lsk && crypto_sign_detached (sig, NULL, msg, sizeof msg, lsk) == 0);
    FL_CHECK (crypto_sign_verify_detached (sig, msg, sizeof msg, pk) == 0);
    fl_identity_secret_destroy (&lsk);
    FL_CHECK (lsk == NULL);
    fl_identity_secret_destroy (&lsk);

    /* refused: group/world readable, missing, wrong length, non-hex, corrupt public half */
    chmod (sec, 0640);
    FL_CHECK (fl_identity_load_secret (sec) == NULL);
    chmod (sec, 0604);
    FL_CHECK (fl_identity_load_secret (sec) == NULL);
    chmod (sec, 0600);
    FL_CHECK ((lsk = fl_identity_load_secret (sec)) != NULL);
    fl_identity_secret_destroy (&lsk);
    FL_CHECK (fl_identity_load_secret (s_path ("nope")) == NULL);
    char hex[130];
    sodium_bin2hex (hex, sizeof hex, sk, 64);
    const char *bad = s_path ("bad.identity_secret");
    char text[300];
    snprintf (text, sizeof text, "%.126s\n", hex);
    s_write (bad, text);
    chmod (bad, 0600);
    FL_CHECK (fl_identity_load_secret (bad) == NULL);
    snprintf (text, sizeof text, "%s00\n", hex);
    s_write (bad, text);
    FL_CHECK (fl_identity_load_secret (bad) == NULL);
    snprintf (text, sizeof text, "%s", hex);
    text[3] = 'z';
    s_write (bad, text);
    FL_CHECK (fl_identity_load_secret (bad) == NULL);
    snprintf (text, sizeof text, "%s", hex);
    text[127] = text[127] == '0' ? '1' : '0';                   /* flip a public-key bit */
    s_write (bad, text);
    FL_CHECK (fl_identity_load_secret (bad) == NULL);
    snprintf (text, sizeof text, "%s", hex);                    /* no newline: accepted */
    s_write (bad, text);
    FL_CHECK ((lsk = fl_identity_load_secret (bad)) != NULL);
    fl_identity_secret_destroy (&lsk);
    s_write (bad, "abcd\n");
    FL_CHECK (fl_identity_load_public (bad, pk2) == -1);
}

/*  The real fl-keygen: roster of a coordinator + 12 members is accepted, and
    every member's key files agree with the roster. */
static void
test_keygen_roster (void)
{
    const char *bin = getenv ("FL_BINARY_DIR");
    char cmd[2048];
    snprintf (cmd, sizeof cmd, "%s/bin/fl-keygen --out %s/keys --roster %s/keys/roster.zpl "
              "--members 12 --endpoint tcp://127.0.0.1:5555 2>/dev/null",
              bin ? bin : "build", tmpdir, tmpdir);
    FL_CHECK (system (cmd) == 0);
    fl_roster_t *r = fl_roster_load (s_path ("keys/roster.zpl"));
    FL_CHECK (r != NULL);
    if (!r)
        return;
    FL_CHECK (fl_roster_size (r) == 12);
    FL_CHECK (streq (fl_roster_coordinator_endpoint (r), "tcp://127.0.0.1:5555"));
    for (size_t i = 0; i < 12; i++) {
        char id[32], path[600];
        snprintf (id, sizeof id, "member-%02zu", i + 1);
        FL_CHECK (streq (fl_roster_member_id (r, i), id));
        uint8_t pk[32];
        snprintf (path, sizeof path, "%s/keys/%s.identity", tmpdir, id);
        FL_CHECK (fl_identity_load_public (path, pk) == 0);
        FL_CHECK (memcmp (pk, fl_roster_identity_pk (r, i), 32) == 0);
        snprintf (path, sizeof path, "%s/keys/%s.identity_secret", tmpdir, id);
        uint8_t *sk = fl_identity_load_secret (path);
        FL_CHECK (sk && memcmp (sk + 32, pk, 32) == 0);
        fl_identity_secret_destroy (&sk);
        snprintf (path, sizeof path, "%s/keys/%s.curve_secret", tmpdir, id);
        zcert_t *cert = zcert_load (path);
        FL_CHECK (cert && streq (zcert_public_txt (cert), fl_roster_curve_pk (r, i)));
        zcert_destroy (&cert);
    }
    fl_roster_destroy (&r);
    /* running it again refuses to overwrite the roster */
    FL_CHECK (system (cmd) != 0);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    if (!fl_test_verbose_)
        zsys_set_logstream (NULL);
    FL_CHECK (sodium_init () >= 0);
    FL_CHECK (fl_test_mkdtemp (tmpdir, sizeof tmpdir, "fl-test-roster") != NULL);
    FL_RUN (test_round_trip);
    FL_RUN (test_digest);
    FL_RUN (test_api_errors);
    FL_RUN (test_load_errors);
    FL_RUN (test_policy);
    FL_RUN (test_identity_files);
    FL_RUN (test_keygen_roster);
    zdir_t *d = zdir_new (tmpdir, NULL);
    if (d)
        zdir_remove (d, true);
    zdir_destroy (&d);
    FL_TEST_DONE ();
}
