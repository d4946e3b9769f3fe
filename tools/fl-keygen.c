/*  fl-keygen - make a consortium member's (or the coordinator's) long-term keys.

    Each site runs this once, keeps the secret files, and sends the printed
    roster entry (public keys only) to whoever maintains the roster:

        fl-keygen --out keys/ --name hospital-01
            keys/hospital-01.identity         Ed25519 public key (hex)      0644
            keys/hospital-01.identity_secret  Ed25519 secret key (hex)      0600
            keys/hospital-01.curve            CURVE public certificate      0644
            keys/hospital-01.curve_secret     CURVE secret certificate      0600
            keys/hospital-01.entry            its roster entry (ZPL)        0644

    The roster keeper collects the .entry files and merges them:

        fl-keygen roster merge --out roster.zpl coordinator.entry hospital-*.entry
        fl-keygen roster add roster.zpl hospital-09.entry

    For simulations and tests, --roster makes keys for a coordinator and N
    members (member-01, member-02, ...) and writes the roster file.
    Existing files are never overwritten.
*/
#include "fl_roster.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static void
s_usage (FILE *f)
{
    fprintf (f,
        "usage: fl-keygen --out DIR --name NAME [--coordinator [--endpoint EP]]\n"
        "       fl-keygen --out DIR --roster FILE --members N [--endpoint EP]\n"
        "       fl-keygen roster merge --out FILE [--gamma G] [--min-bucket M] ENTRY...\n"
        "       fl-keygen roster add ROSTER ENTRY...\n"
        "\n"
        "Makes long-term keys for one consortium site: an Ed25519 identity key pair\n"
        "(NAME.identity, NAME.identity_secret) that signs secure-aggregation key\n"
        "advertisements, and a CURVE key pair (NAME.curve, NAME.curve_secret, zcert\n"
        "format) for the encrypted ZeroMQ connection.  Secret files are mode 0600.\n"
        "Writes the site's roster entry (public keys only) to NAME.entry and prints\n"
        "it; send the .entry file to whoever keeps the roster.\n"
        "\n"
        "roster merge writes a new roster from entry files (one coordinator entry,\n"
        "one or more members), optionally with a policy section (--gamma, the\n"
        "colluding fraction every client assumes; --min-bucket, the smallest secure\n"
        "bucket); roster add appends members' entries to an existing roster (its\n"
        "digest changes: every site needs the new file).  Both refuse duplicate\n"
        "names or keys and never leave a half-written roster.\n"
        "\n"
        "  --out DIR        directory for the key files (created 0700 if missing)\n"
        "  --name NAME      site / member id: 1..64 of A-Z a-z 0-9 . _ -\n"
        "  --coordinator    print a coordinator entry instead of a member entry\n"
        "                   (NAME defaults to 'coordinator')\n"
        "  --endpoint EP    coordinator endpoint to put in the entry, e.g. tcp://host:5555\n"
        "  --roster FILE    generate keys for a coordinator and N members named\n"
        "                   member-01.. in DIR and write the roster to FILE\n"
        "  --members N      number of members for --roster (1..65535)\n"
        "  --help           this text\n"
        "  --version        the version\n"
        "\n"
        "Never overwrites an existing file.  Exit status: 0 ok, 1 error, 2 usage.\n");
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

/*  Makes NAME's four key files in dir; returns the public keys.  0 or -1. */
static int
s_make_keys (const char *dir, const char *name, uint8_t identity_pk[32], char curve_z85[41])
{
    char p_id[PATH_MAX], p_ids[PATH_MAX], p_cv[PATH_MAX], p_cvs[PATH_MAX];
    snprintf (p_id, sizeof p_id, "%s/%s.identity", dir, name);
    snprintf (p_ids, sizeof p_ids, "%s/%s.identity_secret", dir, name);
    snprintf (p_cv, sizeof p_cv, "%s/%s.curve", dir, name);
    int n = snprintf (p_cvs, sizeof p_cvs, "%s/%s.curve_secret", dir, name);
    if (n < 0 || (size_t) n >= sizeof p_cvs) {
        fprintf (stderr, "fl-keygen: path too long: %s/%s\n", dir, name);
        return -1;
    }
    const char *all[4] = {p_id, p_ids, p_cv, p_cvs};
    for (int i = 0; i < 4; i++)
        if (s_exists (all[i])) {
            fprintf (stderr, "fl-keygen: %s already exists: refusing to overwrite keys "
                             "(move it away or choose another --name / --out)\n", all[i]);
            return -1;
        }
    /* Identity (Ed25519). */
    uint8_t *sk = (uint8_t *) sodium_malloc (crypto_sign_SECRETKEYBYTES);
    if (!sk)
        return -1;
    crypto_sign_keypair (identity_pk, sk);
    int rc = fl_identity_save (p_id, p_ids, identity_pk, sk);
    sodium_free (sk);
    if (rc != 0) {
        fprintf (stderr, "fl-keygen: cannot write %s\n", p_ids);
        return -1;
    }
    /* CURVE (zcert).  zcert_save opens with fopen ("w"), whose mode comes
       from the umask: reserve both names with O_EXCL at 0600 first (so a
       file appearing meanwhile is not clobbered, and the secret never exists
       with a wider mode), and write under umask 077. */
    for (int i = 2; i < 4; i++) {
        int fd = open (all[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        if (fd < 0) {
            fprintf (stderr, "fl-keygen: cannot create %s: %s\n", all[i], strerror (errno));
            unlink (p_id);
            unlink (p_ids);
            if (i == 3)
                unlink (p_cv);
            return -1;
        }
        close (fd);
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "fl-keygen: cannot make a CURVE key pair\n");
        return -1;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "generator", "fl-keygen");
    mode_t old = umask (077);
    rc = zcert_save (cert, p_cv);
    umask (old);
    struct stat st;
    if (rc == 0 && (stat (p_cvs, &st) != 0 || (st.st_mode & 077) != 0)) {
        fprintf (stderr, "fl-keygen: %s is not private (mode %04o)\n", p_cvs,
                 (unsigned) (st.st_mode & 07777));
        rc = -1;
    }
    if (rc == 0 && chmod (p_cv, 0644) != 0)
        rc = -1;
    if (rc == 0)
        memcpy (curve_z85, zcert_public_txt (cert), 41);
    /* zcert_destroy does not wipe; the key bytes live in the (non-const)
       zcert struct behind const accessors. */
    sodium_memzero ((void *) zcert_secret_key (cert), 32);
    sodium_memzero ((void *) zcert_secret_txt (cert), 40);
    zcert_destroy (&cert);
    if (rc != 0) {
        fprintf (stderr, "fl-keygen: cannot write %s\n", p_cv);
        for (int i = 0; i < 4; i++)
            unlink (all[i]);
        return -1;
    }
    return 0;
}

static void s_print_entry (FILE *f, bool coordinator, const char *name, const uint8_t pk[32],
                           const char *curve, const char *endpoint);

/*  Writes DIR/NAME.entry: a roster file holding only this site's entry,
    which fl_roster_load_entries reads and `fl-keygen roster merge` merges;
    its indented lines are also what one pastes into a roster by hand. */
static int
s_write_entry (const char *dir, bool coordinator, const char *name, const uint8_t pk[32],
               const char *curve, const char *endpoint, char *path, size_t cap)
{
    snprintf (path, cap, "%s/%s.entry", dir, name);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        fprintf (stderr, "fl-keygen: cannot create %s: %s\n", path, strerror (errno));
        return -1;
    }
    FILE *f = fdopen (fd, "w");
    if (!f) {
        close (fd);
        return -1;
    }
    fprintf (f, "#   Roster entry for %s%s, made by fl-keygen: public keys only.\n"
                "#   The roster keeper merges it: fl-keygen roster merge / roster add.\n"
                "roster\n", name, coordinator ? " (coordinator)" : "");
    s_print_entry (f, coordinator, name, pk, curve, endpoint);
    int rc = fflush (f) == 0 && fsync (fileno (f)) == 0 ? 0 : -1;
    if (fclose (f) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf (stderr, "fl-keygen: cannot write %s\n", path);
        unlink (path);
    }
    return rc;
}

static double
s_parse_double (const char *text, double lo, double hi, const char *what, int *bad)
{
    char *end;
    errno = 0;
    double v = strtod (text, &end);
    if (errno || *end || end == text || !(v >= lo && v <= hi)) {
        fprintf (stderr, "fl-keygen: %s must be a number in [%g, %g], not '%s'\n", what, lo, hi, text);
        *bad = 1;
    }
    return v;
}

/*  Copies every entry of src into dst (coordinator, members, policy);
    -1 with a message naming the file on a duplicate or conflict. */
static int
s_merge_into (fl_roster_t *dst, const fl_roster_t *src, const char *path)
{
    if (fl_roster_has_coordinator (src)) {
        if (fl_roster_has_coordinator (dst)) {
            fprintf (stderr, "fl-keygen: %s: a second coordinator entry (the roster has one already)\n", path);
            return -1;
        }
        if (fl_roster_set_coordinator (dst, fl_roster_coordinator_identity_pk (src),
                                       fl_roster_coordinator_curve_pk (src),
                                       fl_roster_coordinator_endpoint (src)) != 0) {
            fprintf (stderr, "fl-keygen: %s: the coordinator entry conflicts with the roster (see above)\n", path);
            return -1;
        }
    }
    if (fl_roster_has_policy (src)) {
        if (fl_roster_has_policy (dst)) {
            fprintf (stderr, "fl-keygen: %s: a second policy section\n", path);
            return -1;
        }
        fl_secagg_policy_t pol;
        fl_roster_policy (src, &pol);
        if (fl_roster_set_policy (dst, &pol) != 0)
            return -1;
    }
    for (size_t i = 0; i < fl_roster_size (src); i++)
        if (fl_roster_add_member (dst, fl_roster_member_id (src, i), fl_roster_identity_pk (src, i),
                                  fl_roster_curve_pk (src, i)) != 0) {
            fprintf (stderr, "fl-keygen: %s: member '%s' not added: its name or a key is already in the "
                             "roster (see above)\n", path, fl_roster_member_id (src, i));
            return -1;
        }
    return 0;
}

/*  fl-keygen roster merge|add ...  Exit 0, 1 (bad entries, I/O), 2 (usage). */
static int
s_roster_cmd (int argc, char **argv)
{
    if (argc < 3 || (!streq (argv[2], "merge") && !streq (argv[2], "add"))) {
        fprintf (stderr, "fl-keygen: roster needs 'merge' or 'add' (fl-keygen --help)\n");
        return 2;
    }
    bool merge = streq (argv[2], "merge");
    const char *out = NULL;
    int bad = 0, have_gamma = 0, have_min = 0;
    fl_secagg_policy_t pol;
    fl_secagg_policy_default (&pol);
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"gamma", required_argument, NULL, 'g'},
        {"min-bucket", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0}};
    int c;
    optind = 3;
    while ((c = getopt_long (argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
            case 'o': out = optarg; break;
            case 'g': pol.gamma = s_parse_double (optarg, 0, 0.99, "--gamma", &bad); have_gamma = 1; break;
            case 'b': pol.min_bucket = (uint32_t) s_parse_double (optarg, 2, FL_SECAGG_MAX_CLIENTS, "--min-bucket", &bad);
                      have_min = 1; break;
            default: return 2;
        }
    }
    if (bad)
        return 2;
    int first = optind;
    if (merge && (!out || first >= argc)) {
        fprintf (stderr, "fl-keygen: roster merge --out FILE [--gamma G] [--min-bucket M] ENTRY...\n");
        return 2;
    }
    if (!merge && (out || have_gamma || have_min || argc - first < 2)) {
        fprintf (stderr, "fl-keygen: roster add ROSTER ENTRY... (no options)\n");
        return 2;
    }
    if (merge && s_exists (out)) {
        fprintf (stderr, "fl-keygen: %s already exists: refusing to overwrite the roster "
                         "(use 'fl-keygen roster add' to extend it)\n", out);
        return 1;
    }
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (stderr);
    const char *target = merge ? out : argv[first++];
    fl_roster_t *roster = merge ? fl_roster_new () : fl_roster_load (target);
    if (!roster) {
        fprintf (stderr, "fl-keygen: cannot %s\n", merge ? "allocate a roster" : "load the roster (see above)");
        return 1;
    }
    size_t before = fl_roster_size (roster);
    int rc = 0;
    if (merge && (have_gamma || have_min)) {
        char why[128];
        if (fl_secagg_policy_valid (&pol, why, sizeof why) != 0 || fl_roster_set_policy (roster, &pol) != 0) {
            fprintf (stderr, "fl-keygen: policy refused: %s\n", why);
            rc = -1;
        }
    }
    for (int i = first; rc == 0 && i < argc; i++) {
        fl_roster_t *entry = fl_roster_load_entries (argv[i]);
        if (!entry) {
            fprintf (stderr, "fl-keygen: %s is not a valid entry file (see above)\n", argv[i]);
            rc = -1;
        }
        else
            rc = s_merge_into (roster, entry, argv[i]);
        fl_roster_destroy (&entry);
    }
    if (rc == 0 && !fl_roster_has_coordinator (roster)) {
        fprintf (stderr, "fl-keygen: no coordinator entry among the files (make one with "
                         "fl-keygen --coordinator)\n");
        rc = -1;
    }
    if (rc == 0 && fl_roster_size (roster) == 0) {
        fprintf (stderr, "fl-keygen: no member entries among the files\n");
        rc = -1;
    }
    if (rc == 0 && fl_roster_save (roster, target) != 0) {
        fprintf (stderr, "fl-keygen: cannot write %s\n", target);
        rc = -1;
    }
    if (rc == 0) {
        uint8_t d[FL_ROSTER_DIGESTBYTES];
        char hex[2 * FL_ROSTER_DIGESTBYTES + 1];
        fl_roster_digest (roster, d);
        sodium_bin2hex (hex, sizeof hex, d, sizeof d);
        printf ("fl-keygen: %s: %zu members (%zu new), digest %s; give every site this file\n", target,
                fl_roster_size (roster), fl_roster_size (roster) - before, hex);
    }
    fl_roster_destroy (&roster);
    return rc == 0 ? 0 : 1;
}

