/*  test_wire.c - fl_wire: round trips of every message type (bit-exact),
    writer refusals, every decoder rejection with its reason, bounded
    allocation on hostile declared sizes, and seeded random / mutated inputs.

    Every decode reads from a heap copy of exactly `len` bytes, so under the
    sanitizer build any read past the input is an ASan error, and a huge
    allocation attempt aborts (ASan's allocator_may_return_null=0).
*/
#include "fl_rng.h"
#include "fl_test.h"
#include "fl_wire.h"

#include <float.h>
#include <msgpack.h>
#include <stdint.h>

static const uint8_t s_run[FL_WIRE_RUNIDBYTES] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
static const uint64_t s_u64s[] = {
    0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t) UINT32_MAX + 1, UINT64_MAX };

/* Decode from an exact-size heap copy (ASan sees any overread). */
static fl_wire_msg_t *
decode (const uint8_t *buf, size_t len, const fl_wire_limits_t *limits, char *why)
{
    uint8_t *copy = malloc (len ? len : 1);
    if (len)
        memcpy (copy, buf, len);
    why[0] = '\0';
    fl_wire_msg_t *msg = fl_wire_decode (len ? copy : NULL, len, limits, why, FL_WIRE_WHYBYTES);
    free (copy);
    return msg;
}

/* Expects a rejection whose reason contains `expect`. */
static void
expect_reject (const uint8_t *buf, size_t len, const fl_wire_limits_t *limits,
               const char *expect, int line)
{
    char why[FL_WIRE_WHYBYTES];
    fl_wire_msg_t *msg = decode (buf, len, limits, why);
    FL_CHECK (msg == NULL);
    bool match = strstr (why, expect) != NULL;
    FL_CHECK (match);
    if (!match || fl_test_verbose_)
        fprintf (stderr, "  line %d: expected '%s', reason '%s'\n", line, expect, why);
    fl_wire_msg_destroy (&msg);
}
#define EXPECT_REJECT(buf, len, limits, expect) expect_reject (buf, len, limits, expect, __LINE__)

/* Finishes a writer into a buffer; checks the output is plain msgpack that
   msgpack-c's own unpacker reads as a map of `nkeys` keys. */
static uint8_t *
finish (fl_wire_writer_t **w, size_t *len, size_t nkeys)
{
    uint8_t *buf = NULL;
    FL_CHECK (fl_wire_writer_finish (w, &buf, len) == 0);
    FL_CHECK (*w == NULL);
    FL_CHECK (buf != NULL);
    if (buf) {
        msgpack_zone zone;
        msgpack_zone_init (&zone, 2048);
        msgpack_object obj;
        size_t off = 0;
        FL_CHECK (msgpack_unpack ((const char *) buf, *len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS);
        FL_CHECK (off == *len);
        FL_CHECK (obj.type == MSGPACK_OBJECT_MAP && obj.via.map.size == nkeys);
        msgpack_zone_destroy (&zone);
    }
    return buf;
}

/* Decodes a writer's output and checks the header. */
static fl_wire_msg_t *
decode_ok (const uint8_t *buf, size_t len, fl_wire_type_t type, uint64_t round)
{
    char why[FL_WIRE_WHYBYTES];
    fl_wire_msg_t *msg = decode (buf, len, NULL, why);
    FL_CHECK (msg != NULL);
    if (!msg) {
        fprintf (stderr, "  decode failed: %s\n", why);
        return NULL;
    }
    FL_CHECK (fl_wire_type (msg) == type);
    FL_CHECK (fl_wire_round (msg) == round);
    FL_CHECK (memcmp (fl_wire_run_id (msg), s_run, FL_WIRE_RUNIDBYTES) == 0);
    return msg;
}

/* A 100k-element float32 vector with awkward values at the front. */
static float *
make_f32s (size_t n, uint64_t seed)
{
    float *v = malloc (n * sizeof *v);
    fl_rng_t *r = fl_rng_new_u64 (seed, 1);
    for (size_t i = 0; i < n; i++)
        v[i] = (float) fl_rng_normal (r) * 0.01f;
    fl_rng_destroy (&r);
    const float special[] = { -0.0f, 0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, -1e-45f, FLT_EPSILON };
    for (size_t i = 0; i < sizeof special / sizeof special[0] && i < n; i++)
        v[i] = special[i];
    return v;
}

static void
check_str (fl_wire_msg_t *msg, const char *key, const char *expect)
{
    const char *s = NULL;
    size_t n = 0;
    FL_CHECK (fl_wire_get_str (msg, key, &s, &n) == 0);
    FL_CHECK (s && strcmp (s, expect) == 0 && n == strlen (expect));
}

static void
check_u64 (fl_wire_msg_t *msg, const char *key, uint64_t expect)
{
    uint64_t v = 0xdeadbeef;
    FL_CHECK (fl_wire_get_u64 (msg, key, &v) == 0);
    FL_CHECK (v == expect);
}

static void
check_f64 (fl_wire_msg_t *msg, const char *key, double expect)
{
    double v = 0;
    FL_CHECK (fl_wire_get_f64 (msg, key, &v) == 0);
    FL_CHECK (memcmp (&v, &expect, sizeof v) == 0);
}

static void
check_fp (fl_wire_msg_t *msg, const uint8_t *fp)
{
    const uint8_t *b = NULL;
    size_t n = 0;
    FL_CHECK (fl_wire_get_bin (msg, "fp", &b, &n) == 0);
    FL_CHECK (n == FL_WIRE_FPBYTES && memcmp (b, fp, n) == 0);
}

static void
check_f32s (fl_wire_msg_t *msg, const char *key, const float *expect, size_t n_expect)
{
    const float *v = NULL;
    size_t n = 0;
    FL_CHECK (fl_wire_get_f32s (msg, key, &v, &n) == 0);
    FL_CHECK (n == n_expect);
    FL_CHECK (v && ((uintptr_t) v % _Alignof (float)) == 0);
    FL_CHECK (v && memcmp (v, expect, n * sizeof *v) == 0);
}

/* ---- round trips ---------------------------------------------------------- */

static void
test_roundtrip_control (void)
{
    uint8_t fp[FL_WIRE_FPBYTES];
    for (int i = 0; i < (int) FL_WIRE_FPBYTES; i++)
        fp[i] = (uint8_t) (0xa0 + i);
    size_t len;
    uint8_t *buf;
    fl_wire_msg_t *msg;

    /* HELLO, with every integer encoding boundary across the u64 keys */
    for (size_t k = 0; k < sizeof s_u64s / sizeof s_u64s[0]; k++) {
        uint64_t x = s_u64s[k];
        fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_HELLO, s_run, x);
        fl_wire_put_str (w, "member", "bank-\xc3\xa9" "cole-7");     /* UTF-8 é */
        fl_wire_put_bin (w, "fp", fp, sizeof fp);
        fl_wire_put_u64 (w, "n_train", x);
        fl_wire_put_u64 (w, "n_test", ~x);
        fl_wire_put_u64 (w, "features", x / 3);
        fl_wire_put_u64 (w, "classes", 2);
        fl_wire_put_str (w, "model", "mlp");
        buf = finish (&w, &len, 11);
        msg = decode_ok (buf, len, FL_WIRE_HELLO, x);
        if (msg) {
            check_str (msg, "member", "bank-\xc3\xa9" "cole-7");
            check_fp (msg, fp);
            check_u64 (msg, "n_train", x);
            check_u64 (msg, "n_test", ~x);
            check_u64 (msg, "features", x / 3);
            check_u64 (msg, "classes", 2);
            check_str (msg, "model", "mlp");
        }
        fl_wire_msg_destroy (&msg);
        free (buf);
    }

    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_WELCOME, s_run, 0);
    fl_wire_put_u64 (w, "client", 17);
    fl_wire_put_str (w, "model", "logreg");
    fl_wire_put_str (w, "hidden", "");
    fl_wire_put_u64 (w, "features", 30);
    fl_wire_put_u64 (w, "classes", 2);
    fl_wire_put_u64 (w, "seed", UINT64_MAX);
    buf = finish (&w, &len, 10);
    msg = decode_ok (buf, len, FL_WIRE_WELCOME, 0);
    if (msg) {
        check_u64 (msg, "client", 17);
        check_str (msg, "model", "logreg");
        check_str (msg, "hidden", "");
        check_u64 (msg, "features", 30);
        check_u64 (msg, "classes", 2);
        check_u64 (msg, "seed", UINT64_MAX);
    }
    fl_wire_msg_destroy (&msg);
    free (buf);

    const fl_wire_type_t reasoned[] = { FL_WIRE_REJECT, FL_WIRE_ERROR, FL_WIRE_BYE };
    for (int k = 0; k < 3; k++) {
        w = fl_wire_writer_new (reasoned[k], s_run, 5);
        fl_wire_put_str (w, "reason", "member id not in the roster");
        buf = finish (&w, &len, 5);
        msg = decode_ok (buf, len, reasoned[k], 5);
        if (msg)
            check_str (msg, "reason", "member id not in the roster");
        fl_wire_msg_destroy (&msg);
        free (buf);
    }

    /* Body-less types, and BYE without its optional reason. */
    const fl_wire_type_t empty[] = { FL_WIRE_STATS_REQUEST, FL_WIRE_HEARTBEAT, FL_WIRE_BYE };
    for (int k = 0; k < 3; k++) {
        w = fl_wire_writer_new (empty[k], s_run, 3);
        buf = finish (&w, &len, 4);
        msg = decode_ok (buf, len, empty[k], 3);
        if (msg && empty[k] == FL_WIRE_BYE) {
            const char *s = "untouched";
            FL_CHECK (!fl_wire_has (msg, "reason"));
            FL_CHECK (fl_wire_get_str (msg, "reason", &s, NULL) == -1);
            FL_CHECK (strcmp (s, "untouched") == 0);
        }
        fl_wire_msg_destroy (&msg);
        FL_CHECK (msg == NULL);
        fl_wire_msg_destroy (&msg);          /* safe twice */
        free (buf);
    }
}

