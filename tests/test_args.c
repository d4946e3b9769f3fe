/*  test_args.c - fl_args: flags, config files, precedence, refusals. */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "fl_args.h"
#include "fl_test.h"

typedef struct {
    uint64_t rounds;
    size_t clients;
    double lr;
    char model[16];
    int quiet;
} opts_t;

static const fl_arg_t s_table[] = {
    {"rounds", FL_ARG_U64, offsetof (opts_t, rounds), 0, "R", "rounds", 1, 1000},
    {"clients", FL_ARG_SIZE, offsetof (opts_t, clients), 0, "N", "clients", FL_ARG_NO_RANGE},
    {"lr", FL_ARG_DOUBLE, offsetof (opts_t, lr), 0, "LR", "learning rate", 0.0001, 10},
    {"model", FL_ARG_STR, offsetof (opts_t, model), 16, "NAME", "model", FL_ARG_NO_RANGE},
    {"quiet", FL_ARG_FLAG, offsetof (opts_t, quiet), 0, NULL, "quiet", FL_ARG_NO_RANGE},
};
#define N_TABLE (sizeof s_table / sizeof s_table[0])

static int
s_parse (opts_t *o, int argc, const char **argv)
{
    memset (o, 0, sizeof *o);
    o->rounds = 5;
    o->lr = 0.1;
    snprintf (o->model, sizeof o->model, "logreg");
    return fl_args_parse (s_table, N_TABLE, o, argc, (char **) argv, "test", "test", NULL, NULL, NULL);
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    fputs (text, f);
    fclose (f);
}

static void
test_flags (void)
{
    opts_t o;
    const char *a1[] = {"test", "--rounds", "7", "--lr=0.5", "--model", "mlp", "--quiet", "--clients=3", NULL};
    FL_CHECK (s_parse (&o, 8, a1) == 0);
    FL_CHECK (o.rounds == 7 && o.clients == 3 && o.lr == 0.5 && strcmp (o.model, "mlp") == 0 && o.quiet == 1);
    const char *a2[] = {"test", NULL};
    FL_CHECK (s_parse (&o, 1, a2) == 0);
    FL_CHECK (o.rounds == 5 && o.quiet == 0);             /* defaults kept */
}

static void
test_refusals (void)
{
    opts_t o;
    const char *bad[][3] = {
        {"test", "--rounds=0", NULL},         /* below range */
        {"test", "--rounds=abc", NULL},       /* not a number */
        {"test", "--rounds=-3", NULL},        /* negative */
        {"test", "--lr=nan", NULL},           /* not finite */
        {"test", "--lr=20", NULL},            /* above range */
        {"test", "--model=averyveryverylongname", NULL},   /* too long */
        {"test", "--nonsense=1", NULL},       /* unknown option */
        {"test", "stray", NULL},              /* positional */
        {"test", "--config=/nonexistent/file.cfg", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        FL_CHECK (s_parse (&o, 2, bad[i]) == -1);
}

static void
test_config_file (void)
{
    char dir[200];
    FL_CHECK (fl_test_mkdtemp (dir, sizeof dir, "fl-args") != NULL);
    char path[256], bad[256], unknown[256];
    snprintf (path, sizeof path, "%s/ok.cfg", dir);
    snprintf (bad, sizeof bad, "%s/bad.cfg", dir);
    snprintf (unknown, sizeof unknown, "%s/unknown.cfg", dir);
    s_write (path, "test\n    rounds = 9\n    lr = 0.25\n    model = \"mlp\"\n    quiet = 1\n");
    s_write (bad, "test\n    rounds = 100000\n");
    s_write (unknown, "test\n    roudns = 9\n");
    opts_t o;
    char cfg_arg[300];
    snprintf (cfg_arg, sizeof cfg_arg, "--config=%s", path);
    const char *a1[] = {"test", cfg_arg, NULL};
    FL_CHECK (s_parse (&o, 2, a1) == 0);
    FL_CHECK (o.rounds == 9 && o.lr == 0.25 && strcmp (o.model, "mlp") == 0 && o.quiet == 1);
    /* flags override the file, wherever they stand */
    const char *a2[] = {"test", "--rounds=11", cfg_arg, NULL};
    FL_CHECK (s_parse (&o, 3, a2) == 0);
    FL_CHECK (o.rounds == 11 && o.lr == 0.25);
    /* a value out of range and a misspelt key are errors, not ignored */
    snprintf (cfg_arg, sizeof cfg_arg, "--config=%s", bad);
    const char *a3[] = {"test", cfg_arg, NULL};
    FL_CHECK (s_parse (&o, 2, a3) == -1);
    snprintf (cfg_arg, sizeof cfg_arg, "--config=%s", unknown);
    const char *a4[] = {"test", cfg_arg, NULL};
    FL_CHECK (s_parse (&o, 2, a4) == -1);
    remove (path);
    remove (bad);
    remove (unknown);
    rmdir (dir);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_flags);
    FL_RUN (test_refusals);
    FL_RUN (test_config_file);
    FL_TEST_DONE ();
}
