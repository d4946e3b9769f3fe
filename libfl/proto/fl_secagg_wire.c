/*  fl_secagg_wire.c - fl_secagg_msg_t <-> SECAGG wire messages (see header). */
#include "fl_secagg_wire.h"

#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Which payload key each kind carries. */
typedef enum { S_NONE, S_RECS, S_VALS, S_IDS, S_SIG, S_CODE, S_ADVERT } s_payload_t;

static s_payload_t
s_payload (int kind, size_t *rec_bytes)
{
    *rec_bytes = 0;
    switch (kind) {
    case FL_SECAGG_MSG_ADVERTISE: *rec_bytes = FL_SECAGG_WIRE_ADVERTBYTES; return S_ADVERT;
    case FL_SECAGG_MSG_ADVERTISE_LIST: *rec_bytes = FL_SECAGG_WIRE_ADVERTBYTES; return S_RECS;
    case FL_SECAGG_MSG_SHARES:
    case FL_SECAGG_MSG_SHARES_RELAY: *rec_bytes = FL_SECAGG_WIRE_CIPHERBYTES; return S_RECS;
    case FL_SECAGG_MSG_MASKED_INPUT: return S_VALS;
    case FL_SECAGG_MSG_SURVIVORS: return S_IDS;
    case FL_SECAGG_MSG_CONSISTENCY: return S_SIG;
    case FL_SECAGG_MSG_SIGNATURE_LIST: *rec_bytes = FL_SECAGG_WIRE_SIGRECBYTES; return S_RECS;
    case FL_SECAGG_MSG_UNMASK: *rec_bytes = FL_SECAGG_WIRE_SHAREBYTES; return S_RECS;
    case FL_SECAGG_MSG_ABORT: return S_CODE;
    default: return S_NONE;
    }
}

static void
s_pack_advert (uint8_t *r, const fl_secagg_advert_t *a)
{
    s_put32 (r, a->index);
    memcpy (r + 4, a->c_pk, 32);
    memcpy (r + 36, a->s_pk, 32);
    memcpy (r + 68, a->sig, 64);
}

static void
s_unpack_advert (fl_secagg_advert_t *a, const uint8_t *r)
{
    a->index = s_get32 (r);
    memcpy (a->c_pk, r + 4, 32);
    memcpy (a->s_pk, r + 36, 32);
    memcpy (a->sig, r + 68, 64);
}

static size_t
s_count (const fl_secagg_msg_t *msg)
{
    switch (msg->kind) {
    case FL_SECAGG_MSG_ADVERTISE_LIST: return msg->u.adverts.count;
    case FL_SECAGG_MSG_SHARES:
    case FL_SECAGG_MSG_SHARES_RELAY: return msg->u.shares.count;
    case FL_SECAGG_MSG_SIGNATURE_LIST: return msg->u.sigs.count;
    case FL_SECAGG_MSG_UNMASK: return msg->u.unmask.count;
    default: return 0;
    }
}

static void
s_pack_record (const fl_secagg_msg_t *msg, size_t i, uint8_t *r)
{
    switch (msg->kind) {
    case FL_SECAGG_MSG_ADVERTISE_LIST: s_pack_advert (r, &msg->u.adverts.items[i]); break;
    case FL_SECAGG_MSG_SHARES:
    case FL_SECAGG_MSG_SHARES_RELAY: {
        const fl_secagg_ciphertext_t *c = &msg->u.shares.items[i];
        s_put32 (r, c->sender);
        s_put32 (r + 4, c->receiver);
        memcpy (r + 8, c->ct, FL_SECAGG_CIPHERTEXTBYTES);
        break;
    }
    case FL_SECAGG_MSG_SIGNATURE_LIST:
        s_put32 (r, msg->u.sigs.items[i].index);
        memcpy (r + 4, msg->u.sigs.items[i].sig, 64);
        break;
    case FL_SECAGG_MSG_UNMASK: {
        const fl_secagg_unmask_share_t *s = &msg->u.unmask.items[i];
        s_put32 (r, s->owner);
        s_put32 (r + 4, s->kind);
        memcpy (r + 8, s->value, FL_SECAGG_SHAREBYTES);
        break;
    }
    default: break;
    }
}

