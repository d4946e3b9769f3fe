/*  fl_adversary.c - a Byzantine member for robustness evaluation (see
    fl_adversary.h): an honest fl_client wrapped through its update hook,
    plus the colluders' directory rendezvous (the only I/O of an attack). */
#include "fl_adversary.h"

#include <assert.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_atomic.h"

/*  Largest d accepted by the collusion channel: 2^28 floats (a 1 GiB file),
    so that every size computed from d fits comfortably. */
#define S_MAX_D ((size_t) 1 << 28)
#define S_POLL_MS 10

struct fl_adversary_t {
    fl_client_t *client;          /* the wrapped member (owned) */
    fl_attack_kind_t attack;
    fl_attack_params_t params;
    char *collude_dir;            /* NULL: own update only */
    size_t colluders;
    int collude_timeout_ms;
    fl_rng_t *rng;                /* the attack's randomness (Gaussian) */
    uint64_t claim;               /* examples claimed per update; 0: the true count */
};

/*  The update hook: the attack replaces the honest update, which is sent
    unclipped (an attacker controls its own member; only the encoding's
    per-coordinate bound still applies). */
static int
s_on_update (void *arg, fl_client_update_t *info, float *update, size_t n)
{
    fl_adversary_t *self = (fl_adversary_t *) arg;
    if (self->claim)
        info->examples = self->claim;
    if (self->attack == FL_ATTACK_NONE || self->attack == FL_ATTACK_LABEL_FLIP)
        return 0;                 /* no model poisoning: only the claim */
    if (fl_adversary_round (self->attack, &self->params, self->collude_dir, info->run_id, info->round, info->member,
                            self->colluders, self->collude_timeout_ms, self->rng, update, n) != 0) {
        zsys_error ("client %s: attack %s failed", info->member, fl_attack_kind_name (self->attack));
        return -1;
    }
    info->clip = 0;
    return 0;
}

fl_dataset_t *
fl_adversary_resample (const fl_dataset_t *ds, size_t n, fl_rng_t *rng)
{
    assert (ds && rng);
    size_t have = fl_dataset_rows (ds);
    if (have == 0 || n == 0 || n > ((size_t) 1 << 31)) {
        zsys_error ("fl_adversary_resample: cannot resize %zu training rows to %zu (need both in 1..2^31)", have, n);
        return NULL;
    }
    uint32_t *rows = (uint32_t *) malloc ((n > have ? n : have) * sizeof (uint32_t));
    if (!rows)
        return NULL;
    for (size_t i = 0; i < have; i++)
        rows[i] = (uint32_t) i;
    for (size_t i = have; i < n; i++)                   /* the extra rows: with replacement */
        rows[i] = (uint32_t) fl_rng_uniform (rng, have);
    size_t m = n > have ? n : have;
    for (size_t i = 0; i + 1 < m && i < n; i++) {       /* partial Fisher-Yates: rows[0..n) uniform */
        size_t j = i + (size_t) fl_rng_uniform (rng, m - i);
        uint32_t t = rows[i];
        rows[i] = rows[j];
        rows[j] = t;
    }
    fl_dataset_t *out = fl_dataset_subset (ds, rows, n);
    free (rows);
    return out;
}

