/*  test_checkpoint.c - checkpoints: bit-exact round trip of every field
    type; every truncation and every single-byte flip of a small checkpoint
    refused; wrong magic and version refused with the reason; the directory
    protocol (previous checkpoint kept, fallback to it, stale temporary file
    ignored then removed, a damaged latest never evicting the previous good
    one, missing directory reported). */
#include <math.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_checkpoint.h"
#include "fl_test.h"

static const uint8_t s_run[16] = "run-id-000000001";

/* A small checkpoint with one field of every type, like the coordinator's. */
static fl_checkpoint_t *
s_sample (uint64_t round)
{
    fl_checkpoint_t *c = fl_checkpoint_new (s_run, round);
    float params[5] = {0.5f, -1.25f, 3e-8f, -0.0f, 1e30f};
    double acc[4] = {1.0, 151.0, INFINITY, 0.125};     /* +inf RDP is legitimate */
    uint64_t rng[3] = {42, 7, UINT64_MAX};
    FL_CHECK (fl_checkpoint_put_f32s (c, FL_CHECKPOINT_KEY_PARAMS, params, 5) == 0);
    FL_CHECK (fl_checkpoint_put_f64s (c, FL_CHECKPOINT_KEY_ACCOUNTANT, acc, 4) == 0);
    FL_CHECK (fl_checkpoint_put_u64s (c, FL_CHECKPOINT_KEY_RNG, rng, 3) == 0);
    FL_CHECK (fl_checkpoint_put_u64 (c, FL_CHECKPOINT_KEY_OPT_STEP, round * 3) == 0);
    FL_CHECK (fl_checkpoint_put_f64 (c, "lr", 0.1) == 0);
    FL_CHECK (fl_checkpoint_put_bytes (c, FL_CHECKPOINT_KEY_METRICS, "round,acc\n1,0.9\n", 16) == 0);
    FL_CHECK (fl_checkpoint_put_f32s (c, "empty", NULL, 0) == 0);
    return c;
}

static uint8_t *
s_encode (const fl_checkpoint_t *c, size_t *len)
{
    uint8_t *buf = NULL;
    FL_CHECK (fl_checkpoint_encode (c, &buf, len) == 0);
    return buf;
}

