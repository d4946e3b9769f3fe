/*  fl_secmem - see fl_secmem.h. */
#include "fl_secmem.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#define S_HEADER 16          /* the size, keeping the caller's region 16-aligned as sodium_malloc aligns it */

typedef struct {
    void *block;             /* what sodium_malloc returned */
    size_t n;                /* the caller's size */
} s_cached_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_cached_t s_cache[FL_SECMEM_CACHE_BLOCKS];
static size_t s_count, s_bytes;

void *
fl_secmem_alloc (size_t n)
{
    if (n > SIZE_MAX - S_HEADER)
        return NULL;
    void *block = NULL;
    pthread_mutex_lock (&s_lock);
    for (size_t i = s_count; i-- > 0;)
        if (s_cache[i].n == n) {
            block = s_cache[i].block;
            s_bytes -= n;
            s_cache[i] = s_cache[--s_count];
            break;
        }
    pthread_mutex_unlock (&s_lock);
    if (!block) {
        block = sodium_malloc (n + S_HEADER);
        if (!block)
            return NULL;
        memcpy (block, &n, sizeof n);
    }
    return (uint8_t *) block + S_HEADER;
}

void
fl_secmem_free (void *p)
{
    if (!p)
        return;
    void *block = (uint8_t *) p - S_HEADER;
    size_t n;
    memcpy (&n, block, sizeof n);
    sodium_memzero (p, n);
    pthread_mutex_lock (&s_lock);
    int kept = 0;
    if (s_count < FL_SECMEM_CACHE_BLOCKS && n <= FL_SECMEM_CACHE_BYTES - s_bytes) {
        s_cache[s_count].block = block;
        s_cache[s_count].n = n;
        s_count++;
        s_bytes += n;
        kept = 1;
    }
    pthread_mutex_unlock (&s_lock);
    if (!kept)
        sodium_free (block);
}

void
fl_secmem_trim (void)
{
    pthread_mutex_lock (&s_lock);
    while (s_count) {
        s_count--;
        sodium_free (s_cache[s_count].block);
    }
    s_bytes = 0;
    pthread_mutex_unlock (&s_lock);
}