fl_adversary_t *
fl_adversary_new (const fl_adversary_config_t *acfg, const fl_client_config_t *ccfg, fl_dataset_t **train,
                  fl_dataset_t **test)
{
    assert (acfg && ccfg && train && test);
    if ((unsigned) acfg->attack >= FL_ATTACK_KIND_COUNT) {
        zsys_error ("fl_adversary_new: unknown attack %d", (int) acfg->attack);
        return NULL;
    }
    fl_adversary_t *self = (fl_adversary_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->attack = acfg->attack;
    self->params = acfg->params;
    self->colluders = acfg->colluders;
    self->collude_timeout_ms = acfg->collude_timeout_ms > 0 ? acfg->collude_timeout_ms
                                                            : FL_ADVERSARY_COLLUDE_TIMEOUT_MS;
    self->collude_dir = acfg->collude_dir ? strdup (acfg->collude_dir) : NULL;
    self->rng = fl_rng_new_u64 (ccfg->seed, 0x61747461636bull);   /* "attack" */
    if (!self->rng || (acfg->collude_dir && !self->collude_dir)) {
        fl_adversary_destroy (&self);
        return NULL;
    }
    /* Label flipping is data preparation: the raw training rows get flipped
       labels once, before the member exists, so every later copy
       (standardised, after a rejoin) carries them. */
    if (self->attack == FL_ATTACK_LABEL_FLIP && *train && *test) {
        size_t k = fl_dataset_classes (*train) > fl_dataset_classes (*test) ? fl_dataset_classes (*train)
                                                                            : fl_dataset_classes (*test);
        fl_dataset_t *flipped = fl_attack_label_flip_dataset (*train, k < 2 ? 2 : k);
        if (!flipped) {
            fl_adversary_destroy (&self);
            return NULL;
        }
        fl_dataset_destroy (train);
        *train = flipped;
    }
    size_t own_rows = *train ? fl_dataset_rows (*train) : 0;
    if (acfg->train_rows && *train) {
        fl_dataset_t *resized = fl_adversary_resample (*train, acfg->train_rows, self->rng);
        if (!resized) {
            fl_adversary_destroy (&self);
            return NULL;
        }
        fl_dataset_destroy (train);
        *train = resized;
    }
    self->claim = acfg->claim_examples;
    fl_client_config_t cc = *ccfg;
    int poisons_update = (self->attack != FL_ATTACK_NONE && self->attack != FL_ATTACK_LABEL_FLIP) || self->claim;
    cc.update_hook = poisons_update ? s_on_update : NULL;
    cc.update_arg = poisons_update ? self : NULL;
    self->client = fl_client_new (&cc, train, test);
    if (!self->client) {
        fl_adversary_destroy (&self);
        return NULL;
    }
    if (self->attack != FL_ATTACK_NONE)
        zsys_warning ("client %s: BYZANTINE: this client runs the %s attack (robustness evaluation "
                      "only)%s%s", ccfg->member ? ccfg->member : "member", fl_attack_kind_name (self->attack),
                      self->collude_dir ? "; colludes through " : "", self->collude_dir ? self->collude_dir : "");
    if (acfg->train_rows || self->claim)
        zsys_warning ("client %s: BYZANTINE: trains on %zu rows (its partition has %zu) and claims %" PRIu64
                      " examples", ccfg->member ? ccfg->member : "member", acfg->train_rows ? acfg->train_rows
                      : own_rows, own_rows, self->claim ? self->claim : (uint64_t) (acfg->train_rows ? acfg->train_rows : own_rows));
    return self;
}

void
fl_adversary_destroy (fl_adversary_t **self_p)
{
    assert (self_p);
    fl_adversary_t *self = *self_p;
    if (!self)
        return;
    fl_client_destroy (&self->client);
    free (self->collude_dir);
    fl_rng_destroy (&self->rng);
    free (self);
    *self_p = NULL;
}

fl_client_t *
fl_adversary_client (fl_adversary_t *self)
{
    assert (self);
    return self->client;
}

/*  ---- the collusion rendezvous ---------------------------------------------------------

    File layout (all integers little-endian):
        0   u32  magic FL_ADVERSARY_FILE_MAGIC ("FLCL")
        4   u32  version FL_ADVERSARY_FILE_VERSION
        8   16   run id
        24  u64  round
        32  u64  d
        40  32   BLAKE2b-256 (crypto_generichash) of bytes [0, 40) || payload
        72  4d   payload: d float32 (IEEE 754 bits, little-endian)
    Name: <run id hex>-<round>-<BLAKE2b-64(member) hex>.flc; it is written
    with fl_atomic_write, whose temporary file (name.flc.tmp) a directory
    scan skips, so no reader sees a half-written update. */

static void
s_put_u32 (uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t) (v >> (8 * i));
}

