/*  fuzz_config - fl_args_parse with --config FILE, FILE holding the input
    (a zconfig/ZPL configuration file), over an option table with one option
    of every type.  Property: no crash or leak; every accepted value lies in
    its declared range and strings are NUL-terminated within their field. */
#include <fl_args.h>
#include <stddef.h>
#include <stdlib.h>

#include "fuzz_common.h"

typedef struct {
    uint64_t rounds;
    size_t clients;
    double lr;
    char model[16];
    int quiet;
} settings_t;

static const fl_arg_t s_table[] = {
    { "rounds", FL_ARG_U64, offsetof (settings_t, rounds), 0, "N", "rounds", 1, 1000 },
    { "clients", FL_ARG_SIZE, offsetof (settings_t, clients), 0, "N", "clients", 1, 65535 },
    { "lr", FL_ARG_DOUBLE, offsetof (settings_t, lr), 0, "X", "learning rate", 1e-6, 10 },
    { "model", FL_ARG_STR, offsetof (settings_t, model), 16, "NAME", "model", FL_ARG_NO_RANGE },
    { "quiet", FL_ARG_FLAG, offsetof (settings_t, quiet), 0, NULL, "quiet", FL_ARG_NO_RANGE },
};

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    atexit (fuzz_tmpfile_cleanup);
    /* fl_args reports every refusal on stderr: run with -close_fd_mask=2
       (libFuzzer keeps its own and the sanitizers' reports). */
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile_write (data, size);
    settings_t s = { 5, 3, 0.1, "logreg", 0 };
    char arg0[] = "fuzz_config", arg1[] = "--config";
    char arg2[64];
    snprintf (arg2, sizeof arg2, "%s", path);
    char *argv[] = { arg0, arg1, arg2, NULL };
    int rc = fl_args_parse (s_table, sizeof s_table / sizeof s_table[0], &s, 3, argv,
                            "fuzz_config", "coordinator", "", NULL, NULL);
    if (rc == 0) {
        if (s.rounds < 1 || s.rounds > 1000 || s.clients < 1 || s.clients > 65535
            || !(s.lr >= 1e-6 && s.lr <= 10) || memchr (s.model, 0, sizeof s.model) == NULL
            || (s.quiet != 0 && s.quiet != 1))
            abort ();
    }
    return 0;
}
