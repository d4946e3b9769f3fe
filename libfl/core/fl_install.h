/*  fl_install.h - where the files that ship with libfl are: the bundled data
    sets and the model plugins.

    Internal to the library (not installed): fl_shard_default_datadir and
    fl_model_load_plugin are the public ways in.

    A directory is looked for, in this order, and the first that exists wins:
      1. relative to the running program (/proc/self/exe): an installed
         program in PREFIX/bin finds PREFIX/share/libfl/datasets and
         PREFIX/lib/libfl/plugins wherever PREFIX was moved to;
      2. relative to libfl.so itself (dladdr), when the code runs from the
         shared library: a program outside the prefix that links it;
      3. the build tree (in-tree runs): the source tree's datasets/ and the
         build's plugins/;
      4. the install directories compiled in (CMAKE_INSTALL_FULL_DATADIR ...),
         for a program linked with the static library.
    The relative paths and the compiled-in ones come from GNUInstallDirs in
    the top CMakeLists.txt (compile definitions of fl_install.c). */
#ifndef FL_INSTALL_H_INCLUDED
#define FL_INSTALL_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FL_INSTALL_DATASETS = 0,   /* the bundled data sets (share/libfl/datasets) */
    FL_INSTALL_PLUGINS = 1     /* model plugins (lib/libfl/plugins) */
} fl_install_dir_t;

/*  Finds NAME (a file name without '/', or "" for the directory itself) in
    the first candidate directory of KIND that holds it (order above).  On
    success writes the path (directory + "/" + NAME, or the directory) to
    PATH (CAP bytes) and returns 0.  Returns -1 when no candidate holds it,
    when NAME contains '/' or is "." or "..", or when a path does not fit
    CAP; then PATH holds the candidate directories searched, separated by
    ", " (truncated to CAP), for the caller's error message.  Reads only the
    file system; thread-safe. */
int fl_install_find (fl_install_dir_t kind, const char *name, char *path, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
