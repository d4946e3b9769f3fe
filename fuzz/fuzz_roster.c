/*  fuzz_roster - fl_roster_load over arbitrary file content (the roster is
    a ZPL file parsed by zconfig_str_load, then validated entry by entry).
    fl_roster has only a path API, so the input goes through a temporary
    file.  Property: no crash or leak; an accepted roster has members and a
    coordinator and answers lookups of its own entries. */
#include <fl_roster.h>
#include <stdlib.h>

#include "fuzz_common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    atexit (fuzz_tmpfile_cleanup);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile_write (data, size);
    fl_roster_t *r = fl_roster_load (path);
    if (r) {
        if (fl_roster_size (r) == 0 || !fl_roster_has_coordinator (r))
            abort ();
        for (size_t i = 0; i < fl_roster_size (r); i++) {
            if (fl_roster_find_by_id (r, fl_roster_member_id (r, i)) != (int) i
                || fl_roster_find_by_curve (r, fl_roster_curve_pk (r, i)) != (int) i
                || fl_roster_find_by_identity (r, fl_roster_identity_pk (r, i)) != (int) i)
                abort ();
        }
    }
    fl_roster_destroy (&r);
    return 0;
}
