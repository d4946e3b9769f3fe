/*  fl_args.c - table-driven options over getopt_long and zconfig. */
#include "fl_args.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HELP 1000
#define S_CONFIG 1001
#define S_VERSION 1002
/* getopt_long returns val: option i returns S_OPTION + i, clear of '?' (63) and
   ':' (58), which a table of 59 or more options would otherwise hit. */
#define S_OPTION 2000

static int
s_set (const fl_arg_t *a, void *settings, const char *value, const char *origin)
{
    char *field = (char *) settings + a->offset;
    char *end = NULL;
    errno = 0;
    switch (a->type) {
    case FL_ARG_STR:
        if (strlen (value) >= a->size) {
            fprintf (stderr, "%s: --%s: value is too long (at most %zu characters)\n", origin, a->name,
                     a->size - 1);
            return -1;
        }
        snprintf (field, a->size, "%s", value);
        return 0;
    case FL_ARG_FLAG: {
        long v = strtol (value, &end, 10);
        if (end == value || *end || (v != 0 && v != 1)) {
            fprintf (stderr, "%s: %s: expected 0 or 1, got '%s'\n", origin, a->name, value);
            return -1;
        }
        *(int *) field = (int) v;
        return 0;
    }
    case FL_ARG_DOUBLE: {
        double v = strtod (value, &end);
        if (end == value || *end || errno || !isfinite (v)) {
            fprintf (stderr, "%s: --%s: '%s' is not a number\n", origin, a->name, value);
            return -1;
        }
        if (a->min <= a->max && (v < a->min || v > a->max)) {
            fprintf (stderr, "%s: --%s: %g is outside [%g, %g]\n", origin, a->name, v, a->min, a->max);
            return -1;
        }
        *(double *) field = v;
        return 0;
    }
    case FL_ARG_U64:
    case FL_ARG_SIZE: {
        if (value[0] == '-') {
            fprintf (stderr, "%s: --%s: '%s' must not be negative\n", origin, a->name, value);
            return -1;
        }
        unsigned long long v = strtoull (value, &end, 10);
        if (end == value || *end || errno) {
            fprintf (stderr, "%s: --%s: '%s' is not a non-negative integer\n", origin, a->name, value);
            return -1;
        }
        if (a->min <= a->max && ((double) v < a->min || (double) v > a->max)) {
            fprintf (stderr, "%s: --%s: %llu is outside [%.0f, %.0f]\n", origin, a->name, v, a->min, a->max);
            return -1;
        }
        if (a->type == FL_ARG_U64)
            *(uint64_t *) field = v;
        else
            *(size_t *) field = (size_t) v;
        return 0;
    }
    }
    return -1;
}

static void
s_default_str (const fl_arg_t *a, const void *settings, char *buf, size_t cap)
{
    const char *field = (const char *) settings + a->offset;
    buf[0] = 0;
    switch (a->type) {
    case FL_ARG_STR:
        if (field[0])
            snprintf (buf, cap, "%s", field);
        break;
    case FL_ARG_FLAG: break;
    case FL_ARG_DOUBLE: snprintf (buf, cap, "%g", *(const double *) field); break;
    case FL_ARG_U64: snprintf (buf, cap, "%llu", (unsigned long long) *(const uint64_t *) field); break;
    case FL_ARG_SIZE: snprintf (buf, cap, "%zu", *(const size_t *) field); break;
    }
}

void
fl_args_help (const fl_arg_t *table, size_t n, const void *defaults, const char *program,
              const char *synopsis, const char *epilogue)
{
    printf ("Usage: %s [OPTIONS]%s%s\n\nOptions (each may also be set in the config file):\n", program,
            synopsis ? " " : "", synopsis ? synopsis : "");
    for (size_t i = 0; i < n; i++) {
        char left[64], def[128];
        snprintf (left, sizeof left, "--%s%s%s", table[i].name, table[i].metavar ? " " : "",
                  table[i].metavar ? table[i].metavar : "");
        s_default_str (&table[i], defaults, def, sizeof def);
        printf ("  %-28s %s%s%s%s\n", left, table[i].help, def[0] ? " [" : "", def, def[0] ? "]" : "");
    }
    printf ("  %-28s %s\n  %-28s %s\n  %-28s %s\n", "--config FILE",
            "read options from a zconfig (ZPL) file; flags override it", "--help", "show this help",
            "--version", "show the version");
    if (epilogue)
        printf ("\n%s\n", epilogue);
}

/* Reads a config file into a string, bounded: CZMQ 4.2.1's zconfig_load
   leaks its zfile_t on invalid ZPL, so we read the file ourselves and parse
   it with zconfig_str_load (found by fuzz_config). */
