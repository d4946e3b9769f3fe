/*  test_modelfile.c - model files: round trip; truncated, foreign and
    tampered files refused; the stored schema (encoding and label mapping
    of a member's own CSV) attached, read back, and refused when it does
    not fit the model; files without it load as before. */
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

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_round_trip_and_refusals);
    FL_RUN (test_schema_attached);
    FL_TEST_DONE ();
}
