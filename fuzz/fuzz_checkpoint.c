/*  fuzz_checkpoint - fl_checkpoint_decode over the raw input, and over a
    copy whose declared length and checksum are fixed up so the fuzzer gets
    past the BLAKE2b check into the field parser (a checksum is not a
    defence: the parser must stand on its own).  Property: no crash or leak;
    an accepted checkpoint re-encodes to exactly the input bytes, and every
    field is readable with its own type's getter. */
#include <fl_checkpoint.h>
#include <sodium.h>
#include <stdlib.h>

#include "fuzz_common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    if (sodium_init () < 0)
        abort ();
    return 0;
}

static void
s_check (const fl_checkpoint_t *c, const uint8_t *data, size_t size)
{
    uint8_t *buf;
    size_t len;
    if (fl_checkpoint_encode (c, &buf, &len) != 0)
        abort ();
    if (len != size || memcmp (buf, data, size) != 0)
        abort ();       /* decode is exact: one encoding per checkpoint */
    free (buf);
    for (size_t i = 0; i < fl_checkpoint_count (c); i++) {
        const char *name = fl_checkpoint_name (c, i);
        const void *p = NULL;
        size_t n = 0;
        uint64_t u;
        double f;
        int rc = -1;
        switch (fl_checkpoint_type (c, i)) {
            case FL_CHECKPOINT_U64: rc = fl_checkpoint_get_u64 (c, name, &u); break;
            case FL_CHECKPOINT_F64: rc = fl_checkpoint_get_f64 (c, name, &f); break;
            case FL_CHECKPOINT_BYTES: rc = fl_checkpoint_get_bytes (c, name, (const uint8_t **) &p, &n); break;
            case FL_CHECKPOINT_F32S: rc = fl_checkpoint_get_f32s (c, name, (const float **) &p, &n); break;
            case FL_CHECKPOINT_F64S: rc = fl_checkpoint_get_f64s (c, name, (const double **) &p, &n); break;
            case FL_CHECKPOINT_U64S: rc = fl_checkpoint_get_u64s (c, name, (const uint64_t **) &p, &n); break;
        }
        if (rc != 0)
            abort ();
        /* touch every byte of vectors so ASan checks the extent */
        volatile uint8_t acc = 0;
        size_t bytes = fl_checkpoint_type (c, i) == FL_CHECKPOINT_BYTES ? n
                     : fl_checkpoint_type (c, i) == FL_CHECKPOINT_F32S ? 4 * n : 8 * n;
        for (size_t k = 0; p && k < bytes; k++)
            acc ^= ((const uint8_t *) p)[k];
        (void) acc;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char why[FL_CHECKPOINT_WHYBYTES];
    fl_checkpoint_t *c = fl_checkpoint_decode (data, size, why, sizeof why);
    if (c)
        s_check (c, data, size);
    fl_checkpoint_destroy (&c);
    if (size < FL_CHECKPOINT_MIN_BYTES)
        return 0;
    uint8_t *copy = malloc (size);
    memcpy (copy, data, size);
    for (int i = 0; i < 8; i++)
        copy[16 + i] = (uint8_t) ((uint64_t) size >> (8 * i));
    crypto_generichash (copy + size - 32, 32, copy, size - 32, NULL, 0);
    c = fl_checkpoint_decode (copy, size, why, sizeof why);
    if (c)
        s_check (c, copy, size);
    fl_checkpoint_destroy (&c);
    free (copy);
    return 0;
}