static void
test_roundtrip_vectors (void)
{
    const size_t n = 100000;
    float *params = make_f32s (n, 1), *delta = make_f32s (n, 2);
    uint8_t fp[FL_WIRE_FPBYTES];
    memset (fp, 0x5a, sizeof fp);
    size_t len;
    uint8_t *buf;
    fl_wire_msg_t *msg;

    /* TRAIN with and without the optional clipping norm */
    for (int with_clip = 0; with_clip < 2; with_clip++) {
        fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_TRAIN, s_run, 12);
        fl_wire_put_f32s (w, "params", params, n);
        fl_wire_put_bin (w, "fp", fp, sizeof fp);
        fl_wire_put_u64 (w, "epochs", 2);
        fl_wire_put_u64 (w, "batch", 32);
        fl_wire_put_f64 (w, "lr", 0.1);
        fl_wire_put_str (w, "opt", "adam");
        fl_wire_put_u64 (w, "seed", 99);
        fl_wire_put_u64 (w, "cap", 0);
        if (with_clip)
            fl_wire_put_f64 (w, "clip", 1.5);
        buf = finish (&w, &len, 12 + (size_t) with_clip);
        /* 4 bytes a parameter plus a small header */
        FL_CHECK (len > n * 4 && len < n * 4 + 200);
        msg = decode_ok (buf, len, FL_WIRE_TRAIN, 12);
        if (msg) {
            check_f32s (msg, "params", params, n);
            check_fp (msg, fp);
            check_u64 (msg, "epochs", 2);
            check_u64 (msg, "batch", 32);
            check_f64 (msg, "lr", 0.1);
            check_str (msg, "opt", "adam");
            check_u64 (msg, "seed", 99);
            check_u64 (msg, "cap", 0);
            double clip = -1;
            FL_CHECK (fl_wire_has (msg, "clip") == (bool) with_clip);
            FL_CHECK (fl_wire_get_f64 (msg, "clip", &clip) == (with_clip ? 0 : -1));
            FL_CHECK (clip == (with_clip ? 1.5 : -1));
        }
        fl_wire_msg_destroy (&msg);
        free (buf);
    }

    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, s_run, 12);
    fl_wire_put_f32s (w, "delta", delta, n);
    fl_wire_put_u64 (w, "n", 4321);
    fl_wire_put_f64 (w, "loss", 0.693147180559945);
    buf = finish (&w, &len, 7);
    msg = decode_ok (buf, len, FL_WIRE_UPDATE, 12);
    if (msg) {
        check_f32s (msg, "delta", delta, n);
        check_u64 (msg, "n", 4321);
        check_f64 (msg, "loss", 0.693147180559945);
    }
    fl_wire_msg_destroy (&msg);
    free (buf);

    w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 13);
    fl_wire_put_f32s (w, "params", params, n);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    buf = finish (&w, &len, 6);
    msg = decode_ok (buf, len, FL_WIRE_EVALUATE, 13);
    if (msg) {
        check_f32s (msg, "params", params, n);
        check_fp (msg, fp);
    }
    fl_wire_msg_destroy (&msg);
    free (buf);

    /* STANDARDISE with an empty pair of vectors and a full one */
    for (size_t m = 0; m <= 30; m += 30) {
        w = fl_wire_writer_new (FL_WIRE_STANDARDISE, s_run, 0);
        fl_wire_put_f32s (w, "mean", params, m);
        fl_wire_put_f32s (w, "std", delta, m);
        buf = finish (&w, &len, 6);
        msg = decode_ok (buf, len, FL_WIRE_STANDARDISE, 0);
        if (msg) {
            check_f32s (msg, "mean", params, m);
            check_f32s (msg, "std", delta, m);
        }
        fl_wire_msg_destroy (&msg);
        free (buf);
    }

    double sum[40], sumsq[40];
    fl_rng_t *r = fl_rng_new_u64 (3, 0);
    for (int i = 0; i < 40; i++) {
        sum[i] = fl_rng_normal (r) * 1e6;
        sumsq[i] = sum[i] * sum[i];
    }
    fl_rng_destroy (&r);
    sum[0] = -0.0;
    sum[1] = DBL_MAX;
    sum[2] = 4.9e-324;          /* smallest subnormal */
    w = fl_wire_writer_new (FL_WIRE_STATS, s_run, 0);
    fl_wire_put_u64 (w, "count", 123456);
    fl_wire_put_f64s (w, "sum", sum, 40);
    fl_wire_put_f64s (w, "sumsq", sumsq, 40);
    buf = finish (&w, &len, 7);
    msg = decode_ok (buf, len, FL_WIRE_STATS, 0);
    if (msg) {
        const double *v;
        size_t k;
        check_u64 (msg, "count", 123456);
        FL_CHECK (fl_wire_get_f64s (msg, "sum", &v, &k) == 0 && k == 40
                  && memcmp (v, sum, sizeof sum) == 0);
        FL_CHECK (fl_wire_get_f64s (msg, "sumsq", &v, &k) == 0 && k == 40
                  && memcmp (v, sumsq, sizeof sumsq) == 0);
    }
    fl_wire_msg_destroy (&msg);
    free (buf);

    uint64_t *hist_pos = malloc (FL_WIRE_HIST_MAX * sizeof (uint64_t));
    uint64_t *hist_neg = malloc (FL_WIRE_HIST_MAX * sizeof (uint64_t));
    for (size_t i = 0; i < FL_WIRE_HIST_MAX; i++) {
        hist_pos[i] = s_u64s[i % 11] ^ i;
        hist_neg[i] = i * 0x9e3779b97f4a7c15ull;
    }
    w = fl_wire_writer_new (FL_WIRE_EVAL_RESULT, s_run, 14);
    fl_wire_put_u64 (w, "n", 1000);
    fl_wire_put_u64 (w, "correct", 900);
    fl_wire_put_f64 (w, "loss_sum", 123.25);
    fl_wire_put_u64 (w, "true_pos", 90);
    fl_wire_put_u64 (w, "false_pos", 40);
    fl_wire_put_u64 (w, "true_neg", 810);
    fl_wire_put_u64 (w, "false_neg", 60);
    fl_wire_put_u64s (w, "hist_pos", hist_pos, FL_WIRE_HIST_MAX);
    fl_wire_put_u64s (w, "hist_neg", hist_neg, FL_WIRE_HIST_MAX);
    buf = finish (&w, &len, 13);
    msg = decode_ok (buf, len, FL_WIRE_EVAL_RESULT, 14);
    if (msg) {
        const uint64_t *v;
        size_t k;
        check_u64 (msg, "n", 1000);
        check_u64 (msg, "correct", 900);
        check_f64 (msg, "loss_sum", 123.25);
        check_u64 (msg, "true_pos", 90);
        check_u64 (msg, "false_pos", 40);
        check_u64 (msg, "true_neg", 810);
        check_u64 (msg, "false_neg", 60);
        FL_CHECK (fl_wire_get_u64s (msg, "hist_pos", &v, &k) == 0 && k == FL_WIRE_HIST_MAX
                  && memcmp (v, hist_pos, k * 8) == 0);
        FL_CHECK (fl_wire_get_u64s (msg, "hist_neg", &v, &k) == 0 && k == FL_WIRE_HIST_MAX
                  && memcmp (v, hist_neg, k * 8) == 0);
    }
    fl_wire_msg_destroy (&msg);
    free (buf);

    /* The vector bytes on the wire are little-endian float32: the 4 bytes of
       -0.0f (first element of params) are 00 00 00 80. */
    w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 1);
    fl_wire_put_f32s (w, "params", params, 3);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    buf = finish (&w, &len, 6);
    const uint8_t expect_bin[] = { 0xc4, 12, 0, 0, 0, 0x80, 0, 0, 0, 0,     /* -0, 0, FLT_MAX */
                                   0xff, 0xff, 0x7f, 0x7f };
    bool found = false;
    for (size_t i = 0; i + sizeof expect_bin <= len; i++)
        found |= memcmp (buf + i, expect_bin, sizeof expect_bin) == 0;
    FL_CHECK (found);
    free (buf);

    free (hist_pos);
    free (hist_neg);
    free (params);
    free (delta);
}