static void
test_round_trip (void)
{
    fl_checkpoint_t *c = s_sample (9);
    size_t len;
    uint8_t *buf = s_encode (c, &len);
    FL_CHECK (len % 8 == 0);
    FL_CHECK (memcmp (buf, "FLCKPT\r\n", 8) == 0);
    char why[FL_CHECKPOINT_WHYBYTES] = "";
    fl_checkpoint_t *d = fl_checkpoint_decode (buf, len, why, sizeof why);
    FL_CHECK (d != NULL);
    if (!d) {
        printf ("why: %s\n", why);
        free (buf);
        fl_checkpoint_destroy (&c);
        return;
    }
    FL_CHECK (fl_checkpoint_round (d) == 9);
    FL_CHECK (memcmp (fl_checkpoint_run_id (d), s_run, 16) == 0);
    FL_CHECK (fl_checkpoint_count (d) == 7);
    for (size_t i = 0; i < fl_checkpoint_count (d); i++) {
        FL_CHECK (strcmp (fl_checkpoint_name (d, i), fl_checkpoint_name (c, i)) == 0);
        FL_CHECK (fl_checkpoint_type (d, i) == fl_checkpoint_type (c, i));
    }
    const float *p;
    size_t n;
    FL_CHECK (fl_checkpoint_get_f32s (d, FL_CHECKPOINT_KEY_PARAMS, &p, &n) == 0 && n == 5);
    float want[5] = {0.5f, -1.25f, 3e-8f, -0.0f, 1e30f};
    FL_CHECK (memcmp (p, want, sizeof want) == 0);                 /* bit-exact, -0 included */
    FL_CHECK ((uintptr_t) p % sizeof (float) == 0);
    const double *a;
    FL_CHECK (fl_checkpoint_get_f64s (d, FL_CHECKPOINT_KEY_ACCOUNTANT, &a, &n) == 0 && n == 4);
    FL_CHECK (n == 4 && a[1] == 151.0 && isinf (a[2]) && a[3] == 0.125);
    FL_CHECK ((uintptr_t) a % sizeof (double) == 0);
    const uint64_t *r;
    FL_CHECK (fl_checkpoint_get_u64s (d, FL_CHECKPOINT_KEY_RNG, &r, &n) == 0 && n == 3);
    FL_CHECK (n == 3 && r[0] == 42 && r[1] == 7 && r[2] == UINT64_MAX);
    uint64_t step = 0;
    FL_CHECK (fl_checkpoint_get_u64 (d, FL_CHECKPOINT_KEY_OPT_STEP, &step) == 0 && step == 27);
    double lr = 0;
    FL_CHECK (fl_checkpoint_get_f64 (d, "lr", &lr) == 0 && lr == 0.1);
    const uint8_t *bytes;
    FL_CHECK (fl_checkpoint_get_bytes (d, FL_CHECKPOINT_KEY_METRICS, &bytes, &n) == 0 && n == 16);
    FL_CHECK (n == 16 && memcmp (bytes, "round,acc\n1,0.9\n", 16) == 0);
    FL_CHECK (fl_checkpoint_get_f32s (d, "empty", &p, &n) == 0 && n == 0 && p != NULL);
    /* copy with the exact length only */
    float out[5];
    FL_CHECK (fl_checkpoint_copy_f32s (d, FL_CHECKPOINT_KEY_PARAMS, out, 5) == 0);
    FL_CHECK (memcmp (out, want, sizeof want) == 0);
    FL_CHECK (fl_checkpoint_copy_f32s (d, FL_CHECKPOINT_KEY_PARAMS, out, 4) == -1);
    /* wrong type and missing names are errors, not asserts */
    FL_CHECK (fl_checkpoint_get_u64 (d, "lr", &step) == -1);
    FL_CHECK (fl_checkpoint_get_f32s (d, FL_CHECKPOINT_KEY_RNG, &p, &n) == -1);
    FL_CHECK (fl_checkpoint_get_f64 (d, "nope", &lr) == -1);
    FL_CHECK (!fl_checkpoint_has (d, "nope") && fl_checkpoint_has (d, "lr"));
    /* re-encoding a decoded checkpoint gives the same bytes */
    size_t len2;
    uint8_t *buf2 = s_encode (d, &len2);
    FL_CHECK (len2 == len && memcmp (buf, buf2, len) == 0);
    free (buf2);
    /* a decoded checkpoint accepts more fields */
    FL_CHECK (fl_checkpoint_put_u64 (d, "extra", 1) == 0);
    FL_CHECK (fl_checkpoint_count (d) == 8);
    fl_checkpoint_destroy (&d);
    fl_checkpoint_destroy (&d);     /* safe twice */
    FL_CHECK (d == NULL);
    free (buf);
    fl_checkpoint_destroy (&c);
}

static void
test_put_refusals (void)
{
    fl_checkpoint_t *c = fl_checkpoint_new (s_run, 1);
    FL_CHECK (fl_checkpoint_put_u64 (c, "a", 1) == 0);
    FL_CHECK (fl_checkpoint_put_u64 (c, "a", 2) == -1);            /* duplicate */
    FL_CHECK (fl_checkpoint_put_f64 (c, "a", 2) == -1);            /* duplicate, other type */
    FL_CHECK (fl_checkpoint_put_u64 (c, "", 1) == -1);
    FL_CHECK (fl_checkpoint_put_u64 (c, "has space", 1) == -1);
    FL_CHECK (fl_checkpoint_put_u64 (c, "slash/no", 1) == -1);
    char longname[80];
    memset (longname, 'x', sizeof longname);
    longname[FL_CHECKPOINT_NAMEBYTES] = 0;
    FL_CHECK (fl_checkpoint_put_u64 (c, longname, 1) == 0);        /* 63: the maximum */
    longname[FL_CHECKPOINT_NAMEBYTES] = 'x';
    longname[FL_CHECKPOINT_NAMEBYTES + 1] = 0;
    FL_CHECK (fl_checkpoint_put_u64 (c, longname, 1) == -1);
    /* too large a vector is refused before anything is allocated */
    FL_CHECK (fl_checkpoint_put_f32s (c, "huge", (const float *) s_run, SIZE_MAX / 2) == -1);
    FL_CHECK (fl_checkpoint_put_bytes (c, "huge", s_run, FL_CHECKPOINT_MAX_BYTES) == -1);
    /* the field limit */
    fl_checkpoint_t *many = fl_checkpoint_new (s_run, 1);
    char name[32];
    int ok = 1;
    for (unsigned i = 0; i < FL_CHECKPOINT_MAX_FIELDS; i++) {
        snprintf (name, sizeof name, "f%u", i);
        ok &= fl_checkpoint_put_u64 (many, name, i) == 0;
    }
    FL_CHECK (ok);
    FL_CHECK (fl_checkpoint_put_u64 (many, "one-more", 1) == -1);
    size_t len;
    uint8_t *buf = s_encode (many, &len);
    fl_checkpoint_t *d = fl_checkpoint_decode (buf, len, NULL, 0);
    FL_CHECK (d && fl_checkpoint_count (d) == FL_CHECKPOINT_MAX_FIELDS);
    uint64_t v = 0;
    FL_CHECK (d && fl_checkpoint_get_u64 (d, "f1023", &v) == 0 && v == 1023);
    fl_checkpoint_destroy (&d);
    free (buf);
    fl_checkpoint_destroy (&many);
    fl_checkpoint_destroy (&c);
}

