/*  fuzz_wire - fl_wire_decode (the network decoder) under the default limits
    (authenticated peers) and the pre-authentication limits, and the
    structural pre-scan fl_wire_scan.  Property: no crash, no leak, no
    out-of-bounds read, whatever the bytes; a message accepted under the
    tighter limits is accepted under the default ones too. */
#include <fl_wire.h>
#include <stdlib.h>

#include "fuzz_common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char why[FL_WIRE_WHYBYTES];
    fl_wire_limits_t def = fl_wire_limits_default ();
    fl_wire_limits_t pre = fl_wire_limits_preauth ();
    fl_wire_msg_t *a = fl_wire_decode (data, size, &def, why, sizeof why);
    fl_wire_msg_t *b = fl_wire_decode (data, size, &pre, why, sizeof why);
    if (b && !a)
        abort ();       /* preauth limits are tighter in every respect */
    if (a) {
        /* header getters on whatever type was decoded */
        volatile uint64_t round = fl_wire_round (a);
        volatile const uint8_t *run = fl_wire_run_id (a);
        volatile const char *name = fl_wire_type_name ((int) fl_wire_type (a));
        (void) round; (void) run; (void) name;
    }
    fl_wire_msg_destroy (&a);
    fl_wire_msg_destroy (&b);
    (void) fl_wire_scan (data, size, FL_WIRE_MAX_DEPTH, why, sizeof why);
    (void) fl_wire_scan (data, size, 64, NULL, 0);
    return 0;
}
