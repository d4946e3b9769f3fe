/*  test_server_opt.c - FedAvg arithmetic and the server optimizers. */
#include "fl_server_opt.h"
#include "fl_test.h"

static void
test_fedavg_weighted_mean (void)
{
    fl_fedavg_t *a = fl_fedavg_new (3, 0);
    float u1[3] = {1, 2, 3}, u2[3] = {-1, 0, 5}, out[3];
    FL_CHECK (fl_fedavg_mean (a, out) == -1);          /* nothing added */
    FL_CHECK (fl_fedavg_add (a, u1, 10) == 0);
    FL_CHECK (fl_fedavg_add (a, u2, 30) == 0);
    FL_CHECK (fl_fedavg_mean (a, out) == 0);
    /* (10*u1 + 30*u2) / 40 */
    FL_CHECK_CLOSE (out[0], (10.0 - 30.0) / 40, 1e-7, 0);
    FL_CHECK_CLOSE (out[1], 20.0 / 40, 1e-7, 0);
    FL_CHECK_CLOSE (out[2], (30.0 + 150.0) / 40, 1e-6, 0);
    FL_CHECK (fl_fedavg_count (a) == 2);
    FL_CHECK_CLOSE (fl_fedavg_total_weight (a), 40, 0, 0);
    fl_fedavg_reset (a);
    FL_CHECK (fl_fedavg_count (a) == 0);
    fl_fedavg_destroy (&a);
    fl_fedavg_destroy (&a);
}

static void
test_fedavg_cap_and_rejects (void)
{
    fl_fedavg_t *a = fl_fedavg_new (2, 100);
    float u1[2] = {1, 1}, u2[2] = {0, 0}, bad[2] = {0, NAN}, out[2];
    FL_CHECK (fl_fedavg_add (a, u1, 1000000) == 0);    /* capped at 100 */
    FL_CHECK (fl_fedavg_add (a, u2, 100) == 0);
    FL_CHECK (fl_fedavg_add (a, bad, 5) == -1);         /* NaN rejected */
    FL_CHECK (fl_fedavg_add (a, u1, 0) == -1);          /* zero examples rejected */
    FL_CHECK (fl_fedavg_mean (a, out) == 0);
    FL_CHECK_CLOSE (out[0], 0.5, 1e-7, 0);
    FL_CHECK (fl_fedavg_count (a) == 2);
    fl_fedavg_destroy (&a);
}

static void
test_optimizers (void)
{
    fl_server_opt_config_t cfg;
    fl_server_opt_config_default (&cfg);
    float p[2] = {1, 1}, d[2] = {0.5f, -1};

    fl_server_opt_t *o = fl_server_opt_new (&cfg, 2);        /* FedAvg lr 1: p += d */
    FL_CHECK (fl_server_opt_step (o, p, d) == 0);
    FL_CHECK_CLOSE (p[0], 1.5, 1e-7, 0);
    FL_CHECK_CLOSE (p[1], 0.0, 1e-7, 0);
    fl_server_opt_destroy (&o);

    cfg.kind = FL_SERVER_FEDAVGM;                               /* v = 0.9 v + d; p += v */
    cfg.momentum = 0.9;
    p[0] = p[1] = 0;
    o = fl_server_opt_new (&cfg, 2);
    fl_server_opt_step (o, p, d);
    fl_server_opt_step (o, p, d);
    FL_CHECK_CLOSE (p[0], 0.5 + (0.9 * 0.5 + 0.5), 1e-6, 0);
    FL_CHECK (fl_server_opt_steps (o) == 2);
    fl_server_opt_destroy (&o);

    cfg.kind = FL_SERVER_FEDADAM;
    cfg.lr = 0.1;
    cfg.beta1 = 0.9;
    cfg.beta2 = 0.99;
    cfg.tau = 1e-3;
    p[0] = p[1] = 0;
    o = fl_server_opt_new (&cfg, 2);
    fl_server_opt_step (o, p, d);
    /* m = 0.1 d; v = 0.01 d^2; step = lr * m / (sqrt(v) + tau) */
    double m0 = 0.1 * 0.5, v0 = 0.01 * 0.25;
    FL_CHECK_CLOSE (p[0], 0.1 * m0 / (sqrt (v0) + 1e-3), 1e-6, 0);
    FL_CHECK (p[1] < 0);
    float nan_delta[2] = {NAN, 0}, before = p[0];
    FL_CHECK (fl_server_opt_step (o, p, nan_delta) == -1);
    FL_CHECK (p[0] == before);
    fl_server_opt_destroy (&o);
}

static void
test_parse_and_refuse (void)
{
    fl_server_opt_kind_t k;
    FL_CHECK (fl_server_opt_kind_parse ("fedadam", &k) == 0 && k == FL_SERVER_FEDADAM);
    FL_CHECK (fl_server_opt_kind_parse ("fedavgm", &k) == 0 && k == FL_SERVER_FEDAVGM);
    FL_CHECK (fl_server_opt_kind_parse ("sgd", &k) == -1);
    FL_CHECK (strcmp (fl_server_opt_kind_name (FL_SERVER_FEDAVG), "fedavg") == 0);
    fl_server_opt_config_t cfg;
    fl_server_opt_config_default (&cfg);
    cfg.lr = 0;
    FL_CHECK (fl_server_opt_new (&cfg, 4) == NULL);
    fl_server_opt_config_default (&cfg);
    cfg.momentum = 1.0;
    FL_CHECK (fl_server_opt_new (&cfg, 4) == NULL);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_fedavg_weighted_mean);
    FL_RUN (test_fedavg_cap_and_rejects);
    FL_RUN (test_optimizers);
    FL_RUN (test_parse_and_refuse);
    FL_TEST_DONE ();
}