static void
test_every_truncation_refused (void)
{
    fl_checkpoint_t *c = s_sample (3);
    size_t len;
    uint8_t *buf = s_encode (c, &len);
    int refused = 0;
    char why[FL_CHECKPOINT_WHYBYTES];
    for (size_t cut = 0; cut < len; cut++) {
        /* a fresh copy of exactly `cut` bytes so ASan sees any over-read */
        uint8_t *part = malloc (cut ? cut : 1);
        memcpy (part, buf, cut);
        fl_checkpoint_t *d = fl_checkpoint_decode (part, cut, why, sizeof why);
        refused += d == NULL;
        fl_checkpoint_destroy (&d);
        free (part);
    }
    FL_CHECK (refused == (int) len);
    uint8_t *part = malloc (len - 8);
    memcpy (part, buf, len - 8);
    FL_CHECK (fl_checkpoint_decode (part, len - 8, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "truncated") != NULL);
    free (part);
    /* and an appended byte */
    uint8_t *more = malloc (len + 1);
    memcpy (more, buf, len);
    more[len] = 0;
    FL_CHECK (fl_checkpoint_decode (more, len + 1, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "trailing") != NULL);
    free (more);
    free (buf);
    fl_checkpoint_destroy (&c);
}

static void
test_every_byte_flip_refused (void)
{
    fl_checkpoint_t *c = s_sample (3);
    size_t len;
    uint8_t *buf = s_encode (c, &len);
    int refused = 0, by_checksum = 0;
    char why[FL_CHECKPOINT_WHYBYTES];
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit += 7) {      /* lowest and highest bit of each byte */
            buf[i] ^= (uint8_t) (1u << bit);
            fl_checkpoint_t *d = fl_checkpoint_decode (buf, len, why, sizeof why);
            refused += d == NULL;
            by_checksum += d == NULL && strstr (why, "checksum") != NULL;
            fl_checkpoint_destroy (&d);
            buf[i] ^= (uint8_t) (1u << bit);
        }
    FL_CHECK (refused == (int) (2 * len));
    /* flips outside magic, version and length are caught by the checksum */
    FL_CHECK (by_checksum >= (int) (2 * (len - 24)));
    fl_checkpoint_t *d = fl_checkpoint_decode (buf, len, why, sizeof why);
    FL_CHECK (d != NULL);     /* the buffer is intact again */
    fl_checkpoint_destroy (&d);
    free (buf);
    fl_checkpoint_destroy (&c);
}