/* SELFTEST carries one key of every kind. */
static uint8_t *
make_selftest (size_t *len)
{
    const float f32s[3] = { 1.5f, -2.25f, 1e-30f };
    const double f64s[2] = { 1e300, -1e-300 };
    const uint32_t u32s[2] = { 0, UINT32_MAX };
    const uint64_t u64s[3] = { 0, 1, UINT64_MAX };
    const uint32_t ids[4] = { 7, 0, UINT32_MAX, 128 };
    const uint8_t s0[4] = { 1, 2, 3, 4 }, s1[48] = { 9 }, s2[20] = { 0xff };
    const uint8_t *shares[3] = { s0, s1, s2 };
    const size_t share_lens[3] = { 4, 48, 20 };
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_SELFTEST, s_run, 77);
    fl_wire_put_u64 (w, "u", 1ull << 40);
    fl_wire_put_i64 (w, "i", INT64_MIN);
    fl_wire_put_f64 (w, "f", -3.75);
    fl_wire_put_bool (w, "b", true);
    fl_wire_put_str (w, "s", "secagg+");
    fl_wire_put_bin (w, "bin", "", 0);
    fl_wire_put_f32s (w, "f32s", f32s, 3);
    fl_wire_put_f64s (w, "f64s", f64s, 2);
    fl_wire_put_u32s (w, "u32s", u32s, 2);
    fl_wire_put_u64s (w, "u64s", u64s, 3);
    fl_wire_put_u32_list (w, "ids", ids, 4);
    fl_wire_put_bin_list (w, "shares", shares, share_lens, 3);
    return finish (&w, len, 16);
}

static void
test_roundtrip_every_kind (void)
{
    size_t len;
    uint8_t *buf = make_selftest (&len);
    fl_wire_msg_t *msg = decode_ok (buf, len, FL_WIRE_SELFTEST, 77);
    if (msg) {
        uint64_t u;
        int64_t i;
        double f;
        bool b = false;
        const uint8_t *p;
        size_t n;
        const float *vf;
        const double *vd;
        const uint32_t *vu32;
        const uint64_t *vu64;
        FL_CHECK (fl_wire_get_u64 (msg, "u", &u) == 0 && u == 1ull << 40);
        FL_CHECK (fl_wire_get_i64 (msg, "i", &i) == 0 && i == INT64_MIN);
        FL_CHECK (fl_wire_get_f64 (msg, "f", &f) == 0 && f == -3.75);
        FL_CHECK (fl_wire_get_bool (msg, "b", &b) == 0 && b);
        check_str (msg, "s", "secagg+");
        FL_CHECK (fl_wire_get_bin (msg, "bin", &p, &n) == 0 && p != NULL && n == 0);
        FL_CHECK (fl_wire_get_f32s (msg, "f32s", &vf, &n) == 0 && n == 3 && vf[1] == -2.25f
                  && vf[2] == 1e-30f);
        FL_CHECK (fl_wire_get_f64s (msg, "f64s", &vd, &n) == 0 && n == 2 && vd[0] == 1e300);
        FL_CHECK (fl_wire_get_u32s (msg, "u32s", &vu32, &n) == 0 && n == 2 && vu32[1] == UINT32_MAX);
        FL_CHECK (fl_wire_get_u64s (msg, "u64s", &vu64, &n) == 0 && n == 3 && vu64[2] == UINT64_MAX);
        FL_CHECK (fl_wire_get_u32_list (msg, "ids", &vu32, &n) == 0 && n == 4
                  && vu32[0] == 7 && vu32[2] == UINT32_MAX && vu32[3] == 128);
        FL_CHECK (fl_wire_bin_list_len (msg, "shares") == 3);
        FL_CHECK (fl_wire_get_bin_list_item (msg, "shares", 0, &p, &n) == 0 && n == 4 && p[3] == 4);
        FL_CHECK (fl_wire_get_bin_list_item (msg, "shares", 1, &p, &n) == 0 && n == 48 && p[0] == 9);
        FL_CHECK (fl_wire_get_bin_list_item (msg, "shares", 2, &p, &n) == 0 && n == 20 && p[0] == 0xff);
        FL_CHECK (fl_wire_get_u64 (msg, "opt", &u) == -1);
    }
    fl_wire_msg_destroy (&msg);
    free (buf);

    /* Positive ints in signed encodings and float32 for a float key are
       accepted (other msgpack writers choose encodings freely); keys may come
       in any order, header last. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 7);
    float d[2] = { 0.5f, -0.5f };
    msgpack_pack_str_with_body (&pk, "loss", 4);
    msgpack_pack_float (&pk, 0.25f);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_fix_int64 (&pk, 5);
    msgpack_pack_str_with_body (&pk, "delta", 5);
    msgpack_pack_bin_with_body (&pk, d, sizeof d);   /* little-endian host */
    msgpack_pack_str_with_body (&pk, "rnd", 3);
    msgpack_pack_fix_int8 (&pk, 9);
    msgpack_pack_str_with_body (&pk, "run", 3);
    msgpack_pack_bin_with_body (&pk, s_run, sizeof s_run);
    msgpack_pack_str_with_body (&pk, "t", 1);
    msgpack_pack_fix_uint64 (&pk, FL_WIRE_UPDATE);
    msgpack_pack_str_with_body (&pk, "v", 1);
    msgpack_pack_fix_int16 (&pk, 1);
    msg = decode_ok ((uint8_t *) sb.data, sb.size, FL_WIRE_UPDATE, 9);
    if (msg) {
        check_u64 (msg, "n", 5);
        check_f64 (msg, "loss", 0.25);
        check_f32s (msg, "delta", d, 2);
    }
    fl_wire_msg_destroy (&msg);
    msgpack_sbuffer_destroy (&sb);
}

/* ---- writer refusals ------------------------------------------------------ */