#define S_MAX_CONFIG_BYTES (1u << 20)

static char *
s_read_text (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *buf = (char *) malloc (S_MAX_CONFIG_BYTES + 1);
    size_t len = buf ? fread (buf, 1, S_MAX_CONFIG_BYTES + 1, f) : 0;
    fclose (f);
    if (!buf || len > S_MAX_CONFIG_BYTES || memchr (buf, 0, len)) {
        free (buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

static int
s_load_config (const fl_arg_t *table, size_t n, void *settings, const char *path, const char *section)
{
    char *text = s_read_text (path);
    zconfig_t *root = text ? zconfig_str_load (text) : NULL;
    free (text);
    if (!root) {
        fprintf (stderr, "config: cannot read '%s' (missing, unreadable, over 1 MiB or not ZPL)\n", path);
        return -1;
    }
    int rc = 0;
    zconfig_t *sec = zconfig_locate (root, section);
    if (!sec) {
        fprintf (stderr, "config: '%s' has no '%s' section\n", path, section);
        zconfig_destroy (&root);
        return -1;
    }
    for (zconfig_t *item = zconfig_child (sec); item && rc == 0; item = zconfig_next (item)) {
        const char *key = zconfig_name (item);
        const char *value = zconfig_value (item);
        const fl_arg_t *a = NULL;
        for (size_t i = 0; i < n && !a; i++)
            if (strcmp (table[i].name, key) == 0)
                a = &table[i];
        char origin[512];
        snprintf (origin, sizeof origin, "config %s: %s/%s", path, section, key);
        if (!a) {
            fprintf (stderr, "%s: unknown key\n", origin);
            rc = -1;
        }
        else if (!value || !value[0]) {
            fprintf (stderr, "%s: missing value\n", origin);
            rc = -1;
        }
        else
            rc = s_set (a, settings, value, origin);
    }
    zconfig_destroy (&root);
    return rc;
}

int
fl_args_parse (const fl_arg_t *table, size_t n, void *settings, int argc, char **argv,
               const char *program, const char *section, const char *synopsis,
               const char *epilogue, int *positional)
{
    struct option *longopts = (struct option *) calloc (n + 4, sizeof (struct option));
    if (!longopts)
        return -1;
    for (size_t i = 0; i < n; i++) {
        longopts[i].name = table[i].name;
        longopts[i].has_arg = table[i].type == FL_ARG_FLAG ? no_argument : required_argument;
        longopts[i].val = S_OPTION + (int) i;
    }
    longopts[n].name = "help";
    longopts[n].val = S_HELP;
    longopts[n + 1].name = "config";
    longopts[n + 1].has_arg = required_argument;
    longopts[n + 1].val = S_CONFIG;
    longopts[n + 2].name = "version";
    longopts[n + 2].val = S_VERSION;

    /* Pass 1: --config and --help only (the file must not override flags). */
    const char *config = NULL;
    int rc = 0, c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long (argc, argv, "+", longopts, NULL)) != -1) {
        if (c == S_CONFIG)
            config = optarg;
        else if (c == S_HELP || c == S_VERSION) {
            if (c == S_HELP)
                fl_args_help (table, n, settings, program, synopsis, epilogue);
            else
                printf ("%s (libfl) 0.1.0\n", program);
            free (longopts);
            return 1;
        }
    }
    if (config && s_load_config (table, n, settings, config, section) != 0)
        rc = -1;
    /* Pass 2: the flags. */
    opterr = 1;
    optind = 0;
    while (rc == 0 && (c = getopt_long (argc, argv, "+", longopts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            fprintf (stderr, "%s: try '%s --help'\n", program, program);
            rc = -1;
        }
        else if (c >= S_OPTION && (size_t) (c - S_OPTION) < n) {
            const fl_arg_t *a = &table[c - S_OPTION];
            char origin[160];
            snprintf (origin, sizeof origin, "%s", program);
            if (a->type == FL_ARG_FLAG)
                *(int *) ((char *) settings + a->offset) = 1;
            else
                rc = s_set (a, settings, optarg, origin);
        }
    }
    if (rc == 0) {
        if (positional)
            *positional = optind;
        else if (optind < argc) {
            fprintf (stderr, "%s: unexpected argument '%s'; try '%s --help'\n", program, argv[optind], program);
            rc = -1;
        }
    }
    free (longopts);
    return rc;
}

size_t
fl_args_append (fl_arg_t *out, size_t cap, size_t at, const fl_arg_t *table, size_t n, size_t base)
{
    if (at > cap || n > cap - at)
        return 0;
    for (size_t i = 0; i < n; i++) {
        out[at + i] = table[i];
        out[at + i].offset += base;
    }
    return at + n;
}