static void
test_magic_version_structure (void)
{
    fl_checkpoint_t *c = s_sample (3);
    size_t len;
    uint8_t *buf = s_encode (c, &len);
    char why[FL_CHECKPOINT_WHYBYTES];
    buf[0] = 'X';
    FL_CHECK (fl_checkpoint_decode (buf, len, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "magic") != NULL);
    buf[0] = 'F';
    buf[8] = 2;         /* version 2, checksum still of version 1: version is checked first */
    FL_CHECK (fl_checkpoint_decode (buf, len, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "version 2") != NULL);
    buf[8] = 1;
    fl_checkpoint_t *ok = fl_checkpoint_decode (buf, len, why, sizeof why);
    FL_CHECK (ok != NULL);
    fl_checkpoint_destroy (&ok);
    free (buf);

    /* Structurally bad content with a valid checksum: the field parser
       stands on its own.  Each case edits an encoded checkpoint holding one
       u64 field "ab", then recomputes the checksum. */
    fl_checkpoint_t *one = fl_checkpoint_new (s_run, 1);
    FL_CHECK (fl_checkpoint_put_u64 (one, "ab", 5) == 0);
    buf = s_encode (one, &len);
    FL_CHECK (len == 48 + 16 + 8 + 8 + 32);
    struct { size_t off; uint8_t val; const char *why; } cases[] = {
        { 48, 0, "unknown type" },            /* type 0 */
        { 48, 7, "unknown type" },            /* type 7 */
        { 48, 4, NULL },                      /* F32S of 8 bytes: valid (2 floats) */
        { 48, 3, NULL },                      /* BYTES of 8: valid */
        { 49, 0, "name" },                    /* empty name */
        { 49, 64, "name" },                   /* longer than the maximum / past the end */
        { 49, 3, "name" },                    /* includes a padding zero byte */
        { 50, 1, "reserved" },
        { 56, 4, "does not fit" },            /* u64 of 4 bytes */
        { 56, 16, "past the end" },
        { 64, ' ', "name" },
        { 66, 1, "padding" },                 /* name padding */
        { 12, 2, "past the end" },            /* two fields declared, one present */
        { 12, 3, "fit" },                     /* three: more headers than bytes */
        { 12, 0, "after the last field" },    /* zero fields declared, one present */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *b = malloc (len);
        memcpy (b, buf, len);
        b[cases[k].off] = cases[k].val;
        crypto_generichash (b + len - 32, 32, b, len - 32, NULL, 0);
        why[0] = 0;
        fl_checkpoint_t *d = fl_checkpoint_decode (b, len, why, sizeof why);
        if (cases[k].why) {
            FL_CHECK (d == NULL);
            FL_CHECK (strstr (why, cases[k].why) != NULL);
            if (!d && !strstr (why, cases[k].why))
                printf ("case %zu: why '%s'\n", k, why);
        }
        else
            FL_CHECK (d != NULL);
        fl_checkpoint_destroy (&d);
        free (b);
    }
    free (buf);
    fl_checkpoint_destroy (&one);
    fl_checkpoint_destroy (&c);
}

/* ---- directory protocol ------------------------------------------------- */

static void
s_path (char *out, size_t cap, const char *dir, const char *file)
{
    snprintf (out, cap, "%s/%s", dir, file);
}

static bool
s_exists (const char *dir, const char *file)
{
    char p[512];
    s_path (p, sizeof p, dir, file);
    return access (p, F_OK) == 0;
}

static void
s_write (const char *dir, const char *file, const void *data, size_t len)
{
    char p[512];
    s_path (p, sizeof p, dir, file);
    FILE *f = fopen (p, "wb");
    FL_CHECK (f != NULL);
    if (f) {
        FL_CHECK (fwrite (data, 1, len, f) == len);
        fclose (f);
    }
}

static uint8_t *
s_read (const char *dir, const char *file, size_t *len)
{
    char p[512];
    s_path (p, sizeof p, dir, file);
    FILE *f = fopen (p, "rb");
    *len = 0;
    if (!f)
        return NULL;
    uint8_t *buf = malloc (1 << 16);
    *len = fread (buf, 1, 1 << 16, f);
    fclose (f);
    return buf;
}

static uint64_t
s_loaded_round (const char *dir, int *rc, bool *from_prev)
{
    fl_checkpoint_t *c = NULL;
    *rc = fl_checkpoint_load_dir (dir, &c, from_prev);
    uint64_t round = c ? fl_checkpoint_round (c) : UINT64_MAX;
    FL_CHECK ((*rc == 0) == (c != NULL));
    fl_checkpoint_destroy (&c);
    return round;
}

