/*  fl_secagg_msg.c - the secure-aggregation protocol's messages: their
    constructor, destructor and names (the message structs are in
    fl_secagg.h; fl_secagg_wire in proto/ carries them as msgpack).  The
    constructor is the one place a message's arrays are sized, so every
    decoder and builder goes through the same bound.

    DEFINITIONS
      record array   the payload of ADVERTISE_LIST, SHARES, SHARES_RELAY,
                     SURVIVORS, SIGNATURE_LIST and UNMASK: count fixed-size
                     records, at most FL_SECAGG_MAX_CLIENTS.
      masked input   the payload of MASKED_INPUT: count = m values in
                     Z_2^32, at most FL_SECAGG_MAX_LENGTH.

    INVARIANTS
      M1  A count is checked against its limit before anything is allocated
          (an attacker-chosen count never reaches calloc unbounded).
      M2  Exactly the union member named by kind is set; its array is
          allocated with room for count records (at least one), zero-filled,
          and owned by the message.
      M3  Unmasking shares are wiped (sodium_memzero) before their array is
          freed.

    THE MESSAGES OF ONE BUCKET (client index u, server S; docs/SECAGG.md §3)

      round 0   u --ADVERTISE-->        S --ADVERTISE_LIST (U1)-->  u
      round 1   u --SHARES-->           S --SHARES_RELAY (to u)-->  u
      round 2   u --MASKED_INPUT-->     S --SURVIVORS (U3)-->       u
      round 3   u --CONSISTENCY-->      S --SIGNATURE_LIST (U4)-->  u
      round 4   u --UNMASK-->           S
      any time                          S --ABORT-->                u
*/
#include "fl_secagg.h"

#include <czmq.h>
#include <sodium.h>
#include <stdlib.h>

fl_secagg_msg_t *
fl_secagg_msg_new (fl_secagg_msg_kind_t kind, size_t count)
{
    size_t item = 0, limit = FL_SECAGG_MAX_CLIENTS;
    switch (kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: item = sizeof (fl_secagg_advert_t); break;
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY:   item = sizeof (fl_secagg_ciphertext_t); break;
        case FL_SECAGG_MSG_MASKED_INPUT:   item = sizeof (uint32_t); limit = FL_SECAGG_MAX_LENGTH; break;
        case FL_SECAGG_MSG_SURVIVORS:      item = sizeof (uint32_t); break;
        case FL_SECAGG_MSG_SIGNATURE_LIST: item = sizeof (fl_secagg_signature_t); break;
        case FL_SECAGG_MSG_UNMASK:         item = sizeof (fl_secagg_unmask_share_t); break;
        case FL_SECAGG_MSG_ADVERTISE:
        case FL_SECAGG_MSG_CONSISTENCY:
        case FL_SECAGG_MSG_ABORT:          count = 0; break;
        default:
            zsys_error ("fl_secagg: message kind %d unknown", (int) kind);
            return NULL;
    }
    if (count > limit) {
        zsys_error ("fl_secagg: %s with %zu items exceeds limit %zu",
                    fl_secagg_msg_kind_name (kind), count, limit);
        return NULL;
    }
    fl_secagg_msg_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->kind = kind;
    self->sender = self->receiver = FL_SECAGG_SERVER;
    if (item) {
        void *a = calloc (count ? count : 1, item);
        if (!a) {
            free (self);
            return NULL;
        }
        /* every array member of the union starts with the pointer */
        switch (kind) {
            case FL_SECAGG_MSG_ADVERTISE_LIST: self->u.adverts.items = a; self->u.adverts.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_SHARES:
            case FL_SECAGG_MSG_SHARES_RELAY:   self->u.shares.items = a; self->u.shares.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_MASKED_INPUT:   self->u.masked.values = a; self->u.masked.count = count; break;
            case FL_SECAGG_MSG_SURVIVORS:      self->u.survivors.ids = a; self->u.survivors.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_SIGNATURE_LIST: self->u.sigs.items = a; self->u.sigs.count = (uint32_t) count; break;
            case FL_SECAGG_MSG_UNMASK:         self->u.unmask.items = a; self->u.unmask.count = (uint32_t) count; break;
            default: break;
        }
    }
    return self;
}

void
fl_secagg_msg_destroy (fl_secagg_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_secagg_msg_t *self = *self_p;
    switch (self->kind) {
        case FL_SECAGG_MSG_ADVERTISE_LIST: free (self->u.adverts.items); break;
        case FL_SECAGG_MSG_SHARES:
        case FL_SECAGG_MSG_SHARES_RELAY:   free (self->u.shares.items); break;
        case FL_SECAGG_MSG_MASKED_INPUT:   free (self->u.masked.values); break;
        case FL_SECAGG_MSG_SURVIVORS:      free (self->u.survivors.ids); break;
        case FL_SECAGG_MSG_SIGNATURE_LIST: free (self->u.sigs.items); break;
        case FL_SECAGG_MSG_UNMASK:
            if (self->u.unmask.items)
                sodium_memzero (self->u.unmask.items, self->u.unmask.count * sizeof (fl_secagg_unmask_share_t));
            free (self->u.unmask.items);
            break;
        default: break;
    }
    free (self);
    *self_p = NULL;
}

const char *
fl_secagg_msg_kind_name (int kind)
{
    static const char *names[] = {"?", "ADVERTISE", "ADVERTISE_LIST", "SHARES", "SHARES_RELAY",
                                  "MASKED_INPUT", "SURVIVORS", "CONSISTENCY", "SIGNATURE_LIST",
                                  "UNMASK", "ABORT"};
    return kind > 0 && kind < FL_SECAGG_MSG_KIND_MAX ? names[kind] : "?";
}