static void
s_unpack_record (fl_secagg_msg_t *msg, size_t i, const uint8_t *r)
{
    switch (msg->kind) {
    case FL_SECAGG_MSG_ADVERTISE_LIST: s_unpack_advert (&msg->u.adverts.items[i], r); break;
    case FL_SECAGG_MSG_SHARES:
    case FL_SECAGG_MSG_SHARES_RELAY: {
        fl_secagg_ciphertext_t *c = &msg->u.shares.items[i];
        c->sender = s_get32 (r);
        c->receiver = s_get32 (r + 4);
        memcpy (c->ct, r + 8, FL_SECAGG_CIPHERTEXTBYTES);
        break;
    }
    case FL_SECAGG_MSG_SIGNATURE_LIST:
        msg->u.sigs.items[i].index = s_get32 (r);
        memcpy (msg->u.sigs.items[i].sig, r + 4, 64);
        break;
    case FL_SECAGG_MSG_UNMASK: {
        fl_secagg_unmask_share_t *s = &msg->u.unmask.items[i];
        s->owner = s_get32 (r);
        s->kind = s_get32 (r + 4);
        memcpy (s->value, r + 8, FL_SECAGG_SHAREBYTES);
        break;
    }
    default: break;
    }
}

int
fl_secagg_msg_to_wire (const fl_secagg_msg_t *msg, const uint8_t run_id[FL_WIRE_RUNIDBYTES], uint64_t round,
                       uint32_t bucket, uint8_t **buf, size_t *len)
{
    size_t rec = 0;
    s_payload_t pl = s_payload (msg->kind, &rec);
    if (pl == S_NONE)
        return -1;
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_SECAGG, run_id, round);
    fl_wire_put_u64 (w, FL_K_BUCKET, bucket);
    fl_wire_put_u64 (w, FL_K_KIND, (uint64_t) msg->kind);
    fl_wire_put_u64 (w, FL_K_SENDER, msg->sender);
    fl_wire_put_u64 (w, FL_K_RECEIVER, msg->receiver);
    uint8_t *block = NULL;
    const uint8_t **items = NULL;
    size_t *lens = NULL;
    int rc = 0;
    switch (pl) {
    case S_ADVERT: {
        uint8_t r[FL_SECAGG_WIRE_ADVERTBYTES];
        const uint8_t *one = r;
        size_t one_len = sizeof r;
        s_pack_advert (r, &msg->u.advert);
        rc = fl_wire_put_bin_list (w, FL_K_RECS, &one, &one_len, 1);
        break;
    }
    case S_RECS: {
        size_t n = s_count (msg);
        block = (uint8_t *) malloc ((n ? n : 1) * rec);
        items = (const uint8_t **) malloc ((n ? n : 1) * sizeof *items);
        lens = (size_t *) malloc ((n ? n : 1) * sizeof *lens);
        if (!block || !items || !lens) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            s_pack_record (msg, i, block + i * rec);
            items[i] = block + i * rec;
            lens[i] = rec;
        }
        rc = fl_wire_put_bin_list (w, FL_K_RECS, items, lens, n);
        break;
    }
    case S_VALS: rc = fl_wire_put_u32s (w, FL_K_VALS, msg->u.masked.values, msg->u.masked.count); break;
    case S_IDS: rc = fl_wire_put_u32_list (w, FL_K_IDS, msg->u.survivors.ids, msg->u.survivors.count); break;
    case S_SIG: rc = fl_wire_put_bin (w, FL_K_SIG, msg->u.sig, FL_SECAGG_SIGBYTES); break;
    case S_CODE: rc = fl_wire_put_u64 (w, FL_K_CODE, msg->u.abort_code); break;
    case S_NONE: break;
    }
    if (block) {
        /* unmasking shares are secrets of other clients: wipe the copy */
        sodium_memzero (block, s_count (msg) * rec);
    }
    free (block);
    free (items);
    free (lens);
    if (rc != 0) {
        fl_wire_writer_destroy (&w);
        return -1;
    }
    return fl_wire_writer_finish (&w, buf, len);
}

static int
s_has (const fl_wire_msg_t *m, const char *key)
{
    return fl_wire_has (m, key) ? 1 : 0;
}