static void
s_remove_all (const char *dir)
{
    const char *files[] = { FL_CHECKPOINT_FILE, FL_CHECKPOINT_PREV_FILE, FL_CHECKPOINT_TMP_FILE,
                            FL_CHECKPOINT_PREV_TMP_FILE };
    char p[512];
    for (int i = 0; i < 4; i++) {
        s_path (p, sizeof p, dir, files[i]);
        unlink (p);
    }
    rmdir (dir);
}

static void
test_directory_protocol (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-checkpoint") != NULL);
    int rc;
    bool from_prev = true;

    /* empty directory: a fresh run */
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == UINT64_MAX && rc == 1 && !from_prev);

    /* first save: no previous yet; mode 0600 */
    fl_checkpoint_t *c1 = s_sample (1);
    FL_CHECK (fl_checkpoint_save_dir (c1, dir) == 0);
    FL_CHECK (s_exists (dir, FL_CHECKPOINT_FILE) && !s_exists (dir, FL_CHECKPOINT_PREV_FILE));
    char p[512];
    struct stat st;
    s_path (p, sizeof p, dir, FL_CHECKPOINT_FILE);
    FL_CHECK (stat (p, &st) == 0 && (st.st_mode & 0777) == 0600);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 1 && rc == 0 && !from_prev);

    /* second save keeps the first as previous */
    fl_checkpoint_t *c2 = s_sample (2);
    FL_CHECK (fl_checkpoint_save_dir (c2, dir) == 0);
    FL_CHECK (s_exists (dir, FL_CHECKPOINT_PREV_FILE) && !s_exists (dir, FL_CHECKPOINT_TMP_FILE));
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 2 && rc == 0 && !from_prev);
    size_t len;
    uint8_t *prev = s_read (dir, FL_CHECKPOINT_PREV_FILE, &len);
    fl_checkpoint_t *d = prev ? fl_checkpoint_decode (prev, len, NULL, 0) : NULL;
    FL_CHECK (d && fl_checkpoint_round (d) == 1);
    fl_checkpoint_destroy (&d);
    free (prev);

    /* damaged latest (one flipped byte): fall back to the previous one */
    uint8_t *latest = s_read (dir, FL_CHECKPOINT_FILE, &len);
    FL_CHECK (latest && len > 100);
    latest[100] ^= 0x01;
    s_write (dir, FL_CHECKPOINT_FILE, latest, len);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 1 && rc == 0 && from_prev);
    char why[FL_CHECKPOINT_WHYBYTES];
    s_path (p, sizeof p, dir, FL_CHECKPOINT_FILE);
    FL_CHECK (fl_checkpoint_load_file (p, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "checksum") != NULL);

    /* saving over a damaged latest must not evict the previous good one */
    fl_checkpoint_t *c3 = s_sample (3);
    FL_CHECK (fl_checkpoint_save_dir (c3, dir) == 0);
    prev = s_read (dir, FL_CHECKPOINT_PREV_FILE, &len);
    d = prev ? fl_checkpoint_decode (prev, len, NULL, 0) : NULL;
    FL_CHECK (d && fl_checkpoint_round (d) == 1);
    fl_checkpoint_destroy (&d);
    free (prev);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 3 && rc == 0 && !from_prev);

    /* truncated latest: fallback too */
    latest[100] ^= 0x01;
    s_write (dir, FL_CHECKPOINT_FILE, latest, len / 2);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 1 && rc == 0 && from_prev);

    /* crash between "rename latest to prev" and "rename tmp to latest":
       only prev (and a finished tmp) exist; the tmp is ignored */
    s_path (p, sizeof p, dir, FL_CHECKPOINT_FILE);
    unlink (p);
    size_t l3;
    uint8_t *b3 = NULL;
    FL_CHECK (fl_checkpoint_encode (c3, &b3, &l3) == 0);
    s_write (dir, FL_CHECKPOINT_TMP_FILE, b3, l3);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 1 && rc == 0 && from_prev);
    /* a stale, half-written tmp is removed by the next save */
    s_write (dir, FL_CHECKPOINT_TMP_FILE, b3, l3 / 3);
    FL_CHECK (fl_checkpoint_save_dir (c2, dir) == 0);
    FL_CHECK (!s_exists (dir, FL_CHECKPOINT_TMP_FILE));
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 2 && rc == 0 && !from_prev);
    /* a stale second name of the previous checkpoint (a crash between link
       and rename) is replaced; the latest is never missing in between */
    s_write (dir, FL_CHECKPOINT_PREV_TMP_FILE, b3, l3 / 3);
    FL_CHECK (fl_checkpoint_save_dir (c3, dir) == 0);
    FL_CHECK (!s_exists (dir, FL_CHECKPOINT_PREV_TMP_FILE) && !s_exists (dir, FL_CHECKPOINT_TMP_FILE));
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 3 && rc == 0 && !from_prev);
    FL_CHECK (fl_checkpoint_save_dir (c2, dir) == 0);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == 2 && rc == 0 && !from_prev);
    free (b3);

    /* both damaged: an error, not a fresh start */
    s_write (dir, FL_CHECKPOINT_FILE, "garbage", 7);
    s_write (dir, FL_CHECKPOINT_PREV_FILE, latest, 10);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == UINT64_MAX && rc == -1);
    /* a directory in place of the file is refused, not read */
    s_path (p, sizeof p, dir, FL_CHECKPOINT_FILE);
    unlink (p);
    FL_CHECK (mkdir (p, 0700) == 0);
    FL_CHECK (fl_checkpoint_load_file (p, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "regular") != NULL);
    rmdir (p);
    free (latest);

    /* missing directory: a clear error for load and save */
    s_remove_all (dir);
    FL_CHECK (s_loaded_round (dir, &rc, &from_prev) == UINT64_MAX && rc == -1);
    FL_CHECK (fl_checkpoint_save_dir (c1, dir) == -1);
    FL_CHECK (fl_checkpoint_save_dir (c1, "/dev/null") == -1);     /* not a directory */
    s_path (p, sizeof p, dir, FL_CHECKPOINT_FILE);
    FL_CHECK (fl_checkpoint_load_file (p, why, sizeof why) == NULL);
    FL_CHECK (strstr (why, "No such file") != NULL);

    fl_checkpoint_destroy (&c1);
    fl_checkpoint_destroy (&c2);
    fl_checkpoint_destroy (&c3);
}