static void
test_writer_refuses (void)
{
    uint8_t *buf = (uint8_t *) "x";
    size_t len = 1;
    FL_CHECK (fl_wire_writer_new ((fl_wire_type_t) 0, s_run, 0) == NULL);
    FL_CHECK (fl_wire_writer_new ((fl_wire_type_t) 40, s_run, 0) == NULL);
    FL_CHECK (fl_wire_writer_new ((fl_wire_type_t) 64, s_run, 0) == NULL);

    /* missing required key */
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, s_run, 1);
    FL_CHECK (fl_wire_put_u64 (w, "n", 1) == 0);
    FL_CHECK (fl_wire_put_f64 (w, "loss", 1) == 0);
    FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == -1);
    FL_CHECK (w == NULL && buf == NULL && len == 0);

    float nan_v[2] = { 1.0f, NAN };
    const uint8_t b33[33] = { 0 };
    for (int k = 0; k < 12; k++) {
        w = fl_wire_writer_new (FL_WIRE_TRAIN, s_run, 1);
        int rc = 0;
        switch (k) {
            case 0:  rc = fl_wire_put_u64 (w, "bogus", 1); break;           /* not in schema */
            case 1:  rc = fl_wire_put_f64 (w, "epochs", 1); break;          /* wrong kind */
            case 2:  fl_wire_put_u64 (w, "epochs", 1);
                     rc = fl_wire_put_u64 (w, "epochs", 2); break;          /* twice */
            case 3:  rc = fl_wire_put_f64 (w, "lr", INFINITY); break;       /* non-finite */
            case 4:  rc = fl_wire_put_f32s (w, "params", nan_v, 2); break;  /* NaN in vector */
            case 5:  rc = fl_wire_put_bin (w, "fp", b33, 33); break;        /* fp must be 32 */
            case 6:  rc = fl_wire_put_str (w, "opt", ""); break;            /* min 1 byte */
            case 7:  rc = fl_wire_put_str (w, "opt", "ad\nam"); break;      /* control char */
            case 8:  rc = fl_wire_put_str (w, "opt", "\xc0\x80"); break;    /* overlong NUL */
            case 9:  rc = fl_wire_put_str (w, "opt", "\xed\xa0\x80"); break;/* surrogate */
            case 10: rc = fl_wire_put_u64 (w, "v", 1); break;               /* header key */
            case 11: rc = fl_wire_put_str (w, "opt", "0123456789012345678901234567890123456789"
                                                     "0123456789012345678901234567890"); break;
        }
        FL_CHECK (rc == -1);
        /* poisoned: later valid puts are refused and finish fails */
        FL_CHECK (fl_wire_put_u64 (w, "seed", 1) == -1);
        FL_CHECK (fl_wire_writer_finish (&w, &buf, &len) == -1);
        FL_CHECK (w == NULL && buf == NULL);
    }

    w = fl_wire_writer_new (FL_WIRE_EVAL_RESULT, s_run, 1);
    uint64_t *big = calloc (FL_WIRE_HIST_MAX + 1, sizeof *big);
    FL_CHECK (fl_wire_put_u64s (w, "hist_pos", big, FL_WIRE_HIST_MAX + 1) == -1);
    free (big);
    fl_wire_writer_destroy (&w);
    FL_CHECK (w == NULL);
    fl_wire_writer_destroy (&w);

    w = fl_wire_writer_new (FL_WIRE_SELFTEST, s_run, 1);
    const uint8_t item[3] = { 1, 2, 3 };
    const uint8_t *items[1] = { item };
    const size_t lens[1] = { 3 };
    FL_CHECK (fl_wire_put_bin_list (w, "shares", items, lens, 1) == -1);    /* item min 4 */
    fl_wire_writer_destroy (&w);
}

/* ---- hand-built messages for the decoder ---------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mb_t;

static void
mb_init (mb_t *m)
{
    msgpack_sbuffer_init (&m->sb);
    msgpack_packer_init (&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mb_key (mb_t *m, const char *k)
{
    msgpack_pack_str_with_body (&m->pk, k, strlen (k));
}

/* Header pairs, leaving out `omit` (or none).  Writes 4 or 3 pairs. */
static void
mb_header (mb_t *m, uint64_t v, uint64_t t, const char *omit)
{
    if (!omit || strcmp (omit, "v")) { mb_key (m, "v"); msgpack_pack_uint64 (&m->pk, v); }
    if (!omit || strcmp (omit, "t")) { mb_key (m, "t"); msgpack_pack_uint64 (&m->pk, t); }
    if (!omit || strcmp (omit, "run")) { mb_key (m, "run"); msgpack_pack_bin_with_body (&m->pk, s_run, 16); }
    if (!omit || strcmp (omit, "rnd")) { mb_key (m, "rnd"); msgpack_pack_uint64 (&m->pk, 3); }
}

/*  An UPDATE: the map header counts 7 pairs minus `omit` plus `extra`; the
    caller packs the `extra` pairs after this. */
static void
mb_update (mb_t *m, uint64_t version, const char *omit, size_t extra)
{
    mb_init (m);
    msgpack_pack_map (&m->pk, 7 - (omit ? 1 : 0) + extra);
    mb_header (m, version, FL_WIRE_UPDATE, omit);
    const float d[3] = { 1, 2, 3 };
    if (!omit || strcmp (omit, "delta")) { mb_key (m, "delta"); msgpack_pack_bin_with_body (&m->pk, d, sizeof d); }
    if (!omit || strcmp (omit, "n")) { mb_key (m, "n"); msgpack_pack_uint64 (&m->pk, 10); }
    if (!omit || strcmp (omit, "loss")) { mb_key (m, "loss"); msgpack_pack_double (&m->pk, 0.5); }
}

#define MB_REJECT(m, limits, expect)                                               \
    do {                                                                           \
        EXPECT_REJECT ((const uint8_t *) (m).sb.data, (m).sb.size, limits, expect); \
        msgpack_sbuffer_destroy (&(m).sb);                                         \
    } while (0)

static void
test_reject_header (void)
{
    mb_t m;
    char why[FL_WIRE_WHYBYTES];

    mb_update (&m, 1, NULL, 0);     /* the base message is valid */
    fl_wire_msg_t *msg = decode ((uint8_t *) m.sb.data, m.sb.size, NULL, why);
    FL_CHECK (msg != NULL);
    fl_wire_msg_destroy (&msg);
    msgpack_sbuffer_destroy (&m.sb);

    mb_update (&m, 2, NULL, 0);
    MB_REJECT (m, NULL, "wrong protocol version 2");
    mb_update (&m, 0, NULL, 0);
    MB_REJECT (m, NULL, "wrong protocol version 0");

    const char *hk[4] = { "v", "t", "run", "rnd" };
    char expect[64];
    for (int k = 0; k < 4; k++) {
        mb_update (&m, 1, hk[k], 0);
        snprintf (expect, sizeof expect, "missing header key '%s'", hk[k]);
        MB_REJECT (m, NULL, expect);
        /* the header key present but of the wrong type */
        mb_update (&m, 1, hk[k], 1);
        mb_key (&m, hk[k]);
        msgpack_pack_str_with_body (&m.pk, "1", 1);
        MB_REJECT (m, NULL, hk[k][0] == 'r' && hk[k][1] == 'u' ? "expected a 16-byte bin" : "expected unsigned integer, got str");
        /* duplicated */
        mb_update (&m, 1, NULL, 1);
        mb_key (&m, hk[k]);
        msgpack_pack_uint64 (&m.pk, 1);
        snprintf (expect, sizeof expect, "duplicate key '%s'", hk[k]);
        MB_REJECT (m, NULL, expect);
    }
    mb_update (&m, 1, "v", 1);
    mb_key (&m, "v");
    msgpack_pack_int64 (&m.pk, -1);
    MB_REJECT (m, NULL, "expected unsigned integer, got negative integer");

    mb_update (&m, 1, "run", 1);
    mb_key (&m, "run");
    msgpack_pack_bin_with_body (&m.pk, s_run, 15);
    MB_REJECT (m, NULL, "header key 'run': expected a 16-byte bin, got bin of 15");

    const uint64_t bad_types[] = { 0, 15, 20, 31, FL_WIRE_SECAGG_BASE + 1, 62, 64, 255, 65536, UINT64_MAX };
    for (size_t k = 0; k < sizeof bad_types / sizeof bad_types[0]; k++) {
        mb_init (&m);
        msgpack_pack_map (&m.pk, 4);
        mb_header (&m, 1, bad_types[k], NULL);
        snprintf (expect, sizeof expect, "unknown message type %llu", (unsigned long long) bad_types[k]);
        MB_REJECT (m, NULL, expect);
    }
}

