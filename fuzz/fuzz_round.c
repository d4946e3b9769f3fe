/*  fuzz_round - arbitrary message sequences from three peers, with an
    advancing fake clock, into the coordinator's round state machine
    (fl_round, sans I/O).  Input format in fuzz_round.h.  Property: no
    crash, leak or undefined behaviour in any phase; the global model stays
    finite (fl_round's invariant 1); the round number never decreases and DONE and FAILED are final. */
#include <fl_round.h>
#include <math.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "fuzz_round.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    return 0;
}

static void
s_drain (fl_round_t *r)
{
    const uint8_t *id;
    size_t id_len, len;
    uint8_t *data;
    while (fl_round_next_out (r, &id, &id_len, &data, &len))
        free (data);
    fl_round_summary_t sum;
    while (fl_round_next_summary (r, &sum))
        ;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fl_round_config_t cfg;
    fuzz_round_config (&cfg);
    fl_round_t *r = fl_round_new (&cfg);
    if (!r)
        abort ();
    int64_t now = 0;
    fl_round_start (r, now);
    fl_round_phase_t phase = fl_round_phase (r);
    uint64_t round = fl_round_current (r);
    size_t pos = 0;
    while (pos < size) {
        uint8_t ctl = data[pos++];
        size_t len = 0;
        if (pos + 2 <= size) {
            len = (size_t) data[pos] | (size_t) data[pos + 1] << 8;
            pos += 2;
        }
        else
            pos = size;
        if (len > size - pos)
            len = size - pos;
        now += (int64_t) (ctl / FUZZ_ROUND_PEERS) * FUZZ_ROUND_STEP_MS;
        uint8_t id[FUZZ_ROUND_IDBYTES];
        fuzz_round_peer_id (ctl % FUZZ_ROUND_PEERS, id);
        /* a private copy of exactly len bytes: ASan sees any over-read */
        uint8_t *msg = malloc (len ? len : 1);
        memcpy (msg, data + pos, len);
        pos += len;
        fl_round_on_message (r, now, id, sizeof id, "", msg, len);
        free (msg);
        fl_round_on_tick (r, now);
        s_drain (r);
        fl_round_phase_t p = fl_round_phase (r);
        if ((phase == FL_ROUND_DONE || phase == FL_ROUND_FAILED) && p != phase)
            abort ();
        if (fl_round_current (r) < round)
            abort ();
        phase = p;
        round = fl_round_current (r);
        const float *params = fl_round_params (r);
        for (size_t i = 0; params && i < fl_round_num_params (r); i++)
            if (!isfinite (params[i]))
                abort ();
        (void) fl_round_next_timeout_ms (r, now);
    }
    /* let every pending deadline pass */
    for (int i = 0; i < 8; i++) {
        now += 5000;
        fl_round_on_tick (r, now);
        s_drain (r);
    }
    fl_round_destroy (&r);
    return 0;
}
