/*  fl_partition - IID, Dirichlet label-skew and by-column partitions of a data
    set across simulated clients (schemes and sources in fl_partition.h).

    Every scheme first computes assign[row] = client, then one counting sort
    turns that into per-client row lists in ascending row order, so the
    client's rows keep the file order and every row appears exactly once by
    construction.
*/
#include "fl_partition.h"
#include "fl_dataset_priv.h"
#include "fl_rng.h"

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fl_partition_t {
    fl_partition_kind_t kind;
    size_t n_clients;
    size_t k;               /* classes of the data set */
    uint32_t *rows;         /* (n) client 0's rows, then client 1's, ... */
    size_t *offset;         /* (N + 1) client i is rows[offset[i] .. offset[i+1]) */
    size_t *label_counts;   /* (N, K) */
    double *values;         /* (N) COLUMN site values, else NULL */
    size_t draws;
};

fl_partition_kind_t
fl_partition_kind_parse (const char *name)
{
    if (!name)
        return FL_PARTITION_UNKNOWN;
    if (strcmp (name, "iid") == 0)
        return FL_PARTITION_IID;
    if (strcmp (name, "dirichlet") == 0)
        return FL_PARTITION_DIRICHLET;
    if (strcmp (name, "column") == 0)
        return FL_PARTITION_COLUMN;
    return FL_PARTITION_UNKNOWN;
}

const char *
fl_partition_kind_str (fl_partition_kind_t kind)
{
    switch (kind) {
    case FL_PARTITION_IID: return "iid";
    case FL_PARTITION_DIRICHLET: return "dirichlet";
    case FL_PARTITION_COLUMN: return "column";
    default: return "unknown";
    }
}

static void
s_iid (const fl_dataset_t *ds, size_t N, fl_rng_t *rng, uint32_t *assign, uint32_t *perm)
{
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = (uint32_t) i;
    fl_rng_shuffle_u32 (rng, perm, ds->n);
    /* First n % N clients get one extra row. */
    size_t base = ds->n / N, extra = ds->n % N, pos = 0;
    for (size_t c = 0; c < N; c++) {
        size_t size = base + (c < extra);
        for (size_t i = 0; i < size; i++)
            assign[perm[pos++]] = (uint32_t) c;
    }
}

/*  One Dirichlet draw into assign/sizes.  by_class holds the rows grouped by
    class (class_off[c] .. class_off[c+1]); perm is scratch of n. */
static void
s_dirichlet_draw (const fl_dataset_t *ds, size_t N, double alpha, fl_rng_t *rng,
                  const uint32_t *by_class, const size_t *class_off, uint32_t *perm, double *p,
                  uint32_t *assign, size_t *sizes)
{
    memset (sizes, 0, N * sizeof (size_t));
    for (size_t c = 0; c < ds->k; c++) {
        size_t m = class_off[c + 1] - class_off[c];
        if (m == 0)
            continue;
        memcpy (perm, by_class + class_off[c], m * sizeof (uint32_t));
        fl_rng_shuffle_u32 (rng, perm, m);
        double total = 0;
        for (size_t i = 0; i < N; i++)
            total += p[i] = fl_rng_gamma (rng, alpha);
        if (!(total > 0)) {
            /* Every gamma variate underflowed (alpha tiny): the alpha -> 0
               limit, the whole class to one client. */
            memset (p, 0, N * sizeof (double));
            p[fl_rng_uniform (rng, N)] = total = 1;
        }
        double cum = 0;
        size_t start = 0;
        for (size_t i = 0; i < N; i++) {
            cum += p[i];
            size_t end = i + 1 == N ? m : (size_t) floor (cum / total * (double) m + 0.5);
            if (end > m)
                end = m;
            if (end < start)
                end = start;
            for (size_t r = start; r < end; r++)
                assign[perm[r]] = (uint32_t) i;
            sizes[i] += end - start;
            start = end;
        }
    }
}

/*  Top-up rule: while client i has fewer than min_rows, move a random row of
    the currently largest client to it. */