static void
test_reject_body (void)
{
    mb_t m;
    const char *body[3] = { "delta", "n", "loss" };
    char expect[96];
    for (int k = 0; k < 3; k++) {
        mb_update (&m, 1, body[k], 0);
        snprintf (expect, sizeof expect, "missing required key '%s' for UPDATE", body[k]);
        MB_REJECT (m, NULL, expect);
        mb_update (&m, 1, NULL, 1);
        mb_key (&m, body[k]);
        msgpack_pack_uint64 (&m.pk, 1);
        snprintf (expect, sizeof expect, "duplicate key '%s'", body[k]);
        MB_REJECT (m, NULL, expect);
    }
    mb_update (&m, 1, NULL, 1);
    mb_key (&m, "bogus");
    msgpack_pack_nil (&m.pk);
    MB_REJECT (m, NULL, "unknown key 'bogus' for UPDATE");

    mb_update (&m, 1, NULL, 1);     /* a key of another type's schema */
    mb_key (&m, "params");
    msgpack_pack_nil (&m.pk);
    MB_REJECT (m, NULL, "unknown key 'params' for UPDATE");

    mb_update (&m, 1, NULL, 1);     /* hostile key bytes are escaped in the reason */
    msgpack_pack_str_with_body (&m.pk, "a\n'\x1b", 4);
    msgpack_pack_nil (&m.pk);
    MB_REJECT (m, NULL, "unknown key 'a\\x0a\\x27\\x1b'");

    mb_update (&m, 1, NULL, 1);
    msgpack_pack_uint64 (&m.pk, 1);             /* non-string key */
    msgpack_pack_nil (&m.pk);
    MB_REJECT (m, NULL, "is unsigned integer, not str");

    mb_update (&m, 1, NULL, 1);
    mb_key (&m, "abcdefghijklmnopqrstuvwxyz0123456");  /* 33 bytes */
    msgpack_pack_nil (&m.pk);
    MB_REJECT (m, NULL, "has 33 bytes, allowed 1..32");

    mb_update (&m, 1, NULL, 1);
    msgpack_pack_str (&m.pk, 0);
    msgpack_pack_nil (&m.pk);
    MB_REJECT (m, NULL, "has 0 bytes");

    mb_init (&m);                               /* more keys than any message */
    msgpack_pack_map (&m.pk, FL_WIRE_MAX_KEYS + 1);
    for (int k = 0; k <= (int) FL_WIRE_MAX_KEYS; k++) {
        msgpack_pack_uint32 (&m.pk, (uint32_t) k);
        msgpack_pack_nil (&m.pk);
    }
    MB_REJECT (m, NULL, "map has 65 keys, more than 64");

    /* wrong msgpack types and bad values for UPDATE keys */
    mb_update (&m, 1, "n", 1); mb_key (&m, "n"); msgpack_pack_str_with_body (&m.pk, "10", 2);
    MB_REJECT (m, NULL, "UPDATE key 'n': expected unsigned integer, got str");
    mb_update (&m, 1, "n", 1); mb_key (&m, "n"); msgpack_pack_double (&m.pk, 10.0);
    MB_REJECT (m, NULL, "UPDATE key 'n': expected unsigned integer, got float64");
    mb_update (&m, 1, "n", 1); mb_key (&m, "n"); msgpack_pack_int64 (&m.pk, -10);
    MB_REJECT (m, NULL, "UPDATE key 'n': negative value -10");
    mb_update (&m, 1, "loss", 1); mb_key (&m, "loss"); msgpack_pack_uint64 (&m.pk, 1);
    MB_REJECT (m, NULL, "UPDATE key 'loss': expected float, got unsigned integer");
    mb_update (&m, 1, "loss", 1); mb_key (&m, "loss"); msgpack_pack_double (&m.pk, NAN);
    MB_REJECT (m, NULL, "UPDATE key 'loss': float is not finite");
    mb_update (&m, 1, "loss", 1); mb_key (&m, "loss"); msgpack_pack_float (&m.pk, -INFINITY);
    MB_REJECT (m, NULL, "UPDATE key 'loss': float is not finite");
    mb_update (&m, 1, "delta", 1); mb_key (&m, "delta");
    msgpack_pack_array (&m.pk, 2); msgpack_pack_float (&m.pk, 1); msgpack_pack_float (&m.pk, 2);
    MB_REJECT (m, NULL, "UPDATE key 'delta': expected bin of float32, got array");
    mb_update (&m, 1, "delta", 1); mb_key (&m, "delta"); msgpack_pack_str_with_body (&m.pk, "abcd", 4);
    MB_REJECT (m, NULL, "UPDATE key 'delta': expected bin of float32, got str");
    mb_update (&m, 1, "delta", 1); mb_key (&m, "delta"); msgpack_pack_bin_with_body (&m.pk, "abcdefg", 7);
    MB_REJECT (m, NULL, "UPDATE key 'delta': bin of 7 bytes is not a multiple of 4");
    float nanv[3] = { 0, NAN, 0 };
    mb_update (&m, 1, "delta", 1); mb_key (&m, "delta"); msgpack_pack_bin_with_body (&m.pk, nanv, 12);
    MB_REJECT (m, NULL, "UPDATE key 'delta': vector holds NaN or Inf");

    /* vector longer than the limits allow */
    fl_wire_limits_t small = fl_wire_limits_default ();
    small.max_vector_len = 2;
    mb_update (&m, 1, NULL, 0);
    MB_REJECT (m, &small, "UPDATE key 'delta': 3 elements exceeds the maximum 2");
    small.max_vector_len = 3;
    mb_update (&m, 1, NULL, 0);
    char why[FL_WIRE_WHYBYTES];
    fl_wire_msg_t *msg = decode ((uint8_t *) m.sb.data, m.sb.size, &small, why);
    FL_CHECK (msg != NULL);                         /* exactly at the limit */
    fl_wire_msg_destroy (&msg);
    msgpack_sbuffer_destroy (&m.sb);

    /* whole message over the byte limit */
    small = fl_wire_limits_default ();
    mb_update (&m, 1, NULL, 0);
    small.max_message_bytes = m.sb.size - 1;
    MB_REJECT (m, &small, "exceeds the limit of");

    /* schema maximum: histogram of 4097 bins */
    mb_init (&m);
    msgpack_pack_map (&m.pk, 13);
    mb_header (&m, 1, FL_WIRE_EVAL_RESULT, NULL);
    const char *cnt[6] = { "n", "correct", "true_pos", "false_pos", "true_neg", "false_neg" };
    for (int k = 0; k < 6; k++) { mb_key (&m, cnt[k]); msgpack_pack_uint64 (&m.pk, 1); }
    mb_key (&m, "loss_sum"); msgpack_pack_double (&m.pk, 1);
    uint64_t *h = calloc (FL_WIRE_HIST_MAX + 1, 8);
    mb_key (&m, "hist_pos"); msgpack_pack_bin_with_body (&m.pk, h, 8 * (FL_WIRE_HIST_MAX + 1));
    mb_key (&m, "hist_neg"); msgpack_pack_bin_with_body (&m.pk, h, 8);
    free (h);
    MB_REJECT (m, NULL, "EVAL_RESULT key 'hist_pos': 4097 elements exceeds the maximum 4096");

    /* strings: bounds, UTF-8, control characters; fixed-size bins */
    const char *bad_members[] = { "", "a\nb", "tab\there", "\xc0\x80", "\xff", "\xe2\x82",
                                  "\xed\xa0\x80", "\xf4\x90\x80\x80", "del\x7f", "c1\xc2\x85" };
    for (size_t k = 0; k < sizeof bad_members / sizeof bad_members[0]; k++) {
        mb_init (&m);
        msgpack_pack_map (&m.pk, 11);
        mb_header (&m, 1, FL_WIRE_HELLO, NULL);
        uint8_t fp[32] = { 0 };
        mb_key (&m, "fp"); msgpack_pack_bin_with_body (&m.pk, fp, 32);
        const char *u[4] = { "n_train", "n_test", "features", "classes" };
        for (int j = 0; j < 4; j++) { mb_key (&m, u[j]); msgpack_pack_uint64 (&m.pk, 1); }
        mb_key (&m, "model"); msgpack_pack_str_with_body (&m.pk, "mlp", 3);
        mb_key (&m, "member");
        msgpack_pack_str_with_body (&m.pk, bad_members[k], strlen (bad_members[k]));
        MB_REJECT (m, NULL, k == 0 ? "HELLO key 'member': str of 0 bytes, allowed 1..128"
                                   : "HELLO key 'member': string is not UTF-8 or holds control");
    }
    for (size_t fl = 31; fl <= 33; fl += 2) {
        mb_init (&m);
        msgpack_pack_map (&m.pk, 6);
        mb_header (&m, 1, FL_WIRE_EVALUATE, NULL);
        uint8_t fp[33] = { 0 };
        float p[1] = { 0 };
        mb_key (&m, "params"); msgpack_pack_bin_with_body (&m.pk, p, 4);
        mb_key (&m, "fp"); msgpack_pack_bin_with_body (&m.pk, fp, fl);
        snprintf (expect, sizeof expect, "EVALUATE key 'fp': bin of %zu bytes, allowed 32..32", fl);
        MB_REJECT (m, NULL, expect);
    }
}

/*  Every kind against every candidate value: the decoder accepts exactly the
    msgpack types and lengths the kind allows.  Builds a SELFTEST message by
    hand with key `over` replaced by candidate `cand`. */
enum { C_NIL, C_TRUE, C_NEG, C_UINT, C_F64, C_STR, C_BIN4, C_BIN8, C_ARR1, C_MAP0,
       C_BIGU, C_ARRBIN4, C_NCAND };