fl_secagg_msg_t *
fl_secagg_msg_from_wire (const fl_wire_msg_t *m, uint32_t *bucket, char *why, size_t cap)
{
    uint64_t b = 0, kind = 0, sender = 0, receiver = 0;
    if (fl_wire_type (m) != FL_WIRE_SECAGG || fl_wire_get_u64 (m, FL_K_BUCKET, &b) != 0
        || fl_wire_get_u64 (m, FL_K_KIND, &kind) != 0 || fl_wire_get_u64 (m, FL_K_SENDER, &sender) != 0
        || fl_wire_get_u64 (m, FL_K_RECEIVER, &receiver) != 0) {
        snprintf (why, cap, "not a secure-aggregation message");
        return NULL;
    }
    if (b > UINT32_MAX || (sender >= FL_SECAGG_MAX_CLIENTS && sender != FL_SECAGG_SERVER)
        || (receiver >= FL_SECAGG_MAX_CLIENTS && receiver != FL_SECAGG_SERVER)) {
        snprintf (why, cap, "bucket, sender or receiver out of range");
        return NULL;
    }
    size_t rec = 0;
    s_payload_t pl = kind < FL_SECAGG_MSG_KIND_MAX ? s_payload ((int) kind, &rec) : S_NONE;
    if (pl == S_NONE) {
        snprintf (why, cap, "unknown secure-aggregation message kind %llu", (unsigned long long) kind);
        return NULL;
    }
    /* exactly the payload key of this kind, no other */
    int want_recs = pl == S_RECS || pl == S_ADVERT, want_vals = pl == S_VALS, want_ids = pl == S_IDS,
        want_sig = pl == S_SIG, want_code = pl == S_CODE;
    if (s_has (m, "recs") != want_recs || s_has (m, "vals") != want_vals || s_has (m, "ids") != want_ids
        || s_has (m, "sig") != want_sig || s_has (m, "code") != want_code) {
        snprintf (why, cap, "%s: wrong payload keys", fl_secagg_msg_kind_name ((int) kind));
        return NULL;
    }
    size_t count = 0;
    const uint32_t *v32 = NULL;
    if (want_recs) {
        count = fl_wire_bin_list_len (m, FL_K_RECS);
        if ((pl == S_ADVERT && count != 1) || count > FL_SECAGG_MAX_CLIENTS) {
            snprintf (why, cap, "%s: %zu records", fl_secagg_msg_kind_name ((int) kind), count);
            return NULL;
        }
        for (size_t i = 0; i < count; i++) {
            const uint8_t *d;
            size_t l;
            if (fl_wire_get_bin_list_item (m, FL_K_RECS, i, &d, &l) != 0 || l != rec) {
                snprintf (why, cap, "%s: record %zu is not %zu bytes", fl_secagg_msg_kind_name ((int) kind), i, rec);
                return NULL;
            }
        }
    }
    else if (want_vals) {
        if (fl_wire_get_u32s (m, FL_K_VALS, &v32, &count) != 0 || count == 0 || count > FL_SECAGG_MAX_LENGTH) {
            snprintf (why, cap, "MASKED_INPUT: bad vector");
            return NULL;
        }
    }
    else if (want_ids) {
        if (fl_wire_get_u32_list (m, FL_K_IDS, &v32, &count) != 0 || count > FL_SECAGG_MAX_CLIENTS) {
            snprintf (why, cap, "SURVIVORS: bad list");
            return NULL;
        }
    }
    fl_secagg_msg_t *msg = fl_secagg_msg_new ((fl_secagg_msg_kind_t) kind, pl == S_ADVERT ? 0 : count);
    if (!msg) {
        snprintf (why, cap, "out of memory");
        return NULL;
    }
    msg->sender = (uint32_t) sender;
    msg->receiver = (uint32_t) receiver;
    switch (pl) {
    case S_ADVERT: {
        const uint8_t *d;
        size_t l;
        fl_wire_get_bin_list_item (m, FL_K_RECS, 0, &d, &l);
        s_unpack_advert (&msg->u.advert, d);
        break;
    }
    case S_RECS:
        for (size_t i = 0; i < count; i++) {
            const uint8_t *d;
            size_t l;
            fl_wire_get_bin_list_item (m, FL_K_RECS, i, &d, &l);
            s_unpack_record (msg, i, d);
        }
        break;
    case S_VALS: memcpy (msg->u.masked.values, v32, count * sizeof (uint32_t)); break;
    case S_IDS: memcpy (msg->u.survivors.ids, v32, count * sizeof (uint32_t)); break;
    case S_SIG: {
        const uint8_t *d;
        size_t l;
        if (fl_wire_get_bin (m, FL_K_SIG, &d, &l) != 0 || l != FL_SECAGG_SIGBYTES) {
            fl_secagg_msg_destroy (&msg);
            snprintf (why, cap, "CONSISTENCY: bad signature length");
            return NULL;
        }
        memcpy (msg->u.sig, d, FL_SECAGG_SIGBYTES);
        break;
    }
    case S_CODE: {
        uint64_t c = 0;
        fl_wire_get_u64 (m, FL_K_CODE, &c);
        msg->u.abort_code = (uint32_t) c;
        break;
    }
    case S_NONE: break;
    }
    *bucket = (uint32_t) b;
    return msg;
}
