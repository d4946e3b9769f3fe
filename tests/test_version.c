/*  test_version.c - what a build of libfl says about itself: fl_version ()
    and the FL_VERSION_* macros agree with each other and with the one place
    the version is written (project (libfl VERSION ...) in the top
    CMakeLists.txt, read here from the source tree); and where it finds its
    own files (fl_install_find, fl_shard_default_datadir): the bundled data
    sets and the example plugin are found from the build tree, $FL_DATADIR
    overrides, and names that are not file names are refused. */
#include "fl_install.h"
#include "fl_shard.h"
#include "fl_test.h"
#include "fl_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_version (void)
{
    const char *v = fl_version ();
    FL_CHECK (v != NULL);
    FL_CHECK (strcmp (v, FL_VERSION_STRING) == 0);
    FL_CHECK (strcmp (FL_VERSION, FL_VERSION_STRING) == 0);
    char parts[64];
    snprintf (parts, sizeof parts, "%d.%d.%d", FL_VERSION_MAJOR, FL_VERSION_MINOR, FL_VERSION_PATCH);
    FL_CHECK (strcmp (parts, v) == 0);
    FL_CHECK (FL_VERSION_NUMBER == FL_VERSION_MAJOR * 10000 + FL_VERSION_MINOR * 100 + FL_VERSION_PATCH);
    FL_CHECK (FL_VERSION_NUMBER >= FL_MAKE_VERSION (0, 1, 0));
    FL_CHECK (FL_MAKE_VERSION (0, 10, 0) > FL_MAKE_VERSION (0, 9, 99));
    /* the version written in the top CMakeLists.txt */
    FILE *f = fopen (FL_TEST_PATH ("CMakeLists.txt"), "r");
    FL_CHECK (f != NULL);
    char line[512], cmake[64] = "";
    while (f && fgets (line, sizeof line, f))
        if (sscanf (line, "project (libfl VERSION %63[0-9.]", cmake) == 1)
            break;
    if (f)
        fclose (f);
    if (fl_test_verbose_)
        printf ("  fl_version () = %s, CMakeLists.txt says %s\n", v, cmake);
    FL_CHECK (strcmp (cmake, v) == 0);
}

static void
test_install_find (void)
{
    char path[4096];
    /* the data sets directory and a file in it */
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "", path, sizeof path) == 0);
    char wdbc[4200];
    snprintf (wdbc, sizeof wdbc, "%s/wdbc.csv", path);
    FILE *f = fopen (wdbc, "r");
    FL_CHECK (f != NULL);
    if (f)
        fclose (f);
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "wdbc.csv", path, sizeof path) == 0);
    FL_CHECK (strcmp (path, wdbc) == 0);
    /* the example plugin, from the build tree's plugins/ */
    FL_CHECK (fl_install_find (FL_INSTALL_PLUGINS, "fm_plugin.so", path, sizeof path) == 0);
    size_t n = strlen (path);
    FL_CHECK (n > 20 && strcmp (path + n - 20, "plugins/fm_plugin.so") == 0);
    /* missing: -1, and path lists the directories searched */
    FL_CHECK (fl_install_find (FL_INSTALL_PLUGINS, "no_such.so", path, sizeof path) == -1);
    FL_CHECK (strstr (path, "plugins") != NULL && strstr (path, ", ") != NULL);
    /* a directory is not a file, a file is not a directory */
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "wdbc.csv/", path, sizeof path) == -1);
    /* not file names */
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "../datasets", path, sizeof path) == -1);
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "..", path, sizeof path) == -1);
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, ".", path, sizeof path) == -1);
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, NULL, path, sizeof path) == -1);
    /* a buffer too small for the path found: -1, never a cut path */
    char tiny[8];
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "wdbc.csv", tiny, sizeof tiny) == -1);
    FL_CHECK (strlen (tiny) < sizeof tiny);
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "wdbc.csv", NULL, 0) == -1);
}

static void
test_default_datadir (void)
{
    char *saved = getenv ("FL_DATADIR") ? strdup (getenv ("FL_DATADIR")) : NULL;
    unsetenv ("FL_DATADIR");
    const char *dir = fl_shard_default_datadir ();
    char path[4096];
    FL_CHECK (fl_install_find (FL_INSTALL_DATASETS, "", path, sizeof path) == 0);
    FL_CHECK (strcmp (dir, path) == 0);
    setenv ("FL_DATADIR", "/some/where", 1);
    FL_CHECK (strcmp (fl_shard_default_datadir (), "/some/where") == 0);
    setenv ("FL_DATADIR", "", 1);            /* empty: as if unset */
    FL_CHECK (strcmp (fl_shard_default_datadir (), path) == 0);
    if (saved)
        setenv ("FL_DATADIR", saved, 1);
    else
        unsetenv ("FL_DATADIR");
    free (saved);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_version);
    FL_RUN (test_install_find);
    FL_RUN (test_default_datadir);
    FL_TEST_DONE ();
}
