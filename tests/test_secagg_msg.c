/*  test_secagg_msg.c - the secure-aggregation messages' constructor,
    destructor and names (libfl/secagg/fl_secagg_msg.c): invariants M1-M2
    for every kind, from the side of a peer that sends counts over the
    limits (the decoder in fl_secagg_wire builds through fl_secagg_msg_new,
    so these are the counts an attacker controls). */
#include <sodium.h>

#include "fl_secagg.h"
#include "fl_test.h"

/*  The array and count the kind names, or NULL / 0 for a kind without one. */
static const void *
s_array (const fl_secagg_msg_t *m, size_t *count)
{
    switch (m->kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: *count = m->u.adverts.count; return m->u.adverts.items;
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY:   *count = m->u.shares.count; return m->u.shares.items;
        case FL_SECAGG_MSG_MASKED_INPUT:   *count = m->u.masked.count; return m->u.masked.values;
        case FL_SECAGG_MSG_SURVIVORS:      *count = m->u.survivors.count; return m->u.survivors.ids;
        case FL_SECAGG_MSG_SIGNATURE_LIST: *count = m->u.sigs.count; return m->u.sigs.items;
        case FL_SECAGG_MSG_UNMASK:         *count = m->u.unmask.count; return m->u.unmask.items;
        default:                           *count = 0; return NULL;
    }
}

static size_t
s_item (fl_secagg_msg_kind_t kind)
{
    switch (kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: return sizeof (fl_secagg_advert_t);
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY:   return sizeof (fl_secagg_ciphertext_t);
        case FL_SECAGG_MSG_MASKED_INPUT:
        case FL_SECAGG_MSG_SURVIVORS:      return sizeof (uint32_t);
        case FL_SECAGG_MSG_SIGNATURE_LIST: return sizeof (fl_secagg_signature_t);
        case FL_SECAGG_MSG_UNMASK:         return sizeof (fl_secagg_unmask_share_t);
        default:                           return 0;
    }
}

/*  M2: every kind, zero-filled arrays of the asked size, addressed to the
    server until the builder says otherwise. */
static void
test_every_kind (void)
{
    for (int k = FL_SECAGG_MSG_ADVERTISE; k < FL_SECAGG_MSG_KIND_MAX; k++) {
        fl_secagg_msg_t *m = fl_secagg_msg_new ((fl_secagg_msg_kind_t) k, 37);
        FL_CHECK (m != NULL);
        if (!m)
            continue;
        FL_CHECK ((int) m->kind == k);
        FL_CHECK (m->sender == FL_SECAGG_SERVER && m->receiver == FL_SECAGG_SERVER);
        size_t count = 0, item = s_item (m->kind);
        const uint8_t *a = s_array (m, &count);
        if (item) {
            FL_CHECK (a != NULL && count == 37);
            size_t nonzero = 0;
            for (size_t i = 0; a && i < 37 * item; i++)
                nonzero += a[i] != 0;
            FL_CHECK (nonzero == 0);
        }
        else
            FL_CHECK (a == NULL && count == 0);
        FL_CHECK (strcmp (fl_secagg_msg_kind_name (k), "?") != 0);
        fl_secagg_msg_destroy (&m);
        FL_CHECK (m == NULL);
        fl_secagg_msg_destroy (&m);                         /* safe twice */
    }
    /*  An empty list still has an array (never NULL with count 0). */
    fl_secagg_msg_t *m = fl_secagg_msg_new (FL_SECAGG_MSG_SURVIVORS, 0);
    FL_CHECK (m && m->u.survivors.ids != NULL && m->u.survivors.count == 0);
    fl_secagg_msg_destroy (&m);
    FL_CHECK (strcmp (fl_secagg_msg_kind_name (FL_SECAGG_MSG_ADVERTISE), "ADVERTISE") == 0);
    FL_CHECK (strcmp (fl_secagg_msg_kind_name (FL_SECAGG_MSG_ABORT), "ABORT") == 0);
    FL_CHECK (strcmp (fl_secagg_msg_kind_name (0), "?") == 0);
    FL_CHECK (strcmp (fl_secagg_msg_kind_name (FL_SECAGG_MSG_KIND_MAX), "?") == 0);
    FL_CHECK (strcmp (fl_secagg_msg_kind_name (-1), "?") == 0);
}

/*  M1 from the sender's side: a count one over the limit is refused before
    any allocation (a count of SIZE_MAX would otherwise overflow), at the
    limit it is accepted; unknown kinds are refused. */
static void
test_counts_over_limit_refused (void)
{
    for (int k = FL_SECAGG_MSG_ADVERTISE; k < FL_SECAGG_MSG_KIND_MAX; k++) {
        fl_secagg_msg_kind_t kind = (fl_secagg_msg_kind_t) k;
        if (!s_item (kind))
            continue;
        size_t limit = kind == FL_SECAGG_MSG_MASKED_INPUT ? FL_SECAGG_MAX_LENGTH : FL_SECAGG_MAX_CLIENTS;
        FL_CHECK (fl_secagg_msg_new (kind, limit + 1) == NULL);
        FL_CHECK (fl_secagg_msg_new (kind, SIZE_MAX) == NULL);
        if (kind != FL_SECAGG_MSG_MASKED_INPUT) {             /* 1 GiB for the masked input: not here */
            fl_secagg_msg_t *m = fl_secagg_msg_new (kind, limit);
            size_t count = 0;
            FL_CHECK (m != NULL && s_array (m, &count) != NULL && count == limit);
            fl_secagg_msg_destroy (&m);
        }
    }
    /*  Kinds without an array ignore the count, however large. */
    fl_secagg_msg_t *m = fl_secagg_msg_new (FL_SECAGG_MSG_ABORT, SIZE_MAX);
    FL_CHECK (m != NULL && m->u.abort_code == 0);
    fl_secagg_msg_destroy (&m);
    FL_CHECK (fl_secagg_msg_new ((fl_secagg_msg_kind_t) 0, 1) == NULL);
    FL_CHECK (fl_secagg_msg_new (FL_SECAGG_MSG_KIND_MAX, 1) == NULL);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    if (sodium_init () < 0)
        return 1;
    FL_RUN (test_every_kind);
    FL_RUN (test_counts_over_limit_refused);
    FL_TEST_DONE ();
}
