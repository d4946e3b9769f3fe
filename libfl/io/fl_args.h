/*  fl_args - one option table drives getopt_long, --help and the zconfig
    configuration file.

    Each program describes its options once (name, type, field of its
    settings struct, allowed range, help).  fl_args_parse then:
      1. finds --config FILE among the arguments and, if given, loads it with
         CZMQ zconfig; every key under the program's section ("coordinator",
         "client", "sim") must name an option: an unknown key is an error, so
         a typo in a config file is never silently ignored;
      2. applies the command-line flags, which override the file;
      3. checks every numeric value against its range.
    The same names appear in --help, in config files and in the docs.
*/
#ifndef FL_ARGS_H_INCLUDED
#define FL_ARGS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FL_ARG_U64,       /* uint64_t field */
    FL_ARG_SIZE,      /* size_t field */
    FL_ARG_DOUBLE,    /* double field */
    FL_ARG_STR,       /* char[size] field */
    FL_ARG_FLAG       /* int field set to 1 (no value; in a config file: 0/1) */
} fl_arg_type_t;

typedef struct {
    const char *name;         /* long option and config key */
    fl_arg_type_t type;
    size_t offset;            /* offsetof (settings struct, field) */
    size_t size;              /* FL_ARG_STR: capacity of the char array */
    const char *metavar;      /* "N", "FILE", ... (NULL for flags) */
    const char *help;         /* one line; the default is appended by --help */
    double min, max;          /* numeric range, inclusive (ignored when min > max) */
} fl_arg_t;

#define FL_ARG_NO_RANGE 1, 0

/*  Parses argv into settings (which holds the defaults on entry).
    Returns 0 on success; 1 if --help or --version was printed (the caller
    exits 0); -1 on an error, already printed to stderr with the option or
    config key at fault (the caller exits 2).  positional: if non-NULL,
    receives the index of the first non-option argument (else any positional
    argument is an error). */
int fl_args_parse (const fl_arg_t *table, size_t n, void *settings, int argc, char **argv,
                   const char *program, const char *section, const char *synopsis,
                   const char *epilogue, int *positional);

/*  Copies the n entries of table into out[at .. at + n) with base added to
    each offset: a table over a struct embedded at offset base of the
    program's settings (such as fl_options_round, io/fl_options.h) joins the
    program's own table.  Returns at + n; or 0 (nothing copied) if that
    exceeds cap. */
size_t fl_args_append (fl_arg_t *out, size_t cap, size_t at, const fl_arg_t *table, size_t n, size_t base);

/*  Prints the generated help (used by fl_args_parse for --help). */
void fl_args_help (const fl_arg_t *table, size_t n, const void *defaults, const char *program,
                   const char *synopsis, const char *epilogue);

#ifdef __cplusplus
}
#endif
#endif
