/*  fl_checkpoint.c - the run's resumable state as a checksummed container
    file, saved with write/fsync/rename and a previous-good fallback.

    The layout is documented in fl_checkpoint.h.  Two design points:

    - Decoding copies the input once into an 8-byte-aligned block and points
      every field into it, so a loaded checkpoint costs len bytes plus a
      small field table, and a hostile file cannot make us allocate more
      than its own size (which the file loader bounds before reading).

    - The checksum is verified before the fields are parsed, so corruption
      gets the precise reason "checksum mismatch"; the field parser does not
      rely on it (a checksum is not authentication) and is fuzzed on its own
      (fuzz/fuzz_checkpoint.c recomputes the checksum of fuzzed inputs).
*/
#include "fl_checkpoint.h"
#include "fl_atomic.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t s_magic[FL_CHECKPOINT_MAGICBYTES] = { 'F', 'L', 'C', 'K', 'P', 'T', '\r', '\n' };

/* A non-NULL, maximally aligned pointer for empty vectors. */
static const uint64_t s_empty[1] = { 0 };

typedef struct {
    char name[FL_CHECKPOINT_NAMEBYTES + 1];
    fl_checkpoint_type_t type;
    size_t bytes;           /* payload length */
    void *data;             /* 8-byte aligned; into self->blob unless owned */
    bool owned;             /* data was malloc'd by a put */
} s_field_t;

struct fl_checkpoint_t {
    uint8_t run_id[FL_CHECKPOINT_RUNIDBYTES];
    uint64_t round;
    s_field_t *fields;
    size_t nfields;
    size_t cap;
    size_t encoded;         /* encoded size so far (header + fields + checksum) */
    uint8_t *blob;          /* decoded copy of the input, or NULL */
};

/* ---- little helpers --------------------------------------------------- */

static size_t
s_pad8 (size_t n)
{
    return (n + 7) & ~(size_t) 7;
}

static void
s_put_le (uint8_t *p, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
s_get_le (const uint8_t *p, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++)
        v |= (uint64_t) p[i] << (8 * i);
    return v;
}

/*  Element size of a type's payload; scalars are one 8-byte element. */
static size_t
s_elem_size (fl_checkpoint_type_t type)
{
    switch (type) {
        case FL_CHECKPOINT_U64: case FL_CHECKPOINT_F64:
        case FL_CHECKPOINT_F64S: case FL_CHECKPOINT_U64S: return 8;
        case FL_CHECKPOINT_F32S: return 4;
        case FL_CHECKPOINT_BYTES: return 1;
    }
    return 0;
}

/*  Converts a payload between host order and little-endian in place (the
    same operation both ways); a no-op on little-endian hosts. */
static void
s_swap_payload (void *data, size_t bytes, size_t esize)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void) data; (void) bytes; (void) esize;
#else
    uint8_t *p = data;
    for (size_t i = 0; esize > 1 && i + esize <= bytes; i += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
#endif
}

static bool
s_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > FL_CHECKPOINT_NAMEBYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static size_t
s_field_bytes (size_t name_len, size_t payload)
{
    return FL_CHECKPOINT_FIELDHEADERBYTES + s_pad8 (name_len) + s_pad8 (payload);
}

static int
s_why (char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (why, cap, fmt, ap);
        va_end (ap);
    }
    return -1;
}

/* ---- object ------------------------------------------------------------ */

fl_checkpoint_t *
fl_checkpoint_new (const uint8_t run_id[FL_CHECKPOINT_RUNIDBYTES], uint64_t round)
{
    assert (run_id);
    fl_checkpoint_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    memcpy (self->run_id, run_id, FL_CHECKPOINT_RUNIDBYTES);
    self->round = round;
    self->encoded = FL_CHECKPOINT_MIN_BYTES;
    return self;
}

void
fl_checkpoint_destroy (fl_checkpoint_t **self_p)
{
    assert (self_p);
    fl_checkpoint_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nfields; i++)
        if (self->fields[i].owned)
            free (self->fields[i].data);
    free (self->fields);
    free (self->blob);
    free (self);
    *self_p = NULL;
}

