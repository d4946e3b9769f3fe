/*  test_secmem.c - fl_secmem, the reused guarded blocks secrets live in:

    - test_wiped_before_reuse: what an adversary holding the next block of
      the same size (any later fl_secmem_alloc in the process) can read of
      the secret freed before it: nothing (all zero), though it is the same
      memory;
    - test_sizes_kept_apart: a block is reused only for its own size (its
      region keeps ending at its guard page), every size and 0 work;
    - test_cache_bounded: more blocks than the cache holds are all usable
      and freed (the surplus goes back with sodium_free), and after
      fl_secmem_trim fresh blocks still work. */
#include <sodium.h>
#include <stdint.h>

#include "fl_secmem.h"
#include "fl_test.h"

static void
test_wiped_before_reuse (void)
{
    fl_secmem_trim ();
    uint8_t *a = (uint8_t *) fl_secmem_alloc (96);
    FL_CHECK (a != NULL);
    randombytes_buf (a, 96);
    uint8_t copy[96];
    memcpy (copy, a, 96);
    fl_secmem_free (a);
    uint8_t *b = (uint8_t *) fl_secmem_alloc (96);
    FL_CHECK (b == a);                         /* the same memory came back ... */
    int zero = 1, same = 0;
    for (int i = 0; i < 96; i++) {
        zero &= b[i] == 0;
        same += b[i] == copy[i] && copy[i] != 0;
    }
    FL_CHECK (zero);                           /* ... with nothing of the secret in it */
    FL_CHECK (same == 0);
    fl_secmem_free (b);
    fl_secmem_free (NULL);
}

static void
test_sizes_kept_apart (void)
{
    fl_secmem_trim ();
    uint8_t *a = (uint8_t *) fl_secmem_alloc (64);
    fl_secmem_free (a);
    uint8_t *b = (uint8_t *) fl_secmem_alloc (65);
    FL_CHECK (b != NULL && b != a);
    memset (b, 0xab, 65);                      /* the whole region is writable */
    uint8_t *z = (uint8_t *) fl_secmem_alloc (0);
    FL_CHECK (z != NULL);
    uint8_t *big = (uint8_t *) fl_secmem_alloc ((size_t) 3 << 20);
    FL_CHECK (big != NULL);
    memset (big, 1, (size_t) 3 << 20);
    uint8_t *c = (uint8_t *) fl_secmem_alloc (64);
    FL_CHECK (c == a);                         /* the 64-byte block waited for its own size */
    fl_secmem_free (c);
    fl_secmem_free (b);
    fl_secmem_free (z);
    fl_secmem_free (big);
    FL_CHECK (fl_secmem_alloc ((size_t) SIZE_MAX) == NULL);
}

static void
test_cache_bounded (void)
{
    enum { K = FL_SECMEM_CACHE_BLOCKS + 20 };
    void *p[K];
    for (int i = 0; i < K; i++) {
        p[i] = fl_secmem_alloc (200);
        FL_CHECK (p[i] != NULL);
        memset (p[i], i, 200);
    }
    for (int i = 0; i < K; i++)
        fl_secmem_free (p[i]);
    fl_secmem_trim ();
    uint8_t *q = (uint8_t *) fl_secmem_alloc (200);
    FL_CHECK (q != NULL);
    memset (q, 7, 200);
    fl_secmem_free (q);
    fl_secmem_trim ();
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_wiped_before_reuse);
    FL_RUN (test_sizes_kept_apart);
    FL_RUN (test_cache_bounded);
    FL_TEST_DONE ();
}
