/*  fl_install.c - where the files that ship with libfl are (see fl_install.h). */
#define _GNU_SOURCE            /* dladdr */
#include "fl_install.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Set by libfl/CMakeLists.txt; the defaults keep a stray build working. */
#ifndef FL_BIN_TO_DATASETS
#define FL_BIN_TO_DATASETS "../share/libfl/datasets"
#endif
#ifndef FL_BIN_TO_PLUGINS
#define FL_BIN_TO_PLUGINS "../lib/libfl/plugins"
#endif
#ifndef FL_LIB_TO_DATASETS
#define FL_LIB_TO_DATASETS "../share/libfl/datasets"
#endif
#ifndef FL_LIB_TO_PLUGINS
#define FL_LIB_TO_PLUGINS "libfl/plugins"
#endif
#ifndef FL_TREE_DATASETS
#define FL_TREE_DATASETS "datasets"
#endif
#ifndef FL_TREE_PLUGINS
#define FL_TREE_PLUGINS "plugins"
#endif
#ifndef FL_FULL_DATASETS
#define FL_FULL_DATASETS "/usr/local/share/libfl/datasets"
#endif
#ifndef FL_FULL_PLUGINS
#define FL_FULL_PLUGINS "/usr/local/lib/libfl/plugins"
#endif

/* Any address inside this object file, for dladdr. */
static const char s_anchor = 0;

/* Directory part of PATH, in place ("" when PATH has no '/'). */
static void
s_dirname (char *path)
{
    char *slash = strrchr (path, '/');
    if (slash)
        *slash = '\0';
    else
        path[0] = '\0';
}

/* The candidate directories of KIND, in order; returns how many. */
static size_t
s_candidates (fl_install_dir_t kind, char dirs[4][PATH_MAX])
{
    int data = kind == FL_INSTALL_DATASETS;
    size_t n = 0;
    char exe[PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        s_dirname (exe);
        if (exe[0] && snprintf (dirs[n], PATH_MAX, "%s/%s", exe,
                                data ? FL_BIN_TO_DATASETS : FL_BIN_TO_PLUGINS) < PATH_MAX)
            n++;
    }
    else
        exe[0] = '\0';
    /* Only from a shared library: in a program linked statically, dladdr
       names the program itself, whose directory was tried above. */
    Dl_info info;
    if (dladdr (&s_anchor, &info) && info.dli_fname
        && strchr (info.dli_fname, '/')) {
        char lib[PATH_MAX];
        char real[PATH_MAX];
        if (realpath (info.dli_fname, real) && strlen (real) < sizeof lib) {
            snprintf (lib, sizeof lib, "%s", real);
            s_dirname (lib);
            if (lib[0] && strcmp (lib, exe) != 0
                && snprintf (dirs[n], PATH_MAX, "%s/%s", lib,
                             data ? FL_LIB_TO_DATASETS : FL_LIB_TO_PLUGINS) < PATH_MAX)
                n++;
        }
    }
    snprintf (dirs[n++], PATH_MAX, "%s", data ? FL_TREE_DATASETS : FL_TREE_PLUGINS);
    snprintf (dirs[n++], PATH_MAX, "%s", data ? FL_FULL_DATASETS : FL_FULL_PLUGINS);
    return n;
}

int
fl_install_find (fl_install_dir_t kind, const char *name, char *path, size_t cap)
{
    if (!path || cap == 0)
        return -1;
    path[0] = '\0';
    if (!name || strchr (name, '/') || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        return -1;
    char dirs[4][PATH_MAX];
    size_t n = s_candidates (kind, dirs);
    for (size_t i = 0; i < n; i++) {
        char full[PATH_MAX];
        int w = name[0] ? snprintf (full, sizeof full, "%s/%s", dirs[i], name)
                        : snprintf (full, sizeof full, "%s", dirs[i]);
        if (w < 0 || (size_t) w >= sizeof full)
            continue;
        struct stat st;
        if (stat (full, &st) != 0)
            continue;
        if (name[0] ? !S_ISREG (st.st_mode) : !S_ISDIR (st.st_mode))
            continue;
        if ((size_t) w >= cap)
            return -1;
        memcpy (path, full, (size_t) w + 1);
        return 0;
    }
    /* not found: list what was searched */
    size_t used = 0;
    for (size_t i = 0; i < n && used + 1 < cap; i++) {
        int w = snprintf (path + used, cap - used, "%s%s", i ? ", " : "", dirs[i]);
        if (w < 0 || (size_t) w >= cap - used)
            break;
        used += (size_t) w;
    }
    return -1;
}