const uint8_t *
fl_checkpoint_run_id (const fl_checkpoint_t *self)
{
    assert (self);
    return self->run_id;
}

uint64_t
fl_checkpoint_round (const fl_checkpoint_t *self)
{
    assert (self);
    return self->round;
}

static const s_field_t *
s_find (const fl_checkpoint_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfields; i++)
        if (strcmp (self->fields[i].name, name) == 0)
            return &self->fields[i];
    return NULL;
}

/*  Common body of every put: validates, copies `bytes` bytes of host-order
    data and records the field. */
static int
s_put (fl_checkpoint_t *self, const char *name, fl_checkpoint_type_t type,
       const void *data, size_t bytes)
{
    assert (self);
    assert (name);
    assert (data || bytes == 0);
    size_t name_len = strlen (name);
    if (!s_name_valid (name, name_len)) {
        zsys_error ("fl_checkpoint: invalid field name '%.*s' (1..%u of [A-Za-z0-9._-])",
                    (int) (name_len > 80 ? 80 : name_len), name, FL_CHECKPOINT_NAMEBYTES);
        return -1;
    }
    if (s_find (self, name)) {
        zsys_error ("fl_checkpoint: field '%s' put twice", name);
        return -1;
    }
    if (self->nfields >= FL_CHECKPOINT_MAX_FIELDS) {
        zsys_error ("fl_checkpoint: field '%s': more than %u fields", name, FL_CHECKPOINT_MAX_FIELDS);
        return -1;
    }
    if (bytes > FL_CHECKPOINT_MAX_BYTES
        || s_field_bytes (name_len, bytes) > FL_CHECKPOINT_MAX_BYTES - self->encoded) {
        zsys_error ("fl_checkpoint: field '%s' of %zu bytes makes the checkpoint larger than %zu bytes",
                    name, bytes, FL_CHECKPOINT_MAX_BYTES);
        return -1;
    }
    if (self->nfields == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        s_field_t *nf = realloc (self->fields, cap * sizeof *nf);
        if (!nf) {
            zsys_error ("fl_checkpoint: field '%s': out of memory", name);
            return -1;
        }
        self->fields = nf;
        self->cap = cap;
    }
    void *copy = (void *) s_empty;
    bool owned = false;
    if (bytes) {
        copy = malloc (bytes);      /* malloc is aligned for every element type */
        if (!copy) {
            zsys_error ("fl_checkpoint: field '%s': out of memory (%zu bytes)", name, bytes);
            return -1;
        }
        memcpy (copy, data, bytes);
        owned = true;
    }
    s_field_t *f = &self->fields[self->nfields++];
    memset (f, 0, sizeof *f);
    memcpy (f->name, name, name_len + 1);
    f->type = type;
    f->bytes = bytes;
    f->data = copy;
    f->owned = owned;
    self->encoded += s_field_bytes (name_len, bytes);
    return 0;
}

int
fl_checkpoint_put_u64 (fl_checkpoint_t *self, const char *name, uint64_t value)
{
    return s_put (self, name, FL_CHECKPOINT_U64, &value, sizeof value);
}

int
fl_checkpoint_put_f64 (fl_checkpoint_t *self, const char *name, double value)
{
    return s_put (self, name, FL_CHECKPOINT_F64, &value, sizeof value);
}

int
fl_checkpoint_put_bytes (fl_checkpoint_t *self, const char *name, const void *data, size_t len)
{
    return s_put (self, name, FL_CHECKPOINT_BYTES, data, len);
}

/*  Vector puts: n elements of esize bytes, refusing n * esize overflow. */
static int
s_put_vec (fl_checkpoint_t *self, const char *name, fl_checkpoint_type_t type,
           const void *v, size_t n, size_t esize)
{
    if (n > FL_CHECKPOINT_MAX_BYTES / esize) {
        zsys_error ("fl_checkpoint: field '%s' of %zu elements is too large", name, n);
        return -1;
    }
    return s_put (self, name, type, v, n * esize);
}

