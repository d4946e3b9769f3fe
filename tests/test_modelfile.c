/*  test_modelfile.c - model files: round trip; truncated, foreign and
    tampered files refused; the stored schema (encoding and label mapping
    of a member's own CSV) attached, read back, and refused when it does
    not fit the model; files without it load as before.  The parameter
    digest (format 3): its definition recomputed by hand, one parameter
    changed changes it, a file whose digest does not match its parameters
    is refused. */
#include <sodium.h>
#include <unistd.h>

#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_schema.h"
#include "fl_test.h"

static void
test_round_trip_and_refusals (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-modelfile") != NULL);
    char path[256], bad[256];
    snprintf (path, sizeof path, "%s/m.flm", dir);
    snprintf (bad, sizeof bad, "%s/bad.flm", dir);
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = 5;
    mc.n_classes = 2;
    mc.seed = 3;
    FL_CHECK (fl_model_parse_hidden ("8,4", &mc) == 0);
    fl_model_t *m = fl_model_new ("mlp", &mc);
    float mean[5] = {1, 2, 3, 4, 5}, std[5] = {1, 1, 2, 2, 3};
    uint8_t run[16] = {1};
    FL_CHECK (fl_modelfile_save (path, m, "8,4", mean, std, run, 7) == 0);

    fl_model_t *back = NULL;
    float *bm = NULL, *bs = NULL;
    FL_CHECK (fl_modelfile_load (path, &back, &bm, &bs) == 0);
    FL_CHECK (back && fl_model_num_params (back) == fl_model_num_params (m));
    FL_CHECK (back && memcmp (fl_model_params (back), fl_model_params (m),
                              fl_model_num_params (m) * sizeof (float)) == 0);
    FL_CHECK (bm && bs && memcmp (bm, mean, sizeof mean) == 0 && memcmp (bs, std, sizeof std) == 0);
    fl_model_destroy (&back);
    free (bm);
    free (bs);

    /* read the file, then write damaged copies */
    FILE *f = fopen (path, "rb");
    uint8_t buf[65536];
    size_t len = fread (buf, 1, sizeof buf, f);
    fclose (f);
    FL_CHECK (len > 100);
    size_t cuts[] = {0, 1, len / 2, len - 1};
    for (size_t k = 0; k < 4; k++) {
        f = fopen (bad, "wb");
        fwrite (buf, 1, cuts[k], f);
        fclose (f);
        FL_CHECK (fl_modelfile_load (bad, &back, &bm, &bs) == -1);
        FL_CHECK (back == NULL && bm == NULL);
    }
    /* flip a byte in the fingerprint: refused (parameters no longer match the named model) */
    uint8_t *fp = NULL;
    for (size_t i = 0; i + 2 < len; i++)
        if (memcmp (buf + i, "\xa2" "fp", 3) == 0)
            fp = buf + i + 3 + 2;      /* key, then bin8 header (2 bytes), then the 32 bytes */
    FL_CHECK (fp != NULL);
    if (fp) {
        fp[5] ^= 0x40;
        f = fopen (bad, "wb");
        fwrite (buf, 1, len, f);
        fclose (f);
        FL_CHECK (fl_modelfile_load (bad, &back, &bm, &bs) == -1);
    }
    FL_CHECK (fl_modelfile_load ("/nonexistent/model.flm", &back, &bm, &bs) == -1);
    fl_model_destroy (&m);
    remove (path);
    remove (bad);
    rmdir (dir);
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    if (f) {
        fputs (text, f);
        fclose (f);
    }
}