static void
mb_candidate (mb_t *m, int cand)
{
    const uint8_t z[8] = { 0 };
    switch (cand) {
        case C_NIL:  msgpack_pack_nil (&m->pk); break;
        case C_TRUE: msgpack_pack_true (&m->pk); break;
        case C_NEG:  msgpack_pack_int64 (&m->pk, -1); break;
        case C_UINT: msgpack_pack_uint64 (&m->pk, 1); break;
        case C_F64:  msgpack_pack_double (&m->pk, 1.5); break;
        case C_STR:  msgpack_pack_str_with_body (&m->pk, "x", 1); break;
        case C_BIN4: msgpack_pack_bin_with_body (&m->pk, z, 4); break;
        case C_BIN8: msgpack_pack_bin_with_body (&m->pk, z, 8); break;
        case C_ARR1: msgpack_pack_array (&m->pk, 1); msgpack_pack_uint64 (&m->pk, 1); break;
        case C_MAP0: msgpack_pack_map (&m->pk, 0); break;
        case C_BIGU: msgpack_pack_uint64 (&m->pk, UINT64_MAX); break;
        case C_ARRBIN4: msgpack_pack_array (&m->pk, 1); msgpack_pack_bin_with_body (&m->pk, z, 4); break;
    }
}

static void
test_kind_matrix (void)
{
    static const char *const keys[] = { "u", "i", "f", "b", "s", "bin", "f32s", "f64s",
                                        "u32s", "u64s", "ids", "shares" };
    /* accepted candidates per key (bit c set: candidate c accepted) */
    #define B(c) (1u << (c))
    static const unsigned accept[] = {
        B (C_UINT) | B (C_BIGU),                /* u */
        B (C_NEG) | B (C_UINT),                 /* i: UINT64_MAX is out of range */
        B (C_F64),                              /* f */
        B (C_TRUE),                             /* b */
        B (C_STR),                              /* s */
        B (C_BIN4) | B (C_BIN8),                /* bin */
        B (C_BIN4) | B (C_BIN8),                /* f32s */
        B (C_BIN8),                             /* f64s: 4 bytes is not a whole float64 */
        B (C_BIN4) | B (C_BIN8),                /* u32s */
        B (C_BIN8),                             /* u64s */
        B (C_ARR1),                             /* ids */
        B (C_ARRBIN4),                          /* shares */
    };
    #undef B
    const size_t nkeys = sizeof keys / sizeof keys[0];
    for (size_t over = 0; over < nkeys; over++)
        for (int cand = 0; cand < C_NCAND; cand++) {
            mb_t m;
            mb_init (&m);
            msgpack_pack_map (&m.pk, 4 + nkeys);
            mb_header (&m, 1, FL_WIRE_SELFTEST, NULL);
            for (size_t k = 0; k < nkeys; k++) {
                mb_key (&m, keys[k]);
                if (k == over) {
                    mb_candidate (&m, cand);
                    continue;
                }
                /* a valid value for key k, found in the accept table */
                int good = 0;
                while (!(accept[k] & (1u << good)))
                    good++;
                mb_candidate (&m, good);
            }
            char why[FL_WIRE_WHYBYTES];
            fl_wire_msg_t *msg = decode ((uint8_t *) m.sb.data, m.sb.size, NULL, why);
            bool want = (accept[over] >> cand) & 1;
            FL_CHECK ((msg != NULL) == want);
            if ((msg != NULL) != want || fl_test_verbose_)
                fprintf (stderr, "  key %s cand %d: %s\n", keys[over], cand, msg ? "accepted" : why);
            if (!want)
                FL_CHECK (strstr (why, keys[over]) != NULL);  /* reason names the key */
            fl_wire_msg_destroy (&msg);
            msgpack_sbuffer_destroy (&m.sb);
        }
}

/* ---- structure: truncation, trailing bytes, hostile sizes, nesting -------- */

static void
test_truncated_every_prefix (void)
{
    uint8_t fp[FL_WIRE_FPBYTES] = { 1 };
    float params[50];
    for (int i = 0; i < 50; i++)
        params[i] = (float) i - 25.5f;
    uint8_t *bufs[4];
    size_t lens[4];
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_HELLO, s_run, 0);
    fl_wire_put_str (w, "member", "hospital-3");
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    fl_wire_put_u64 (w, "n_train", 70000);
    fl_wire_put_u64 (w, "n_test", 1 << 20);
    fl_wire_put_u64 (w, "features", 30);
    fl_wire_put_u64 (w, "classes", 2);
    fl_wire_put_str (w, "model", "mlp");
    bufs[0] = finish (&w, &lens[0], 11);
    w = fl_wire_writer_new (FL_WIRE_TRAIN, s_run, UINT64_MAX);
    fl_wire_put_f32s (w, "params", params, 50);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    fl_wire_put_u64 (w, "epochs", 1);
    fl_wire_put_u64 (w, "batch", 64);
    fl_wire_put_f64 (w, "lr", 0.05);
    fl_wire_put_str (w, "opt", "sgd");
    fl_wire_put_u64 (w, "seed", 1ull << 33);
    fl_wire_put_u64 (w, "cap", 300);
    fl_wire_put_f64 (w, "clip", 1.0);
    bufs[1] = finish (&w, &lens[1], 13);
    bufs[2] = make_selftest (&lens[2]);
    w = fl_wire_writer_new (FL_WIRE_HEARTBEAT, s_run, 2);
    bufs[3] = finish (&w, &lens[3], 4);

    char why[FL_WIRE_WHYBYTES];
    for (int b = 0; b < 4; b++) {
        int bad = 0;
        for (size_t n = 0; n < lens[b]; n++) {
            fl_wire_msg_t *msg = decode (bufs[b], n, NULL, why);
            const char *expect = n == 0 ? "empty message" : "truncated";
            if (msg || !strstr (why, expect)) {
                if (bad++ < 3)
                    fprintf (stderr, "  message %d prefix %zu: %s\n", b, n, msg ? "accepted" : why);
            }
            fl_wire_msg_destroy (&msg);
        }
        FL_CHECK (bad == 0);
        /* the whole message decodes; one trailing byte does not */
        fl_wire_msg_t *msg = decode (bufs[b], lens[b], NULL, why);
        FL_CHECK (msg != NULL);
        fl_wire_msg_destroy (&msg);
        uint8_t *longer = malloc (lens[b] + 3);
        memcpy (longer, bufs[b], lens[b]);
        memcpy (longer + lens[b], "\x00\xc0\x91", 3);
        EXPECT_REJECT (longer, lens[b] + 1, NULL, "trailing bytes: 1 after the message's");
        EXPECT_REJECT (longer, lens[b] + 3, NULL, "trailing bytes: 3 after");
        /* a second complete message appended is trailing bytes too */
        uint8_t *twice = malloc (2 * lens[b]);
        memcpy (twice, bufs[b], lens[b]);
        memcpy (twice + lens[b], bufs[b], lens[b]);
        EXPECT_REJECT (twice, 2 * lens[b], NULL, "trailing bytes");
        free (twice);
        free (longer);
        free (bufs[b]);
    }
}

/* A valid UPDATE header followed by one raw key/value whose value is `raw`. */
static void
reject_raw_value (const uint8_t *raw, size_t raw_len, const char *expect, int line)
{
    mb_t m;
    mb_update (&m, 1, "delta", 1);
    mb_key (&m, "delta");
    msgpack_sbuffer_write (&m.sb, (const char *) raw, raw_len);
    expect_reject ((uint8_t *) m.sb.data, m.sb.size, NULL, expect, line);
    msgpack_sbuffer_destroy (&m.sb);
}
#define REJECT_RAW_VALUE(raw, expect) reject_raw_value (raw, sizeof raw, expect, __LINE__)

