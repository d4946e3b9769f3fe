/*  fuzz_round.h - the coordinator configuration and input format shared by
    fuzz_round.c and the corpus generator (make_corpus.c), so that recorded
    sessions replay against the same state machine.

    Input format: a sequence of records
        ctl   1 byte    peer = ctl % FUZZ_ROUND_PEERS,
                        clock advance = (ctl / FUZZ_ROUND_PEERS) * FUZZ_ROUND_STEP_MS
        len   2 bytes   little-endian payload length (cut to what remains)
        data  len bytes the payload, fed to fl_round_on_message from that peer
    After every record the state machine gets a tick and its outbox and
    summaries are drained.

    The model shape is fixed (4 features, 2 classes) so that a HELLO
    claiming 100000 features cannot make every input allocate hundreds of
    megabytes (fl_round would accept it: see docs/FUZZING.md, findings). */
#ifndef FUZZ_ROUND_H_INCLUDED
#define FUZZ_ROUND_H_INCLUDED

#include <fl_round.h>
#include <string.h>

#define FUZZ_ROUND_PEERS    3
#define FUZZ_ROUND_IDBYTES  6
#define FUZZ_ROUND_STEP_MS  50
#define FUZZ_ROUND_FEATURES 4
#define FUZZ_ROUND_CLASSES  2

static inline void
fuzz_round_config (fl_round_config_t *cfg)
{
    fl_round_config_default (cfg);
    cfg->min_clients = 2;
    cfg->min_cohort = 2;
    cfg->rounds = 2;
    cfg->features = FUZZ_ROUND_FEATURES;
    cfg->classes = FUZZ_ROUND_CLASSES;
    cfg->batch_size = 8;
    cfg->stats_deadline_ms = 1000;
    cfg->train_deadline_ms = 2000;
    cfg->eval_deadline_ms = 1000;
    cfg->liveness_ms = 3000;
    memcpy (cfg->run_id, "fuzz-round-run-1", 16);
}

static inline void
fuzz_round_peer_id (int peer, uint8_t id[FUZZ_ROUND_IDBYTES])
{
    memcpy (id, "peer-", 5);
    id[5] = (uint8_t) ('0' + peer);
}

#endif