static void
test_schema_attached (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-modelfile") != NULL);
    char path[256], sp[256], wrong[256];
    snprintf (path, sizeof path, "%s/m.flm", dir);
    snprintf (sp, sizeof sp, "%s/s.zpl", dir);
    snprintf (wrong, sizeof wrong, "%s/w.zpl", dir);
    /* 3 features: colour=blue, colour=red, size; label bad/good */
    s_write (sp, "version = 1\nlabel = \"y\"\n    type = \"text\"\n    value = \"good\"\n    value = \"bad\"\n"
                 "column = \"colour\"\n    type = \"text\"\n    value = \"red\"\n    value = \"blue\"\n"
                 "column = \"size\"\n    type = \"numeric\"\n");
    s_write (wrong, "version = 1\nlabel = \"y\"\n    type = \"integer\"\n    classes = 2\n"
                    "column = \"size\"\n    type = \"numeric\"\n");
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = 3;
    mc.n_classes = 2;
    mc.seed = 5;
    fl_model_t *m = fl_model_new ("logreg", &mc);
    float mean[3] = {0.5f, 0.5f, 10}, std[3] = {0.5f, 0.5f, 3};
    uint8_t run[16] = {9};
    FL_CHECK (fl_modelfile_save (path, m, "", mean, std, run, 4) == 0);
    char *text = (char *) 1;
    FL_CHECK (fl_modelfile_load_schema (path, &text) == 0 && text == NULL);     /* old files: none */
    FL_CHECK (fl_modelfile_attach_schema (path, wrong) == -1);                  /* 1 feature, model takes 3 */
    FL_CHECK (fl_modelfile_attach_schema (path, "/nonexistent.zpl") == -1);
    FL_CHECK (fl_modelfile_attach_schema (path, sp) == 0);
    FL_CHECK (fl_modelfile_load_schema (path, &text) == 0 && text != NULL);
    char why[256];
    fl_schema_t *schema = text ? fl_schema_load_str (text, "stored", why, sizeof why) : NULL;
    FL_CHECK (schema && fl_schema_features (schema) == 3);
    char *map = schema ? fl_schema_label_mapping (schema) : NULL;
    FL_CHECK (map && strcmp (map, "bad=0 good=1") == 0);
    free (map);
    fl_schema_destroy (&schema);
    free (text);
    /* The model itself is unchanged and still loads. */
    fl_model_t *back = NULL;
    float *bm = NULL, *bs = NULL;
    FL_CHECK (fl_modelfile_load (path, &back, &bm, &bs) == 0);
    FL_CHECK (back && memcmp (fl_model_params (back), fl_model_params (m), fl_model_num_params (m) * sizeof (float)) == 0);
    FL_CHECK (bm && memcmp (bm, mean, sizeof mean) == 0);
    fl_model_destroy (&back);
    free (bm);
    free (bs);
    fl_model_destroy (&m);
    remove (path);
    remove (sp);
    remove (wrong);
    rmdir (dir);
}

/*  The digest's definition (docs/MODELS.md) recomputed independently. */
static void
s_reference_digest (const uint8_t fp[32], const float *p, size_t n, uint8_t out[32])
{
    size_t len = 25 + 32 + 8 + 4 * n;
    uint8_t *msg = (uint8_t *) malloc (len);
    memcpy (msg, "libfl-model-parameters-v1", 25);
    memcpy (msg + 25, fp, 32);
    for (int i = 0; i < 8; i++)
        msg[57 + i] = (uint8_t) ((uint64_t) n >> (8 * i));
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy (&u, &p[i], 4);
        for (int b = 0; b < 4; b++)
            msg[65 + 4 * i + b] = (uint8_t) (u >> (8 * b));
    }
    crypto_generichash (out, 32, msg, len, NULL, 0);
    free (msg);
}

