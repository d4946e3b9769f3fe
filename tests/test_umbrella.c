/*  test_umbrella.c - fl.h includes every public header and they compile
    together (no clashing names or missing includes). */
#include "fl.h"
#include "fl_test.h"

static void
test_headers_compile_together (void)
{
    FL_CHECK (FL_WIRE_VERSION == 1);
    FL_CHECK (FL_SHAMIR_SECRETBYTES == 32);
    FL_CHECK (FL_MODEL_ABI_VERSION >= 1);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_headers_compile_together);
    FL_TEST_DONE ();
}