static void
test_hostile_sizes (void)
{
    /* Tiny messages declaring huge counts and lengths.  None may allocate
       (ASan would abort on a multi-GiB request) or read past the end. */
    const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1 };
    const uint8_t map16[] = { 0xde, 0xff, 0xff };
    const uint8_t arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };
    const uint8_t str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
    const uint8_t bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff };
    const uint8_t fixmap[] = { 0x8f };
    EXPECT_REJECT (map32, sizeof map32, NULL, "truncated: map at byte 0 declares 4294967295 entries");
    EXPECT_REJECT (map16, sizeof map16, NULL, "truncated: map at byte 0 declares 65535 entries");
    EXPECT_REJECT (arr32, sizeof arr32, NULL, "truncated: array at byte 0 declares 4294967295 elements");
    EXPECT_REJECT (str32, sizeof str32, NULL, "truncated: str at byte 0 declares 4294967295 bytes");
    EXPECT_REJECT (bin32, sizeof bin32, NULL, "truncated: bin at byte 0 declares 4294967295 bytes");
    EXPECT_REJECT (fixmap, sizeof fixmap, NULL, "truncated: map at byte 0 declares 15 entries, 0 bytes left");
    /* a key whose declared length runs past the end */
    const uint8_t key32[] = { 0x81, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'v' };
    EXPECT_REJECT (key32, sizeof key32, NULL, "truncated: str at byte 1 declares 2147483647 bytes");

    /* the same inside an otherwise valid message, as a body value */
    const uint8_t v_arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02 };
    const uint8_t v_map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
    const uint8_t v_bin32[] = { 0xc6, 0x10, 0x00, 0x00, 0x00, 0x01 };
    const uint8_t v_ext32[] = { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 };
    const uint8_t v_arr16[] = { 0xdc, 0x00, 0x03, 0x01, 0x02 };
    const uint8_t v_arr16b[] = { 0xdc, 0x00, 0x02, 0x01, 0xcd };   /* uint16 cut short */
    REJECT_RAW_VALUE (v_arr32, "truncated: array at byte");
    REJECT_RAW_VALUE (v_map32, "truncated: map at byte");
    REJECT_RAW_VALUE (v_bin32, "truncated: bin at byte");
    REJECT_RAW_VALUE (v_ext32, "truncated: ext at byte");
    REJECT_RAW_VALUE (v_arr16, "truncated: array at byte 57 declares 3 elements, 2 bytes left");
    REJECT_RAW_VALUE (v_arr16b, "truncated: value at byte 61 needs 2 more bytes, 0 left");

    /* well-formed but unwanted: ext types, the never-used byte 0xc1 */
    const uint8_t v_fixext[] = { 0xd4, 0x01, 0x00 };
    const uint8_t v_c1[] = { 0xc1 };
    REJECT_RAW_VALUE (v_fixext, "ext type at byte");
    REJECT_RAW_VALUE (v_c1, "invalid byte 0xc1");

    /* nesting deeper than the schema allows: delta = [[1]], and a 10000-deep
       tower (rejected at depth 3, without recursing 10000 times) */
    const uint8_t v_nest[] = { 0x91, 0x91, 0x01 };
    REJECT_RAW_VALUE (v_nest, "nesting deeper than 2 levels");
    uint8_t *tower = malloc (10001);
    memset (tower, 0x91, 10000);
    tower[10000] = 0x01;
    reject_raw_value (tower, 10001, "nesting deeper than 2 levels", __LINE__);
    memset (tower, 0x81, 10000);            /* maps: {{{...}}} with keys as values */
    reject_raw_value (tower, 10001, "nesting deeper", __LINE__);
    /* and as a whole message for fl_wire_scan, whose depth is capped */
    char why[FL_WIRE_WHYBYTES];
    memset (tower, 0x91, 10000);
    FL_CHECK (fl_wire_scan (tower, 10001, 1000000, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "nesting deeper than 64 levels") != NULL);
    FL_CHECK (fl_wire_scan (tower + 10000 - 64, 65, 64, why, sizeof why) == 0);
    free (tower);

    /* non-map top level */
    const uint8_t top_arr[] = { 0x92, 0x01, 0x02 };
    const uint8_t top_int[] = { 0x05 };
    const uint8_t top_str[] = { 0xa2, 'h', 'i' };
    const uint8_t top_nil[] = { 0xc0 };
    EXPECT_REJECT (top_arr, sizeof top_arr, NULL, "top level is array, not a map");
    EXPECT_REJECT (top_int, sizeof top_int, NULL, "top level is unsigned integer, not a map");
    EXPECT_REJECT (top_str, sizeof top_str, NULL, "top level is str, not a map");
    EXPECT_REJECT (top_nil, sizeof top_nil, NULL, "top level is nil, not a map");
    EXPECT_REJECT (top_nil, 0, NULL, "empty message");
    const uint8_t empty_map[] = { 0x80 };
    EXPECT_REJECT (empty_map, 1, NULL, "missing header key 'v'");

    /* list kinds: a u32 entry out of range; a list over the limits */
    mb_t m;
    size_t len;
    uint8_t *buf = make_selftest (&len);
    fl_wire_limits_t lim = fl_wire_limits_default ();
    lim.max_list_len = 3;
    EXPECT_REJECT (buf, len, &lim, "SELFTEST key 'ids': list of 4 entries exceeds the maximum 3");
    lim = fl_wire_limits_preauth ();
    FL_CHECK (lim.max_message_bytes == 64 * 1024 && lim.max_vector_len == 1024);
    lim.max_vector_len = 2;
    EXPECT_REJECT (buf, len, &lim, "elements exceeds the maximum 2");
    free (buf);
    (void) m;
}

/* fl_wire_scan is the pre-scan that makes msgpack_unpack safe on bytes it
   accepts: checked on seeded random inputs below, here on known cases. */
static void
test_scan (void)
{
    char why[FL_WIRE_WHYBYTES];
    size_t len;
    uint8_t *buf = make_selftest (&len);
    FL_CHECK (fl_wire_scan (buf, len, 2, why, sizeof why) == 0);
    FL_CHECK (fl_wire_scan (buf, len, 1, why, sizeof why) == -1);      /* "ids" is depth 2 */
    FL_CHECK (strstr (why, "nesting deeper than 1 levels") != NULL);
    FL_CHECK (fl_wire_scan (buf, len - 1, 2, why, sizeof why) == -1);
    FL_CHECK (strstr (why, "truncated") != NULL);
    free (buf);
    const uint8_t ext[] = { 0xd5, 0x01, 0xaa, 0xbb };          /* fixext2: scan allows ext */
    FL_CHECK (fl_wire_scan (ext, sizeof ext, 1, why, sizeof why) == 0);
    const uint8_t arr32[] = { 0xdd, 0x00, 0x01, 0x00, 0x00, 0x01 };
    FL_CHECK (fl_wire_scan (arr32, sizeof arr32, 4, why, sizeof why) == -1);
    FL_CHECK (fl_wire_scan (NULL, 0, 4, NULL, 0) == -1);      /* why may be NULL */
}

/* ---- seeded random inputs and mutations ------------------------------------ */

/* Decodes; on success checks the getters agree with the schema's promises. */
static int
fuzz_one (const uint8_t *buf, size_t len)
{
    char why[FL_WIRE_WHYBYTES];
    fl_wire_msg_t *msg = decode (buf, len, NULL, why);
    if (!msg) {
        FL_CHECK (why[0] != '\0');
        return 0;
    }
    FL_CHECK (fl_wire_type_known (fl_wire_type (msg)));
    if (fl_wire_type (msg) == FL_WIRE_UPDATE) {
        const float *d;
        size_t n;
        FL_CHECK (fl_wire_get_f32s (msg, "delta", &d, &n) == 0);
        for (size_t i = 0; i < n; i++)
            FL_CHECK (isfinite (d[i]));
    }
    fl_wire_msg_destroy (&msg);
    return 1;
}

