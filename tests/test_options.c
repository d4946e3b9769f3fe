/*  test_options.c - fl_options: the coordinator options fl-coordinator and
    fl-sim share (one table, its defaults from the round's), and
    fl_args_append joining it to a program's own table at the offset of the
    embedded struct. */
#include <stddef.h>
#include <stdint.h>

#include "fl_args.h"
#include "fl_options.h"
#include "fl_round.h"
#include "fl_test.h"

typedef struct {
    char own[32];
    uint64_t members;
    fl_options_round_t r;
} prog_t;

static const fl_arg_t s_own[] = {
    {"own", FL_ARG_STR, offsetof (prog_t, own), 32, "X", "a program's own option", FL_ARG_NO_RANGE},
    {"members", FL_ARG_U64, offsetof (prog_t, members), 0, "N", "members", 1, 100},
};

static size_t
s_field_size (const fl_arg_t *a)
{
    switch (a->type) {
    case FL_ARG_U64: return sizeof (uint64_t);
    case FL_ARG_SIZE: return sizeof (size_t);
    case FL_ARG_DOUBLE: return sizeof (double);
    case FL_ARG_FLAG: return sizeof (int);
    case FL_ARG_STR: return a->size;
    }
    return 0;
}

static void
test_table_well_formed (void)
{
    FL_CHECK (fl_options_round_count >= 30);
    size_t named = 0, inside = 0, metavars = 0, unique = 0, disjoint = 0;
    for (size_t i = 0; i < fl_options_round_count; i++) {
        const fl_arg_t *a = &fl_options_round[i];
        named += a->name && a->name[0] && a->help && a->help[0];
        /* every field inside the struct, none overlapping another */
        inside += s_field_size (a) > 0 && a->offset + s_field_size (a) <= sizeof (fl_options_round_t);
        metavars += (a->type == FL_ARG_FLAG) == (a->metavar == NULL);
        int u = 1, d = 1;
        for (size_t j = 0; j < i; j++) {
            const fl_arg_t *b = &fl_options_round[j];
            u &= strcmp (a->name, b->name) != 0;
            d &= a->offset + s_field_size (a) <= b->offset || b->offset + s_field_size (b) <= a->offset;
        }
        unique += u;
        disjoint += d;
    }
    FL_CHECK (named == fl_options_round_count);
    FL_CHECK (inside == fl_options_round_count);
    FL_CHECK (metavars == fl_options_round_count);
    FL_CHECK (unique == fl_options_round_count);
    FL_CHECK (disjoint == fl_options_round_count);
}

static void
test_defaults_are_the_rounds (void)
{
    fl_options_round_t o;
    fl_options_round_defaults (&o);
    fl_round_config_t d;
    fl_round_config_default (&d);
    FL_CHECK (o.rounds == d.rounds && o.fraction == d.fraction && o.local_epochs == d.local_epochs);
    FL_CHECK (o.batch_size == d.batch_size && o.client_lr == d.client_lr && o.server_lr == d.server_opt.lr);
    FL_CHECK (strcmp (o.client_opt, d.client_opt) == 0 && strcmp (o.model, d.model) == 0);
    FL_CHECK (o.clip_norm == d.clip_norm && o.sa_corrupt == d.sa_corrupt && o.sa_dropout == d.sa_dropout);
    FL_CHECK (o.bucket_size == d.bucket_size && o.allow_small_buckets == d.allow_small_buckets);
    FL_CHECK (o.dp_target_quantile == d.dp_target_quantile && o.dp_clip_lr == d.dp_clip_lr
              && o.dp_count_noise == d.dp_count_noise && o.dp_adaptive_clip == d.dp_adaptive_clip);
    FL_CHECK (strcmp (o.aggregator, "fedavg") == 0 && strcmp (o.server_opt, "fedavg") == 0);
    FL_CHECK (o.dp_unit[0] == 0 && o.plaintext == 0 && o.dp_noise_multiplier == -1);
    /* every default is inside its own range (so --help never shows a value
       the parser would refuse), except the documented "unset" markers */
    for (size_t i = 0; i < fl_options_round_count; i++) {
        const fl_arg_t *a = &fl_options_round[i];
        if (a->type != FL_ARG_DOUBLE || a->min > a->max)
            continue;
        double v = *(const double *) (const void *) ((const char *) &o + a->offset);
        int unset = v == -1 && (strcmp (a->name, "sa-dropout") == 0 || strcmp (a->name, "dp-noise-multiplier") == 0
                                || strcmp (a->name, "dp-count-noise") == 0);
        int zero_off = v == 0 && strcmp (a->name, "dp-epsilon") == 0;   /* 0 = no budget */
        FL_CHECK (unset || zero_off || (v >= a->min && v <= a->max));
    }
}

static void
test_append_and_parse (void)
{
    fl_arg_t all[64];
    size_t n = fl_args_append (all, 64, 0, s_own, 2, 0);
    FL_CHECK (n == 2);
    n = fl_args_append (all, 64, n, fl_options_round, fl_options_round_count, offsetof (prog_t, r));
    FL_CHECK (n == 2 + fl_options_round_count);
    FL_CHECK (all[2].offset == fl_options_round[0].offset + offsetof (prog_t, r));
    /* too small: nothing copied, 0 */
    fl_arg_t few[4];
    FL_CHECK (fl_args_append (few, 4, 2, fl_options_round, fl_options_round_count, 0) == 0);
    FL_CHECK (fl_args_append (few, 4, 5, s_own, 0, 0) == 0);

    prog_t p;
    memset (&p, 0, sizeof p);
    fl_options_round_defaults (&p.r);
    const char *argv[] = {"prog", "--own", "x", "--members", "3", "--rounds", "7", "--dp-unit", "client",
                          "--clip-norm", "2.5", "--plaintext", "--aggregator", "median", NULL};
    FL_CHECK (fl_args_parse (all, n, &p, 14, (char **) argv, "prog", "prog", NULL, NULL, NULL) == 0);
    FL_CHECK (strcmp (p.own, "x") == 0 && p.members == 3);
    FL_CHECK (p.r.rounds == 7 && strcmp (p.r.dp_unit, "client") == 0 && p.r.clip_norm == 2.5);
    FL_CHECK (p.r.plaintext == 1 && strcmp (p.r.aggregator, "median") == 0);
    FL_CHECK (p.r.batch_size == 32);            /* untouched: the default */

    /* the shared table's ranges hold in the joined table */
    const char *bad[] = {"prog", "--rounds", "0", NULL};
    FL_CHECK (fl_args_parse (all, n, &p, 3, (char **) bad, "prog", "prog", NULL, NULL, NULL) == -1);
    const char *bad2[] = {"prog", "--sa-corrupt", "1.5", NULL};
    FL_CHECK (fl_args_parse (all, n, &p, 3, (char **) bad2, "prog", "prog", NULL, NULL, NULL) == -1);
    FL_CHECK (p.r.rounds == 7 && p.r.sa_corrupt == 0.15);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_table_well_formed);
    FL_RUN (test_defaults_are_the_rounds);
    FL_RUN (test_append_and_parse);
    FL_TEST_DONE ();
}
