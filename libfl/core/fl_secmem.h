/*  fl_secmem - guarded, locked memory for secrets, reused instead of
    returned to the kernel.

    Secrets live in sodium_malloc blocks (guard pages around the region, a
    canary before it, mlock'ed so they are not swapped; CONVENTIONS.md).
    Each sodium_malloc is an mmap, two mprotect and an mlock, each
    sodium_free an munlock, an mprotect and an munmap; in a process with a
    second thread (every ZeroMQ program: its I/O thread) the mprotect and
    munmap flush the TLB of every core the process ran on, by inter-processor
    interrupt.  A secure round allocated and freed about ten such blocks per
    member per aggregation; on the 2-core machine that was about half of a
    small secure round's time (docs/BENCHMARKS.md, "Whole rounds").

    fl_secmem_free wipes the block (sodium_memzero) and keeps it, still
    guarded and locked, for the next fl_secmem_alloc of exactly the same
    size (the region then still ends at its guard page); beyond a small
    cache (FL_SECMEM_CACHE_BLOCKS blocks, FL_SECMEM_CACHE_BYTES bytes) blocks
    go back with sodium_free.  Secrets are never left in a cached block:
    only wiped memory is kept.  Thread-safe (one mutex).

    A block from fl_secmem_alloc must be freed with fl_secmem_free, never
    sodium_free (the size is kept in a 16-byte header inside the block).
*/
#ifndef FL_SECMEM_H_INCLUDED
#define FL_SECMEM_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_SECMEM_CACHE_BLOCKS 64
#define FL_SECMEM_CACHE_BYTES ((size_t) 64 << 20)

/*  A guarded block of n bytes (n may be 0), contents unspecified (a reused
    block is all zero).  NULL when out of memory (or n too large). */
void *fl_secmem_alloc (size_t n);

/*  Wipes the block of fl_secmem_alloc and keeps it for reuse or returns it
    (sodium_free).  NULL is ignored. */
void fl_secmem_free (void *p);

/*  Returns every cached block (sodium_free); for tests and long-lived
    programs that want the memory back.  The cache refills as needed. */
void fl_secmem_trim (void);

#ifdef __cplusplus
}
#endif

#endif