static void
s_top_up (size_t n, size_t N, size_t min_rows, fl_rng_t *rng, uint32_t *assign, size_t *sizes)
{
    for (size_t i = 0; i < N; i++)
        while (sizes[i] < min_rows) {
            size_t big = 0;
            for (size_t c = 1; c < N; c++)
                if (sizes[c] > sizes[big])
                    big = c;
            size_t pick = (size_t) fl_rng_uniform (rng, sizes[big]);
            for (size_t r = 0; r < n; r++)
                if (assign[r] == big && pick-- == 0) {
                    assign[r] = (uint32_t) i;
                    break;
                }
            sizes[big]--;
            sizes[i]++;
        }
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static int
s_column (const fl_dataset_t *ds, size_t N, const char *column, uint32_t *assign,
          double **values_out)
{
    long j = fl_dataset_feature_index (ds, column);
    if (j < 0) {
        zsys_error ("fl_partition: no feature called '%s' to partition by", column ? column : "(null)");
        return -1;
    }
    double *v = (double *) malloc (ds->n * sizeof (double));
    if (!v)
        return -1;
    for (size_t i = 0; i < ds->n; i++)
        v[i] = ds->x[i * ds->d + (size_t) j];
    qsort (v, ds->n, sizeof (double), s_cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (u == 0 || v[i] != v[u - 1])
            v[u++] = v[i];
    if (u != N) {
        zsys_error ("fl_partition: column '%s' has %zu distinct values but there are %zu clients; "
                    "a by-column partition needs exactly one value per client",
                    column, u, N);
        free (v);
        return -1;
    }
    for (size_t i = 0; i < ds->n; i++) {
        double x = ds->x[i * ds->d + (size_t) j];
        size_t lo = 0, hi = u;          /* binary search; x is one of v[] */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (v[mid] <= x)
                lo = mid;
            else
                hi = mid;
        }
        assign[i] = (uint32_t) lo;
    }
    *values_out = v;
    return 0;
}

fl_partition_t *
fl_partition_new_opts (const fl_dataset_t *ds, fl_partition_kind_t kind, size_t n_clients,
                       double alpha, const char *column, uint64_t seed,
                       const fl_partition_options_t *opts)
{
    assert (ds);
    const size_t n = ds->n, N = n_clients;
    if (N == 0 || N > FL_PARTITION_MAX_CLIENTS || N > n) {
        zsys_error ("fl_partition: %zu clients for %zu rows (need 1..min(%u, rows))", N, n,
                    FL_PARTITION_MAX_CLIENTS);
        return NULL;
    }
    if (kind != FL_PARTITION_IID && kind != FL_PARTITION_DIRICHLET && kind != FL_PARTITION_COLUMN) {
        zsys_error ("fl_partition: unknown partition kind %d", (int) kind);
        return NULL;
    }
    size_t min_rows = opts && opts->min_rows ? opts->min_rows
                                            : (n / N < FL_PARTITION_MIN_ROWS ? n / N
                                                                             : FL_PARTITION_MIN_ROWS);
    if (kind == FL_PARTITION_DIRICHLET) {
        if (!(alpha > 0) || !isfinite (alpha)) {
            zsys_error ("fl_partition: Dirichlet alpha %g must be finite and > 0", alpha);
            return NULL;
        }
        if (min_rows > n / N) {
            zsys_error ("fl_partition: %zu clients x %zu min rows exceeds %zu rows", N, min_rows, n);
            return NULL;
        }
    }
    fl_partition_t *self = (fl_partition_t *) calloc (1, sizeof *self);
    uint32_t *assign = (uint32_t *) malloc (n * sizeof (uint32_t));
    uint32_t *perm = (uint32_t *) malloc (n * sizeof (uint32_t));
    uint32_t *by_class = NULL;
    size_t *class_off = NULL, *sizes = (size_t *) calloc (N, sizeof (size_t));
    double *p = (double *) calloc (N, sizeof (double));
    fl_rng_t *rng = fl_rng_new_u64 (seed, FL_PARTITION_STREAM);
    int ok = 0;
    if (!self || !assign || !perm || !sizes || !p || !rng)
        goto done;
    self->kind = kind;
    self->n_clients = N;
    self->k = ds->k;

    if (kind == FL_PARTITION_IID)
        s_iid (ds, N, rng, assign, perm);
    else if (kind == FL_PARTITION_COLUMN) {
        if (s_column (ds, N, column, assign, &self->values))
            goto done;
    }
    else {
        by_class = (uint32_t *) malloc (n * sizeof (uint32_t));
        class_off = (size_t *) calloc (ds->k + 1, sizeof (size_t));
        if (!by_class || !class_off)
            goto done;
        for (size_t i = 0; i < n; i++)
            class_off[ds->y[i] + 1]++;
        for (size_t c = 0; c < ds->k; c++)
            class_off[c + 1] += class_off[c];
        for (size_t c = 0, o = 0; c < ds->k; c++)
            for (size_t i = 0; i < n; i++)
                if ((size_t) ds->y[i] == c)
                    by_class[o++] = (uint32_t) i;
        for (self->draws = 1;; self->draws++) {
            s_dirichlet_draw (ds, N, alpha, rng, by_class, class_off, perm, p, assign, sizes);
            size_t smallest = sizes[0];
            for (size_t i = 1; i < N; i++)
                smallest = sizes[i] < smallest ? sizes[i] : smallest;
            if (smallest >= min_rows)
                break;
            if (self->draws == FL_PARTITION_MAX_DRAWS) {
                s_top_up (n, N, min_rows, rng, assign, sizes);
                self->draws++;
                break;
            }
        }
    }

    /* Counting sort by client: stable, so each list is in row order. */
    self->rows = (uint32_t *) malloc ((n ? n : 1) * sizeof (uint32_t));
    self->offset = (size_t *) calloc (N + 1, sizeof (size_t));
    self->label_counts = (size_t *) calloc (N * (ds->k ? ds->k : 1), sizeof (size_t));
    if (!self->rows || !self->offset || !self->label_counts)
        goto done;
    for (size_t i = 0; i < n; i++) {
        self->offset[assign[i] + 1]++;
        self->label_counts[assign[i] * ds->k + (size_t) ds->y[i]]++;
    }
    for (size_t c = 0; c < N; c++)
        self->offset[c + 1] += self->offset[c];
    memset (sizes, 0, N * sizeof (size_t));
    for (size_t i = 0; i < n; i++)
        self->rows[self->offset[assign[i]] + sizes[assign[i]]++] = (uint32_t) i;
    ok = 1;
done:
    if (!ok && self && rng)
        zsys_error ("fl_partition: %s partition of %zu rows over %zu clients failed",
                    fl_partition_kind_str (kind), n, N);
    else if (!ok)
        zsys_error ("fl_partition: out of memory");
    if (!ok)
        fl_partition_destroy (&self);
    fl_rng_destroy (&rng);
    free (assign);
    free (perm);
    free (by_class);
    free (class_off);
    free (sizes);
    free (p);
    return self;
}

fl_partition_t *
fl_partition_new (const fl_dataset_t *ds, fl_partition_kind_t kind, size_t n_clients,
                  double alpha, const char *column, uint64_t seed)
{
    return fl_partition_new_opts (ds, kind, n_clients, alpha, column, seed, NULL);
}

void
fl_partition_destroy (fl_partition_t **self_p)
{
    assert (self_p);
    fl_partition_t *self = *self_p;
    if (!self)
        return;
    free (self->rows);
    free (self->offset);
    free (self->label_counts);
    free (self->values);
    free (self);
    *self_p = NULL;
}

size_t
fl_partition_clients (const fl_partition_t *self)
{
    assert (self);
    return self->n_clients;
}

size_t
fl_partition_size (const fl_partition_t *self, size_t i)
{
    assert (self && i < self->n_clients);
    return self->offset[i + 1] - self->offset[i];
}

const uint32_t *
fl_partition_rows (const fl_partition_t *self, size_t i)
{
    assert (self && i < self->n_clients);
    return self->rows + self->offset[i];
}

size_t
fl_partition_label_count (const fl_partition_t *self, size_t i, size_t c)
{
    assert (self && i < self->n_clients);
    return c < self->k ? self->label_counts[i * self->k + c] : 0;
}

double
fl_partition_column_value (const fl_partition_t *self, size_t i)
{
    assert (self && i < self->n_clients);
    return self->values ? self->values[i] : NAN;
}

size_t
fl_partition_redraws (const fl_partition_t *self)
{
    assert (self);
    return self->draws;
}

fl_dataset_t *
fl_dataset_shard_opts (const fl_dataset_t *full, fl_partition_kind_t kind, size_t n_clients,
                       size_t index, double alpha, const char *column, uint64_t seed,
                       const fl_partition_options_t *opts)
{
    assert (full);
    if (index >= n_clients) {
        zsys_error ("fl_dataset_shard: client index %zu not below %zu clients", index, n_clients);
        return NULL;
    }
    fl_partition_t *part = fl_partition_new_opts (full, kind, n_clients, alpha, column, seed, opts);
    if (!part)
        return NULL;
    fl_dataset_t *shard = fl_dataset_subset (full, fl_partition_rows (part, index),
                                             fl_partition_size (part, index));
    fl_partition_destroy (&part);
    bool drop = opts ? opts->drop_column : true;
    if (shard && kind == FL_PARTITION_COLUMN && drop) {
        fl_dataset_t *dropped = fl_dataset_drop_feature (shard, column);
        fl_dataset_destroy (&shard);
        shard = dropped;
    }
    return shard;
}

fl_dataset_t *
fl_dataset_shard (const fl_dataset_t *full, fl_partition_kind_t kind, size_t n_clients,
                  size_t index, double alpha, const char *column, uint64_t seed)
{
    return fl_dataset_shard_opts (full, kind, n_clients, index, alpha, column, seed, NULL);
}