static void
test_digest (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-digest") != NULL);
    char path[256], bad[256], other[256];
    snprintf (path, sizeof path, "%s/m.flm", dir);
    snprintf (bad, sizeof bad, "%s/bad.flm", dir);
    snprintf (other, sizeof other, "%s/other.flm", dir);
    fl_model_config_t mc;
    memset (&mc, 0, sizeof mc);
    mc.n_inputs = 30;
    mc.n_classes = 2;
    mc.seed = 5;
    fl_model_t *m = fl_model_new ("logreg", &mc);
    uint8_t fp[32], d[32], ref[32], back[32], d2[32];
    fl_model_fingerprint (m, fp);
    size_t n = fl_model_num_params (m);
    fl_modelfile_digest (fp, fl_model_params (m), n, d);
    s_reference_digest (fp, fl_model_params (m), n, ref);
    FL_CHECK (memcmp (d, ref, 32) == 0);
    /* saved: the file carries it, format 3, and load_digest returns it */
    FL_CHECK (fl_modelfile_save (path, m, "", NULL, NULL, NULL, 1) == 0);
    uint64_t format = 0;
    FL_CHECK (fl_modelfile_load_digest (path, back, &format) == 0);
    FL_CHECK (format == FL_MODELFILE_FORMAT && format == 3);
    FL_CHECK (memcmp (back, d, 32) == 0);
    /* one parameter changed by one ulp: another digest, and another file digest */
    float *p = fl_model_params (m);
    uint32_t u;
    memcpy (&u, &p[7], 4);
    u ^= 1u;
    memcpy (&p[7], &u, 4);
    fl_modelfile_digest (fp, p, n, d2);
    FL_CHECK (memcmp (d2, d, 32) != 0);
    FL_CHECK (fl_modelfile_save (other, m, "", NULL, NULL, NULL, 1) == 0);
    FL_CHECK (fl_modelfile_load_digest (other, back, NULL) == 0 && memcmp (back, d2, 32) == 0);
    /* the same parameters under another architecture (fingerprint): another digest */
    uint8_t fp2[32];
    memcpy (fp2, fp, 32);
    fp2[0] ^= 1;
    fl_modelfile_digest (fp2, p, n, d2);
    FL_CHECK (memcmp (d2, back, 32) != 0);

    /* A file whose parameters were edited (the digest left as it was): refused. */
    FILE *f = fopen (path, "rb");
    uint8_t buf[65536];
    size_t len = f ? fread (buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose (f);
    uint8_t *pp = NULL;
    for (size_t i = 0; i + 7 < len; i++)
        if (memcmp (buf + i, "\xa6" "params", 7) == 0)
            pp = buf + i + 7;
    FL_CHECK (pp != NULL);
    if (pp) {
        /* the f32s payload follows its header; flip a low mantissa bit well inside it */
        pp[40] ^= 0x01;
        f = fopen (bad, "wb");
        fwrite (buf, 1, len, f);
        fclose (f);
        fl_model_t *lm = NULL;
        float *lmean = NULL, *lstd = NULL;
        FL_CHECK (fl_modelfile_load (bad, &lm, &lmean, &lstd) == -1 && lm == NULL);
        FL_CHECK (fl_modelfile_load_digest (bad, back, NULL) == -1);
        pp[40] ^= 0x01;     /* restored: loads again */
        f = fopen (bad, "wb");
        fwrite (buf, 1, len, f);
        fclose (f);
        FL_CHECK (fl_modelfile_load (bad, &lm, &lmean, &lstd) == 0);
        fl_model_destroy (&lm);
    }
    /* The digest itself edited: refused. */
    uint8_t *dp = NULL;
    for (size_t i = 0; i + 7 < len; i++)
        if (memcmp (buf + i, "\xa6" "digest", 7) == 0)
            dp = buf + i + 7 + 2;      /* bin8 header, then the 32 bytes */
    FL_CHECK (dp != NULL);
    if (dp) {
        dp[3] ^= 0x80;
        f = fopen (bad, "wb");
        fwrite (buf, 1, len, f);
        fclose (f);
        FL_CHECK (fl_modelfile_load_digest (bad, back, NULL) == -1);
        fl_model_t *lm = NULL;
        float *lmean = NULL, *lstd = NULL;
        FL_CHECK (fl_modelfile_load (bad, &lm, &lmean, &lstd) == -1);
    }
    fl_model_destroy (&m);
    remove (path);
    remove (bad);
    remove (other);
    rmdir (dir);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_round_trip_and_refusals);
    FL_RUN (test_schema_attached);
    FL_RUN (test_digest);
    FL_TEST_DONE ();
}