int
fl_checkpoint_put_f32s (fl_checkpoint_t *self, const char *name, const float *v, size_t n)
{
    return s_put_vec (self, name, FL_CHECKPOINT_F32S, v, n, sizeof (float));
}

int
fl_checkpoint_put_f64s (fl_checkpoint_t *self, const char *name, const double *v, size_t n)
{
    return s_put_vec (self, name, FL_CHECKPOINT_F64S, v, n, sizeof (double));
}

int
fl_checkpoint_put_u64s (fl_checkpoint_t *self, const char *name, const uint64_t *v, size_t n)
{
    return s_put_vec (self, name, FL_CHECKPOINT_U64S, v, n, sizeof (uint64_t));
}

size_t
fl_checkpoint_count (const fl_checkpoint_t *self)
{
    assert (self);
    return self->nfields;
}

const char *
fl_checkpoint_name (const fl_checkpoint_t *self, size_t i)
{
    assert (self);
    assert (i < self->nfields);
    return self->fields[i].name;
}

fl_checkpoint_type_t
fl_checkpoint_type (const fl_checkpoint_t *self, size_t i)
{
    assert (self);
    assert (i < self->nfields);
    return self->fields[i].type;
}

bool
fl_checkpoint_has (const fl_checkpoint_t *self, const char *name)
{
    assert (self);
    assert (name);
    return s_find (self, name) != NULL;
}

/*  The field `name` if it has `type`, else NULL. */
static const s_field_t *
s_get (const fl_checkpoint_t *self, const char *name, fl_checkpoint_type_t type)
{
    assert (self);
    assert (name);
    const s_field_t *f = s_find (self, name);
    return f && f->type == type ? f : NULL;
}

int
fl_checkpoint_get_u64 (const fl_checkpoint_t *self, const char *name, uint64_t *value)
{
    const s_field_t *f = s_get (self, name, FL_CHECKPOINT_U64);
    if (!f)
        return -1;
    memcpy (value, f->data, sizeof *value);
    return 0;
}

int
fl_checkpoint_get_f64 (const fl_checkpoint_t *self, const char *name, double *value)
{
    const s_field_t *f = s_get (self, name, FL_CHECKPOINT_F64);
    if (!f)
        return -1;
    memcpy (value, f->data, sizeof *value);
    return 0;
}

int
fl_checkpoint_get_bytes (const fl_checkpoint_t *self, const char *name,
                         const uint8_t **data, size_t *len)
{
    const s_field_t *f = s_get (self, name, FL_CHECKPOINT_BYTES);
    if (!f)
        return -1;
    *data = f->data;
    *len = f->bytes;
    return 0;
}

#define S_GET_VEC(fn, type, T)                                                \
    int fn (const fl_checkpoint_t *self, const char *name, const T **v, size_t *n) \
    {                                                                         \
        const s_field_t *f = s_get (self, name, type);                        \
        if (!f)                                                               \
            return -1;                                                        \
        *v = f->data;                                                         \
        *n = f->bytes / sizeof (T);                                           \
        return 0;                                                             \
    }

S_GET_VEC (fl_checkpoint_get_f32s, FL_CHECKPOINT_F32S, float)
S_GET_VEC (fl_checkpoint_get_f64s, FL_CHECKPOINT_F64S, double)
S_GET_VEC (fl_checkpoint_get_u64s, FL_CHECKPOINT_U64S, uint64_t)