static void
s_print_entry (FILE *f, bool coordinator, const char *name, const uint8_t pk[32],
               const char *curve, const char *endpoint)
{
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, pk, 32);
    if (coordinator)
        fprintf (f, "    coordinator\n");
    else
        fprintf (f, "    member = \"%s\"\n", name);
    fprintf (f, "        identity = \"%s\"\n", hex);
    fprintf (f, "        curve = \"%s\"\n", curve);
    if (coordinator && endpoint)
        fprintf (f, "        endpoint = \"%s\"\n", endpoint);
}

static int
s_ensure_dir (const char *dir)
{
    struct stat st;
    if (stat (dir, &st) == 0) {
        if (!S_ISDIR (st.st_mode)) {
            fprintf (stderr, "fl-keygen: %s is not a directory\n", dir);
            return -1;
        }
        return 0;
    }
    if (mkdir (dir, 0700) != 0) {
        fprintf (stderr, "fl-keygen: cannot create directory %s: %s\n", dir, strerror (errno));
        return -1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc >= 2 && streq (argv[1], "roster"))
        return s_roster_cmd (argc, argv);
    const char *out = NULL, *name = NULL, *roster_path = NULL, *endpoint = NULL;
    bool coordinator = false;
    long members = -1;
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'n'},
        {"coordinator", no_argument, NULL, 'c'},
        {"endpoint", required_argument, NULL, 'e'},
        {"roster", required_argument, NULL, 'r'},
        {"members", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "o:n:ce:r:m:h", opts, NULL)) != -1) {
        switch (c) {
            case 'o': out = optarg; break;
            case 'n': name = optarg; break;
            case 'c': coordinator = true; break;
            case 'e': endpoint = optarg; break;
            case 'r': roster_path = optarg; break;
            case 'm': {
                char *end;
                errno = 0;
                members = strtol (optarg, &end, 10);
                if (errno || *end || end == optarg || members < 1
                    || members > (long) FL_ROSTER_MAX_MEMBERS) {
                    fprintf (stderr, "fl-keygen: --members must be an integer in 1..%u\n",
                             FL_ROSTER_MAX_MEMBERS);
                    return 2;
                }
                break;
            }
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("fl-keygen (libfl) %s\n", FL_VERSION); return 0;
            default: s_usage (stderr); return 2;
        }
    }
    if (optind < argc || !out) {
        fprintf (stderr, "fl-keygen: %s\n", optind < argc ? "unexpected argument" : "--out DIR is required");
        s_usage (stderr);
        return 2;
    }
    if (roster_path ? (name || coordinator || members < 0) : (members >= 0 || (!name && !coordinator))) {
        fprintf (stderr, "fl-keygen: use either --name NAME [--coordinator] or --roster FILE --members N\n");
        return 2;
    }
    if (!name)
        name = "coordinator";
    if (!roster_path && !fl_roster_id_valid (name)) {
        fprintf (stderr, "fl-keygen: invalid --name '%s': 1..%u of A-Z a-z 0-9 . _ -, "
                         "starting with a letter or digit\n", name, FL_ROSTER_ID_MAX);
        return 2;
    }
    if (sodium_init () < 0) {
        fprintf (stderr, "fl-keygen: libsodium initialisation failed\n");
        return 1;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    if (roster_path && s_exists (roster_path)) {
        fprintf (stderr, "fl-keygen: %s already exists: refusing to overwrite the roster\n",
                 roster_path);
        return 1;
    }
    if (s_ensure_dir (out) != 0)
        return 1;

    uint8_t pk[32];
    char curve[41];
    if (!roster_path) {
        char entry[PATH_MAX];
        snprintf (entry, sizeof entry, "%s/%s.entry", out, name);
        if (s_exists (entry)) {
            fprintf (stderr, "fl-keygen: %s already exists: refusing to overwrite keys "
                             "(move it away or choose another --name / --out)\n", entry);
            return 1;
        }
        if (s_make_keys (out, name, pk, curve) != 0
            || s_write_entry (out, coordinator, name, pk, curve, endpoint, entry, sizeof entry) != 0)
            return 1;
        fprintf (stderr, "fl-keygen: wrote %s/%s.{identity,identity_secret,curve,curve_secret}; "
                         "keep the *_secret files private. Roster entry (also in %s, for "
                         "'fl-keygen roster merge'):\n", out, name, entry);
        s_print_entry (stdout, coordinator, name, pk, curve, endpoint);
        return 0;
    }

    fl_roster_t *roster = fl_roster_new ();
    int rc = roster ? 0 : -1;
    if (rc == 0)
        rc = s_make_keys (out, "coordinator", pk, curve);
    if (rc == 0)
        rc = fl_roster_set_coordinator (roster, pk, curve, endpoint);
    int width = members >= 100000 ? 6 : members >= 10000 ? 5 : members >= 1000 ? 4
              : members >= 100 ? 3 : 2;
    for (long i = 1; rc == 0 && i <= members; i++) {
        char id[32];
        snprintf (id, sizeof id, "member-%0*ld", width, i);
        rc = s_make_keys (out, id, pk, curve);
        if (rc == 0)
            rc = fl_roster_add_member (roster, id, pk, curve);
    }
    if (rc == 0)
        rc = fl_roster_save (roster, roster_path);
    fl_roster_destroy (&roster);
    if (rc != 0) {
        fprintf (stderr, "fl-keygen: roster generation failed\n");
        return 1;
    }
    fprintf (stderr, "fl-keygen: wrote keys for a coordinator and %ld members in %s and the "
                     "roster %s\n", members, out, roster_path);
    return 0;
}