/*  A checkpoint the size a 1M-parameter model with Adam moments needs
    (~12 MiB) saves and loads; checks the limits are not too tight. */
static void
test_large_model (void)
{
    size_t n = 1000000;
    float *params = malloc (n * sizeof *params);
    float *moments = malloc (2 * n * sizeof *moments);
    for (size_t i = 0; i < n; i++)
        params[i] = (float) i * 1e-6f;
    for (size_t i = 0; i < 2 * n; i++)
        moments[i] = (float) (i % 977) - 400.0f;
    fl_checkpoint_t *c = fl_checkpoint_new (s_run, 100);
    FL_CHECK (fl_checkpoint_put_f32s (c, FL_CHECKPOINT_KEY_PARAMS, params, n) == 0);
    FL_CHECK (fl_checkpoint_put_f32s (c, FL_CHECKPOINT_KEY_OPT_STATE, moments, 2 * n) == 0);
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-checkpoint") != NULL);
    FL_CHECK (fl_checkpoint_save_dir (c, dir) == 0);
    fl_checkpoint_t *d = NULL;
    FL_CHECK (fl_checkpoint_load_dir (dir, &d, NULL) == 0);
    float *back = malloc (n * sizeof *back);
    FL_CHECK (d && fl_checkpoint_copy_f32s (d, FL_CHECKPOINT_KEY_PARAMS, back, n) == 0);
    FL_CHECK (memcmp (back, params, n * sizeof *back) == 0);
    const float *m;
    size_t mn = 0;
    FL_CHECK (d && fl_checkpoint_get_f32s (d, FL_CHECKPOINT_KEY_OPT_STATE, &m, &mn) == 0);
    FL_CHECK (mn == 2 * n && memcmp (m, moments, mn * sizeof *m) == 0);
    fl_checkpoint_destroy (&d);
    fl_checkpoint_destroy (&c);
    s_remove_all (dir);
    free (back);
    free (params);
    free (moments);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_round_trip);
    FL_RUN (test_put_refusals);
    FL_RUN (test_every_truncation_refused);
    FL_RUN (test_every_byte_flip_refused);
    FL_RUN (test_magic_version_structure);
    FL_RUN (test_directory_protocol);
    FL_RUN (test_large_model);
    FL_TEST_DONE ();
}