int
fl_checkpoint_copy_f32s (const fl_checkpoint_t *self, const char *name, float *out, size_t n)
{
    const float *v;
    size_t got;
    if (fl_checkpoint_get_f32s (self, name, &v, &got) != 0 || got != n)
        return -1;
    if (n)
        memcpy (out, v, n * sizeof *out);
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

int
fl_checkpoint_encode (const fl_checkpoint_t *self, uint8_t **buf, size_t *len)
{
    assert (self);
    assert (buf && len);
    *buf = NULL;
    *len = 0;
    size_t total = self->encoded;       /* bounded by FL_CHECKPOINT_MAX_BYTES in s_put */
    uint8_t *out = calloc (1, total);   /* zeroed: reserved and padding bytes */
    if (!out) {
        zsys_error ("fl_checkpoint: out of memory encoding %zu bytes", total);
        return -1;
    }
    memcpy (out, s_magic, FL_CHECKPOINT_MAGICBYTES);
    s_put_le (out + 8, FL_CHECKPOINT_VERSION, 4);
    s_put_le (out + 12, self->nfields, 4);
    s_put_le (out + 16, total, 8);
    memcpy (out + 24, self->run_id, FL_CHECKPOINT_RUNIDBYTES);
    s_put_le (out + 40, self->round, 8);
    size_t pos = FL_CHECKPOINT_HEADERBYTES;
    for (size_t i = 0; i < self->nfields; i++) {
        const s_field_t *f = &self->fields[i];
        size_t name_len = strlen (f->name);
        out[pos] = (uint8_t) f->type;
        out[pos + 1] = (uint8_t) name_len;
        s_put_le (out + pos + 8, f->bytes, 8);
        pos += FL_CHECKPOINT_FIELDHEADERBYTES;
        memcpy (out + pos, f->name, name_len);
        pos += s_pad8 (name_len);
        if (f->bytes)
            memcpy (out + pos, f->data, f->bytes);
        s_swap_payload (out + pos, f->bytes, s_elem_size (f->type));
        pos += s_pad8 (f->bytes);
    }
    assert (pos + FL_CHECKPOINT_CHECKSUMBYTES == total);
    crypto_generichash (out + pos, FL_CHECKPOINT_CHECKSUMBYTES, out, pos, NULL, 0);
    *buf = out;
    *len = total;
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

static bool
s_all_zero (const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

fl_checkpoint_t *
fl_checkpoint_decode (const uint8_t *buf, size_t len, char *why, size_t why_cap)
{
    if (!buf || len < FL_CHECKPOINT_MIN_BYTES) {
        s_why (why, why_cap, "too short: %zu bytes, a checkpoint has at least %u", buf ? len : 0,
               (unsigned) FL_CHECKPOINT_MIN_BYTES);
        return NULL;
    }
    if (len > FL_CHECKPOINT_MAX_BYTES) {
        s_why (why, why_cap, "too large: %zu bytes, the limit is %zu", len, FL_CHECKPOINT_MAX_BYTES);
        return NULL;
    }
    if (memcmp (buf, s_magic, FL_CHECKPOINT_MAGICBYTES) != 0) {
        s_why (why, why_cap, "not a libfl checkpoint (bad magic)");
        return NULL;
    }
    uint64_t version = s_get_le (buf + 8, 4);
    if (version != FL_CHECKPOINT_VERSION) {
        s_why (why, why_cap, "format version %llu, this build reads version %u",
               (unsigned long long) version, FL_CHECKPOINT_VERSION);
        return NULL;
    }
    uint64_t declared = s_get_le (buf + 16, 8);
    if (declared > len) {
        s_why (why, why_cap, "truncated: %zu bytes of the %llu the header declares", len,
               (unsigned long long) declared);
        return NULL;
    }
    if (declared < len) {
        s_why (why, why_cap, "%zu trailing bytes after the %llu the header declares",
               len - (size_t) declared, (unsigned long long) declared);
        return NULL;
    }
    size_t end = len - FL_CHECKPOINT_CHECKSUMBYTES;
    uint8_t sum[FL_CHECKPOINT_CHECKSUMBYTES];
    crypto_generichash (sum, sizeof sum, buf, end, NULL, 0);
    if (sodium_memcmp (sum, buf + end, sizeof sum) != 0) {
        s_why (why, why_cap, "checksum mismatch (file corrupted)");
        return NULL;
    }
    uint64_t nfields = s_get_le (buf + 12, 4);
    /* Every field needs at least its header: bound the table by the bytes. */
    if (nfields > FL_CHECKPOINT_MAX_FIELDS
        || nfields > (end - FL_CHECKPOINT_HEADERBYTES) / FL_CHECKPOINT_FIELDHEADERBYTES) {
        s_why (why, why_cap, "%llu fields do not fit (limit %u, %zu bytes of fields)",
               (unsigned long long) nfields, FL_CHECKPOINT_MAX_FIELDS,
               end - (size_t) FL_CHECKPOINT_HEADERBYTES);
        return NULL;
    }

    fl_checkpoint_t *self = fl_checkpoint_new (buf + 24, s_get_le (buf + 40, 8));
    uint8_t *blob = self ? malloc (len) : NULL;      /* malloc: 8-byte aligned */
    s_field_t *fields = blob && nfields ? calloc (nfields, sizeof *fields) : NULL;
    if (!self || !blob || (nfields && !fields)) {
        s_why (why, why_cap, "out of memory");
        free (blob);
        free (fields);
        fl_checkpoint_destroy (&self);
        return NULL;
    }
    memcpy (blob, buf, len);
    self->blob = blob;
    self->fields = fields;
    self->cap = nfields;
    self->encoded = len;

    size_t pos = FL_CHECKPOINT_HEADERBYTES;
    for (size_t i = 0; i < nfields; i++) {
        if (end - pos < FL_CHECKPOINT_FIELDHEADERBYTES) {
            s_why (why, why_cap, "field %zu: header past the end of the fields", i);
            goto malformed;
        }
        const uint8_t *h = blob + pos;
        fl_checkpoint_type_t type = (fl_checkpoint_type_t) h[0];
        size_t name_len = h[1];
        uint64_t bytes = s_get_le (h + 8, 8);
        size_t esize = h[0] >= FL_CHECKPOINT_U64 && h[0] <= FL_CHECKPOINT_U64S ? s_elem_size (type) : 0;
        if (esize == 0) {
            s_why (why, why_cap, "field %zu: unknown type %u", i, h[0]);
            goto malformed;
        }
        if (!s_all_zero (h + 2, 6)) {
            s_why (why, why_cap, "field %zu: non-zero reserved bytes", i);
            goto malformed;
        }
        pos += FL_CHECKPOINT_FIELDHEADERBYTES;
        if (name_len == 0 || name_len > FL_CHECKPOINT_NAMEBYTES || s_pad8 (name_len) > end - pos) {
            s_why (why, why_cap, "field %zu: name of %zu bytes is empty, too long or past the end",
                   i, name_len);
            goto malformed;
        }
        const char *name = (const char *) blob + pos;
        if (!s_name_valid (name, name_len) || !s_all_zero (blob + pos + name_len,
                                                          s_pad8 (name_len) - name_len)) {
            s_why (why, why_cap, "field %zu: invalid name (allowed: [A-Za-z0-9._-]) or padding", i);
            goto malformed;
        }
        pos += s_pad8 (name_len);
        s_field_t *f = &fields[i];
        memcpy (f->name, name, name_len);
        f->name[name_len] = 0;
        for (size_t k = 0; k < i; k++)
            if (strcmp (fields[k].name, f->name) == 0) {
                s_why (why, why_cap, "field %zu: duplicate name '%s'", i, f->name);
                goto malformed;
            }
        if (bytes > end - pos || s_pad8 ((size_t) bytes) > end - pos) {
            s_why (why, why_cap, "field '%s': payload of %llu bytes past the end", f->name,
                   (unsigned long long) bytes);
            goto malformed;
        }
        bool scalar = type == FL_CHECKPOINT_U64 || type == FL_CHECKPOINT_F64;
        if ((scalar && bytes != 8) || bytes % esize != 0) {
            s_why (why, why_cap, "field '%s': payload of %llu bytes does not fit type %u", f->name,
                   (unsigned long long) bytes, (unsigned) type);
            goto malformed;
        }
        if (!s_all_zero (blob + pos + bytes, s_pad8 ((size_t) bytes) - (size_t) bytes)) {
            s_why (why, why_cap, "field '%s': non-zero padding", f->name);
            goto malformed;
        }
        f->type = type;
        f->bytes = (size_t) bytes;
        f->data = bytes ? (void *) (blob + pos) : (void *) s_empty;
        s_swap_payload (f->data, f->bytes, esize);
        self->nfields = i + 1;
        pos += s_pad8 ((size_t) bytes);
    }
    if (pos != end) {
        s_why (why, why_cap, "%zu bytes after the last field", end - pos);
        goto malformed;
    }
    return self;

malformed:
    fl_checkpoint_destroy (&self);
    return NULL;
}

/* ---- files ------------------------------------------------------------- */

/*  Reads and decodes path.  Returns the checkpoint, or NULL with the reason
    in why; *missing is set when the file does not exist.  Does not log. */
static fl_checkpoint_t *
s_load (const char *path, bool *missing, char *why, size_t why_cap)
{
    *missing = false;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT;
        s_why (why, why_cap, "cannot open: %s", strerror (errno));
        return NULL;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
        s_why (why, why_cap, "not a regular file");
        close (fd);
        return NULL;
    }
    if ((uint64_t) st.st_size > FL_CHECKPOINT_MAX_BYTES) {
        s_why (why, why_cap, "too large: %lld bytes, the limit is %zu", (long long) st.st_size,
               FL_CHECKPOINT_MAX_BYTES);
        close (fd);
        return NULL;
    }
    size_t size = (size_t) st.st_size;
    uint8_t *buf = malloc (size ? size : 1);
    if (!buf) {
        s_why (why, why_cap, "out of memory (%zu bytes)", size);
        close (fd);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read (fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s_why (why, why_cap, "read error: %s", strerror (errno));
            free (buf);
            close (fd);
            return NULL;
        }
        if (r == 0)
            break;          /* shrank while we read: decode says "truncated" */
        got += (size_t) r;
    }
    close (fd);
    fl_checkpoint_t *self = fl_checkpoint_decode (buf, got, why, why_cap);
    free (buf);
    return self;
}

fl_checkpoint_t *
fl_checkpoint_load_file (const char *path, char *why, size_t why_cap)
{
    assert (path);
    char reason[FL_CHECKPOINT_WHYBYTES];
    bool missing;
    fl_checkpoint_t *self = s_load (path, &missing, reason, sizeof reason);
    if (!self) {
        zsys_error ("checkpoint %s: %s", path, reason);
        s_why (why, why_cap, "%s", reason);
    }
    return self;
}

static int
s_check_dir (const char *dir)
{
    struct stat st;
    if (stat (dir, &st) != 0) {
        zsys_error ("checkpoint directory %s: %s", dir, strerror (errno));
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        zsys_error ("checkpoint directory %s: not a directory", dir);
        return -1;
    }
    return 0;
}

static int
s_path (char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf (out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t) n >= cap) {
        zsys_error ("checkpoint directory %s: path too long", dir);
        return -1;
    }
    return 0;
}

/*  Makes the directory's entries (renames) durable. */
static int
s_fsync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync (fd) != 0) {
        zsys_error ("checkpoint directory %s: fsync: %s", dir, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    close (fd);
    return 0;
}

int
fl_checkpoint_save_dir (const fl_checkpoint_t *self, const char *dir)
{
    assert (self);
    assert (dir);
    char latest[PATH_MAX], prev[PATH_MAX], tmp[PATH_MAX], prev_tmp[PATH_MAX];
    if (s_check_dir (dir) != 0 || s_path (latest, sizeof latest, dir, FL_CHECKPOINT_FILE) != 0
        || s_path (prev, sizeof prev, dir, FL_CHECKPOINT_PREV_FILE) != 0
        || s_path (tmp, sizeof tmp, dir, FL_CHECKPOINT_TMP_FILE) != 0
        || s_path (prev_tmp, sizeof prev_tmp, dir, FL_CHECKPOINT_PREV_TMP_FILE) != 0)
        return -1;
    uint8_t *buf;
    size_t len;
    if (fl_checkpoint_encode (self, &buf, &len) != 0)
        return -1;
    /* A leftover from a save that crashed before its rename. */
    if (unlink (tmp) == 0)
        zsys_info ("checkpoint %s: removed a stale temporary file", tmp);
    else if (errno != ENOENT) {
        zsys_error ("checkpoint %s: cannot remove stale temporary file: %s", tmp, strerror (errno));
        free (buf);
        return -1;
    }

    /* Keep the current checkpoint as the previous one, if it is good: a
       second name for the same file (link, then rename over the previous),
       so the latest stays in place until the new one replaces it. */
    char why[FL_CHECKPOINT_WHYBYTES];
    bool missing;
    fl_checkpoint_t *old = s_load (latest, &missing, why, sizeof why);
    if (old) {
        fl_checkpoint_destroy (&old);
        if (unlink (prev_tmp) != 0 && errno != ENOENT) {
            zsys_error ("checkpoint %s: cannot remove stale temporary file: %s", prev_tmp, strerror (errno));
            free (buf);
            return -1;
        }
        if (link (latest, prev_tmp) != 0 || rename (prev_tmp, prev) != 0 || s_fsync_dir (dir) != 0) {
            zsys_error ("checkpoint %s: cannot keep as %s: %s", latest, prev, strerror (errno));
            unlink (prev_tmp);
            free (buf);
            return -1;
        }
    }
    else if (!missing)
        zsys_warning ("checkpoint %s: %s; replacing it without keeping it as %s",
                      latest, why, FL_CHECKPOINT_PREV_FILE);
    /* The one write-fsync-rename (core/fl_atomic): via FL_CHECKPOINT_TMP_FILE. */
    int rc = fl_atomic_write (latest, buf, len, 0600);
    free (buf);
    if (rc != 0) {
        zsys_error ("checkpoint %s: cannot write: %s", latest, strerror (errno));
        return -1;
    }
    return s_fsync_dir (dir);
}

int
fl_checkpoint_load_dir (const char *dir, fl_checkpoint_t **out, bool *from_prev)
{
    assert (dir);
    assert (out);
    *out = NULL;
    if (from_prev)
        *from_prev = false;
    char latest[PATH_MAX], prev[PATH_MAX];
    if (s_check_dir (dir) != 0 || s_path (latest, sizeof latest, dir, FL_CHECKPOINT_FILE) != 0
        || s_path (prev, sizeof prev, dir, FL_CHECKPOINT_PREV_FILE) != 0)
        return -1;
    char why[FL_CHECKPOINT_WHYBYTES], why_prev[FL_CHECKPOINT_WHYBYTES];
    bool missing, missing_prev;
    *out = s_load (latest, &missing, why, sizeof why);
    if (*out)
        return 0;
    if (!missing)
        zsys_warning ("checkpoint %s: %s; trying the previous checkpoint %s", latest, why, prev);
    *out = s_load (prev, &missing_prev, why_prev, sizeof why_prev);
    if (*out) {
        zsys_warning ("checkpoint %s: resuming from the previous checkpoint (round %llu) because %s %s",
                      prev, (unsigned long long) (*out)->round, latest,
                      missing ? "is missing" : "is damaged");
        if (from_prev)
            *from_prev = true;
        return 0;
    }
    if (missing && missing_prev)
        return 1;
    if (!missing)
        zsys_error ("checkpoint %s: %s", latest, why);
    if (!missing_prev)
        zsys_error ("checkpoint %s: %s", prev, why_prev);
    zsys_error ("checkpoint directory %s: no usable checkpoint", dir);
    return -1;
}