/* fl_wire_scan then, if it accepts, msgpack-c's own unpacker on the bytes. */
static void
scan_then_unpack (const uint8_t *buf, size_t len, int *unpacked)
{
    char why[FL_WIRE_WHYBYTES];
    uint8_t *copy = malloc (len ? len : 1);
    memcpy (copy, buf, len);
    if (fl_wire_scan (copy, len, 8, why, sizeof why) == 0) {
        msgpack_zone zone;
        msgpack_zone_init (&zone, 256);
        msgpack_object obj;
        size_t off = 0;
        FL_CHECK (msgpack_unpack ((const char *) copy, len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS);
        FL_CHECK (off == len);
        msgpack_zone_destroy (&zone);
        (*unpacked)++;
    }
    free (copy);
}

static void
test_random_inputs (void)
{
    fl_rng_t *r = fl_rng_new_u64 (2026, 0);
    uint8_t buf[512];
    int accepted = 0, unpacked = 0;
    /* interesting tag bytes, so random buffers reach deep into the reader */
    const uint8_t tags[] = { 0x80, 0x84, 0x8f, 0x90, 0x9f, 0xa1, 0xa3, 0xc0, 0xc1, 0xc4,
                             0xc6, 0xc7, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd8, 0xd9, 0xdb,
                             0xdc, 0xdd, 0xde, 0xdf, 0xff, 0x00, 0x01, 0x7f };
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = fl_rng_uniform (r, sizeof buf + 1);
        fl_rng_bytes (r, buf, len);
        if (iter % 2)
            for (size_t i = 0; i < len; i++)
                if (fl_rng_uniform (r, 3) == 0)
                    buf[i] = tags[fl_rng_uniform (r, sizeof tags)];
        if (len && iter % 4 == 0)
            buf[0] = (uint8_t) (0x80 | fl_rng_uniform (r, 16));
        accepted += fuzz_one (buf, len);
        scan_then_unpack (buf, len, &unpacked);
    }
    /* mutations of valid messages of every shape */
    uint8_t fp[FL_WIRE_FPBYTES] = { 0 };
    float delta[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t *valid[4];
    size_t vlen[4];
    valid[0] = make_selftest (&vlen[0]);
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, s_run, 4);
    fl_wire_put_f32s (w, "delta", delta, 8);
    fl_wire_put_u64 (w, "n", 100);
    fl_wire_put_f64 (w, "loss", 0.3);
    valid[1] = finish (&w, &vlen[1], 7);
    w = fl_wire_writer_new (FL_WIRE_HELLO, s_run, 0);
    fl_wire_put_str (w, "member", "m1");
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    fl_wire_put_u64 (w, "n_train", 1);
    fl_wire_put_u64 (w, "n_test", 1);
    fl_wire_put_u64 (w, "features", 1);
    fl_wire_put_u64 (w, "classes", 2);
    fl_wire_put_str (w, "model", "mlp");
    valid[2] = finish (&w, &vlen[2], 11);
    w = fl_wire_writer_new (FL_WIRE_BYE, s_run, 0);
    fl_wire_put_str (w, "reason", "done");
    valid[3] = finish (&w, &vlen[3], 5);
    int mutated_ok = 0;
    for (int iter = 0; iter < 6000; iter++) {
        int v = (int) fl_rng_uniform (r, 4);
        size_t len = vlen[v];
        memcpy (buf, valid[v], len);
        int nmut = 1 + (int) fl_rng_uniform (r, 4);
        for (int k = 0; k < nmut && len > 0; k++) {
            size_t at = fl_rng_uniform (r, len);
            switch (fl_rng_uniform (r, 5)) {
                case 0: buf[at] ^= (uint8_t) (1u << fl_rng_uniform (r, 8)); break;
                case 1: buf[at] = tags[fl_rng_uniform (r, sizeof tags)]; break;
                case 2: buf[at] = (uint8_t) fl_rng_u32 (r); break;
                case 3: len = at; break;                                        /* truncate */
                case 4: if (len < sizeof buf) {                                 /* insert */
                            memmove (buf + at + 1, buf + at, len - at);
                            buf[at] = tags[fl_rng_uniform (r, sizeof tags)];
                            len++;
                        }
                        break;
            }
        }
        mutated_ok += fuzz_one (buf, len);
        scan_then_unpack (buf, len, &unpacked);
    }
    for (int v = 0; v < 4; v++)
        free (valid[v]);
    fl_rng_destroy (&r);
    if (fl_test_verbose_)
        printf ("  random accepted %d, mutations accepted %d, scanned+unpacked %d\n",
                accepted, mutated_ok, unpacked);
    /* Some mutations (a flipped bit inside a float or a run id) stay valid:
       the fuzz reached the success path as well as the failure paths. */
    FL_CHECK (mutated_ok > 0);
    FL_CHECK (unpacked > 0);
}

static void
test_names_and_limits (void)
{
    FL_CHECK (strcmp (fl_wire_type_name (FL_WIRE_HELLO), "HELLO") == 0);
    FL_CHECK (strcmp (fl_wire_type_name (FL_WIRE_EVAL_RESULT), "EVAL_RESULT") == 0);
    FL_CHECK (strcmp (fl_wire_type_name (FL_WIRE_STANDARDISE), "STANDARDISE") == 0);
    FL_CHECK (strcmp (fl_wire_type_name (FL_WIRE_ERROR), "ERROR") == 0);
    const int unknown[] = { -1, 0, 15, 31, 33, 64, 1000 };
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        FL_CHECK (strcmp (fl_wire_type_name (unknown[k]), "UNKNOWN") == 0);
        FL_CHECK (!fl_wire_type_known (unknown[k]));
    }
    int known = 0;
    for (int t = 0; t < FL_WIRE_TYPE_LIMIT; t++)
        known += fl_wire_type_known (t);
    FL_CHECK (known == 16);         /* 13 protocol types + MODEL + SECAGG + SELFTEST */
    fl_wire_limits_t d = fl_wire_limits_default (), p = fl_wire_limits_preauth ();
    FL_CHECK (d.max_message_bytes == 64u << 20 && d.max_vector_len == 16u << 20);
    FL_CHECK (p.max_message_bytes < d.max_message_bytes && p.max_vector_len < d.max_vector_len
              && p.max_list_len < d.max_list_len);

    /* HELLO fits the pre-auth limits; a 100k-parameter TRAIN does not */
    size_t len;
    float *params = calloc (100000, sizeof (float));
    uint8_t fp[FL_WIRE_FPBYTES] = { 0 };
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 1);
    fl_wire_put_f32s (w, "params", params, 100000);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    uint8_t *buf = finish (&w, &len, 6);
    EXPECT_REJECT (buf, len, &p, "message of 400");
    EXPECT_REJECT (buf, len, &p, "exceeds the limit of 65536 bytes");
    free (buf);
    free (params);
    w = fl_wire_writer_new (FL_WIRE_HELLO, s_run, 0);
    fl_wire_put_str (w, "member", "m");
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    fl_wire_put_u64 (w, "n_train", 1);
    fl_wire_put_u64 (w, "n_test", 1);
    fl_wire_put_u64 (w, "features", 1);
    fl_wire_put_u64 (w, "classes", 2);
    fl_wire_put_str (w, "model", "mlp");
    buf = finish (&w, &len, 11);
    char why[FL_WIRE_WHYBYTES];
    fl_wire_msg_t *msg = decode (buf, len, &p, why);
    FL_CHECK (msg != NULL);
    fl_wire_msg_destroy (&msg);
    /* the logging helper returns what decode returns */
    msg = fl_wire_decode_from ("tcp://192.0.2.1", buf, len, &p);
    FL_CHECK (msg != NULL);
    fl_wire_msg_destroy (&msg);
    FL_CHECK (fl_wire_decode_from ("tcp://192.0.2.1", buf, len - 1, &p) == NULL);
    free (buf);
}

/*  fl_wire_put_f32s_external: head + the vector's little-endian bytes is
    byte for byte the message fl_wire_put_f32s makes; a put after it, or a
    non-finite vector, fails the writer. */
static void
test_external_vector (void)
{
    float params[1000];
    for (size_t i = 0; i < 1000; i++)
        params[i] = (float) i * 0.25f - 7.0f;
    uint8_t fp[32] = {9};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 13);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    fl_wire_put_f32s (w, "params", params, 1000);
    uint8_t *whole = NULL, *head = NULL;
    size_t whole_len = 0, head_len = 0;
    FL_CHECK (fl_wire_writer_finish (&w, &whole, &whole_len) == 0);
    w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 13);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    FL_CHECK (fl_wire_put_f32s_external (w, "params", params, 1000) == 0);
    FL_CHECK (fl_wire_writer_finish (&w, &head, &head_len) == 0);
    FL_CHECK (head_len + 4000 == whole_len);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    FL_CHECK (head && whole && memcmp (head, whole, head_len) == 0
              && memcmp (whole + head_len, params, 4000) == 0);
#endif
    free (whole);
    free (head);
    w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 13);
    FL_CHECK (fl_wire_put_f32s_external (w, "params", params, 1000) == 0);
    FL_CHECK (fl_wire_put_bin (w, "fp", fp, sizeof fp) == -1);
    FL_CHECK (fl_wire_writer_finish (&w, &head, &head_len) == -1 && head == NULL);
    params[5] = NAN;
    w = fl_wire_writer_new (FL_WIRE_EVALUATE, s_run, 13);
    fl_wire_put_bin (w, "fp", fp, sizeof fp);
    FL_CHECK (fl_wire_put_f32s_external (w, "params", params, 1000) == -1);
    FL_CHECK (fl_wire_writer_finish (&w, &head, &head_len) == -1);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_roundtrip_control);
    FL_RUN (test_roundtrip_vectors);
    FL_RUN (test_roundtrip_every_kind);
    FL_RUN (test_writer_refuses);
    FL_RUN (test_reject_header);
    FL_RUN (test_reject_body);
    FL_RUN (test_kind_matrix);
    FL_RUN (test_truncated_every_prefix);
    FL_RUN (test_hostile_sizes);
    FL_RUN (test_scan);
    FL_RUN (test_random_inputs);
    FL_RUN (test_names_and_limits);
    FL_RUN (test_external_vector);
    FL_TEST_DONE ();
}