static void
s_put_u64 (uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
s_get_u32 (const uint8_t *b)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static uint64_t
s_get_u64 (const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static void
s_checksum (const uint8_t *buf, size_t len, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    crypto_generichash_update (&st, buf, 40);
    crypto_generichash_update (&st, buf + FL_ADVERSARY_FILE_HEADERBYTES, len - FL_ADVERSARY_FILE_HEADERBYTES);
    crypto_generichash_final (&st, out, 32);
}

/*  "<run hex>-<round>-" */
static void
s_prefix (char *buf, size_t cap, const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round)
{
    char hex[2 * FL_SESSION_RUNIDBYTES + 1];
    sodium_bin2hex (hex, sizeof hex, run_id, FL_SESSION_RUNIDBYTES);
    snprintf (buf, cap, "%s-%llu-", hex, (unsigned long long) round);
}

static void
s_member_tag (const char *member, char out[17])
{
    uint8_t h[8];
    crypto_generichash (h, sizeof h, (const uint8_t *) member, strlen (member), NULL, 0);
    sodium_bin2hex (out, 17, h, sizeof h);
}

static int
s_write_update (const char *dir, const char *name, const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round,
                const float *honest, size_t d)
{
    size_t len = FL_ADVERSARY_FILE_HEADERBYTES + 4 * d;
    char path[4096];
    if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path) {
        zsys_error ("fl_adversary_collude: directory path too long: %s", dir);
        return -1;
    }
    uint8_t *buf = (uint8_t *) malloc (len);
    if (!buf) {
        zsys_error ("fl_adversary_collude: out of memory (d = %zu)", d);
        return -1;
    }
    s_put_u32 (buf, FL_ADVERSARY_FILE_MAGIC);
    s_put_u32 (buf + 4, FL_ADVERSARY_FILE_VERSION);
    memcpy (buf + 8, run_id, FL_SESSION_RUNIDBYTES);
    s_put_u64 (buf + 24, round);
    s_put_u64 (buf + 32, d);
    for (size_t j = 0; j < d; j++) {
        uint32_t bits;
        memcpy (&bits, &honest[j], 4);
        s_put_u32 (buf + FL_ADVERSARY_FILE_HEADERBYTES + 4 * j, bits);
    }
    s_checksum (buf, len, buf + 40);
    /* PATH.tmp does not end in ".flc": a scan never reads a half-written update */
    int rc = fl_atomic_write (path, buf, len, 0600);
    if (rc != 0)
        zsys_error ("fl_adversary_collude: cannot write %s: %s", path, strerror (errno));
    free (buf);
    return rc;
}

/*  Reads and validates one colluder file into row (d).  buf has room for
    exactly the expected size.  Returns 0, or -1 with a reason in why. */
static int
s_read_update (const char *path, const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round, size_t d, uint8_t *buf,
               float *row, const char **why)
{
    size_t len = FL_ADVERSARY_FILE_HEADERBYTES + 4 * d;
    int fd = open (path, O_RDONLY);
    if (fd < 0) {
        *why = "cannot open";
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (uint64_t) st.st_size != (uint64_t) len) {
        close (fd);
        *why = "wrong size for this d (or not a regular file)";
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t r = read (fd, buf + off, len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t) r;
    }
    close (fd);
    if (off != len) {
        *why = "short read";
        return -1;
    }
    uint8_t sum[32];
    s_checksum (buf, len, sum);
    if (s_get_u32 (buf) != FL_ADVERSARY_FILE_MAGIC || s_get_u32 (buf + 4) != FL_ADVERSARY_FILE_VERSION) {
        *why = "bad magic or version";
        return -1;
    }
    if (sodium_memcmp (sum, buf + 40, 32) != 0) {
        *why = "checksum mismatch";
        return -1;
    }
    if (memcmp (buf + 8, run_id, FL_SESSION_RUNIDBYTES) != 0 || s_get_u64 (buf + 24) != round) {
        *why = "another run or round";
        return -1;
    }
    if (s_get_u64 (buf + 32) != (uint64_t) d) {
        *why = "wrong dimension";
        return -1;
    }
    for (size_t j = 0; j < d; j++) {
        uint32_t bits = s_get_u32 (buf + FL_ADVERSARY_FILE_HEADERBYTES + 4 * j);
        memcpy (&row[j], &bits, 4);
        if (!isfinite (row[j])) {
            *why = "non-finite value";
            return -1;
        }
    }
    return 0;
}

int
fl_adversary_collude (const char *dir, const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round,
                   const char *member, const float *honest, size_t d, size_t n_colluders,
                   int timeout_ms, float **rows_out, size_t *n_out)
{
    assert (dir && run_id && member && honest && rows_out && n_out);
    *rows_out = NULL;
    *n_out = 0;
    if (d == 0 || d > S_MAX_D || n_colluders == 0 || n_colluders > FL_ADVERSARY_MAX_COLLUDERS
        || timeout_ms < 0) {
        zsys_error ("fl_adversary_collude: bad argument (d = %zu of at most %zu, colluders = %zu of at "
                    "most %u, timeout %d ms)", d, S_MAX_D, n_colluders, FL_ADVERSARY_MAX_COLLUDERS,
                    timeout_ms);
        return -1;
    }
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        zsys_error ("fl_adversary_collude: cannot create directory %s: %s", dir, strerror (errno));
        return -1;
    }
    char prefix[96], tag[17], name[128];
    s_prefix (prefix, sizeof prefix, run_id, round);
    s_member_tag (member, tag);
    snprintf (name, sizeof name, "%s%s.flc", prefix, tag);

    float *rows = (float *) malloc (n_colluders * d * sizeof (float));
    uint8_t *buf = (uint8_t *) malloc (FL_ADVERSARY_FILE_HEADERBYTES + 4 * d);
    zhash_t *seen = zhash_new ();
    if (!rows || !buf || !seen) {
        zsys_error ("fl_adversary_collude: out of memory (%zu x %zu)", n_colluders, d);
        goto fail;
    }
    memcpy (rows, honest, d * sizeof (float));
    size_t n = 1;
    if (n_colluders > 1 && s_write_update (dir, name, run_id, round, honest, d) != 0)
        goto fail;

    size_t plen = strlen (prefix);
    int64_t start = zclock_mono ();
    char path[4096];
    while (n < n_colluders) {
        DIR *dh = opendir (dir);
        if (!dh) {
            zsys_error ("fl_adversary_collude: cannot read directory %s: %s", dir, strerror (errno));
            goto fail;
        }
        struct dirent *de;
        while (n < n_colluders && (de = readdir (dh)) != NULL) {
            const char *fn = de->d_name;
            size_t flen = strlen (fn);
            if (flen <= plen + 4 || strncmp (fn, prefix, plen) != 0 || strcmp (fn + flen - 4, ".flc") != 0
                || strcmp (fn, name) == 0 || zhash_lookup (seen, fn))
                continue;
            zhash_insert (seen, fn, (void *) "seen");
            const char *why = "";
            if (snprintf (path, sizeof path, "%s/%s", dir, fn) >= (int) sizeof path)
                continue;
            if (s_read_update (path, run_id, round, d, buf, rows + n * d, &why) == 0)
                n++;
            else
                zsys_warning ("fl_adversary_collude: skipped %s: %s", path, why);
        }
        closedir (dh);
        if (n >= n_colluders || zclock_mono () - start >= timeout_ms)
            break;
        zclock_sleep (S_POLL_MS);
    }
    if (n < n_colluders)
        zsys_warning ("fl_adversary_collude: round %llu: %zu of %zu colluders' updates after %d ms; "
                      "using those", (unsigned long long) round, n, n_colluders, timeout_ms);
    free (buf);
    zhash_destroy (&seen);
    *rows_out = rows;
    *n_out = n;
    return 0;
fail:
    free (rows);
    free (buf);
    zhash_destroy (&seen);
    return -1;
}

int
fl_adversary_round (fl_attack_kind_t kind, const fl_attack_params_t *p, const char *dir,
                 const uint8_t run_id[FL_SESSION_RUNIDBYTES], uint64_t round, const char *member,
                 size_t n_colluders, int timeout_ms, fl_rng_t *rng, float *update, size_t d)
{
    assert (p && update);
    float *rows = NULL;
    size_t n_rows = 0;
    if (fl_attack_needs_rows (kind) && dir && n_colluders > 1
        && fl_adversary_collude (dir, run_id, round, member, update, d, n_colluders, timeout_ms, &rows,
                              &n_rows) != 0)
        return -1;
    int rc = fl_attack_apply (kind, p, update, rows, n_rows, d, rng, update);
    free (rows);
    return rc;
}
