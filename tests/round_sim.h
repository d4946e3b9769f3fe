/*  round_sim.h - the in-process message pump the fl_round unit tests share.

    A coordinator state machine (fl_round) and n simulated members
    (fl_client) exchange their payloads directly, with a simulated clock, so a
    whole run takes milliseconds and every message can be inspected, lost or
    rewritten.  Each test file keeps its own sim_t and options; round_sim_pump
    is the loop they all ran as a private copy before.

    One pass: every member's outbox goes to the coordinator (through
    from_client, which may lose a message), then the coordinator's outbox to
    the member its routing id names (through to_client, which delivers, or
    rewrites and delivers, or drops).  When a pass moves nothing the run is
    idle: the pump returns if the run is DONE or FAILED, or if the clock must
    not advance; otherwise it moves the clock 100 s and lets deadlines fire.
*/
#ifndef ROUND_SIM_H_INCLUDED
#define ROUND_SIM_H_INCLUDED

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <sodium.h>
#include <stdio.h>

#include "fl_client.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_shard.h"
#include "fl_test.h"

typedef struct {
    fl_round_t *round;
    fl_client_t **clients;          /* (n) members; a NULL entry is skipped */
    uint8_t (*ids)[8];              /* (n) routing ids, 8 bytes each */
    size_t n;
    int64_t *now;                   /* the simulated clock, ms */
    int max_passes;
    int tick_every_pass;            /* fl_round_on_tick after every pass, not only when idle */
    int advance_when_idle;          /* 0: return when idle instead of moving the clock */
    void *ctx;                      /* handed to the hooks */
    /* member i sent data: return 0 to lose it (NULL: every message arrives) */
    int (*from_client) (void *ctx, size_t i, const uint8_t *data, size_t len);
    /* the coordinator sends data to member i: the hook delivers it
       (fl_client_on_message), possibly after rewriting *data (a new malloc'd
       buffer replaces the old, which it frees), or drops it.  NULL: delivered. */
    void (*to_client) (void *ctx, size_t i, uint8_t **data, size_t *len);
    /* return non-zero to stop after the current pass (NULL: never) */
    int (*stop) (void *ctx);
} round_sim_t;

static inline void
round_sim_pump (const round_sim_t *s)
{
    for (int pass = 0; pass < s->max_passes; pass++) {
        int moved = 0;
        for (size_t i = 0; i < s->n; i++) {
            uint8_t *data;
            size_t len;
            while (s->clients[i] && fl_client_next_out (s->clients[i], &data, &len)) {
                if (!s->from_client || s->from_client (s->ctx, i, data, len))
                    fl_round_on_message (s->round, *s->now, s->ids[i], 8, "", data, len);
                free (data);
                moved = 1;
            }
        }
        const uint8_t *id;
        size_t id_len, len;
        uint8_t *data;
        while (fl_round_next_out (s->round, &id, &id_len, &data, &len)) {
            for (size_t i = 0; i < s->n; i++)
                if (id_len == 8 && memcmp (id, s->ids[i], 8) == 0) {
                    if (s->to_client)
                        s->to_client (s->ctx, i, &data, &len);
                    else if (s->clients[i])
                        fl_client_on_message (s->clients[i], data, len);
                }
            free (data);
            moved = 1;
        }
        if (s->tick_every_pass)
            fl_round_on_tick (s->round, *s->now);
        if (s->stop && s->stop (s->ctx))
            return;
        if (!moved) {
            if (!s->advance_when_idle || fl_round_phase (s->round) == FL_ROUND_DONE
                || fl_round_phase (s->round) == FL_ROUND_FAILED)
                return;
            *s->now += 100000;
            fl_round_on_tick (s->round, *s->now);
        }
    }
}

/*  A roster for a simulated consortium: a coordinator entry and n members
    "hospital-0" .. "hospital-(n-1)", each with a fresh Ed25519 identity key
    (its secret, 64 bytes in sodium_malloc, goes to sks[i]: the caller frees
    it with sodium_free) and a fresh CURVE key.  Caller owns the roster. */
static inline fl_roster_t *
round_sim_roster (size_t n, uint8_t **sks)
{
    fl_roster_t *roster = fl_roster_new ();
    uint8_t cpk[32], csk[64];
    crypto_sign_keypair (cpk, csk);
    zcert_t *cc = zcert_new ();
    fl_roster_set_coordinator (roster, cpk, zcert_public_txt (cc), NULL);
    zcert_destroy (&cc);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf (name, sizeof name, "hospital-%zu", i);
        uint8_t pk[32];
        sks[i] = (uint8_t *) sodium_malloc (64);
        crypto_sign_keypair (pk, sks[i]);
        zcert_t *c = zcert_new ();
        FL_CHECK (fl_roster_add_member (roster, name, pk, zcert_public_txt (c)) == 0);
        zcert_destroy (&c);
    }
    return roster;
}

/*  Member i's IID share of the bundled WDBC data, split into n partitions
    (fl_shard defaults otherwise).  fl_shard_load's result: 0, or -1. */
static inline int
round_sim_shard (size_t n, size_t i, fl_dataset_t **train, fl_dataset_t **test)
{
    fl_shard_spec_t sp;
    fl_shard_spec_default (&sp);
    const char *dd = FL_TEST_PATH ("datasets");
    if (strlen (dd) < sizeof sp.datadir)
        memcpy (sp.datadir, dd, strlen (dd) + 1);
    sp.partitions = n;
    sp.index = i;
    snprintf (sp.partition, sizeof sp.partition, "iid");
    return fl_shard_load (&sp, train, test);
}

/*  Routing id of simulated member i < 10: "peer-00" followed by its digit. */
static inline void
round_sim_id (uint8_t id[8], size_t i)
{
    memcpy (id, "peer-00", 7);
    id[7] = (uint8_t) ('0' + i);
}

#endif
