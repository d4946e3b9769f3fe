/*  fuzz_secagg - arbitrary message sequences into the secure-aggregation
    server and a client state machine (fl_secagg, sans I/O), through the
    wire decoder they sit behind (fl_wire + fl_secagg_wire).  Input format
    in fuzz_secagg.h.  Properties: no crash, leak or undefined behaviour;
    the client never reveals both shares of one neighbour; a server result
    exists only in DONE, with the configured length. */
#include <fl_secagg.h>
#include <fl_secagg_wire.h>
#include <fl_wire.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "fuzz_secagg.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    return sodium_init () < 0 ? -1 : 0;
}

static fl_secagg_msg_t *
s_decode (const uint8_t *p, size_t len)
{
    char why[128];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (p, len, &lim, why, sizeof why);
    if (!m)
        return NULL;
    uint32_t bucket = 0;
    fl_secagg_msg_t *msg = fl_wire_type (m) == FL_WIRE_SECAGG ? fl_secagg_msg_from_wire (m, &bucket, why, sizeof why) : NULL;
    fl_wire_msg_destroy (&m);
    return msg;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t pks[FUZZ_SA_N * 32], sk0[64], pk[32];
    for (uint32_t i = 0; i < FUZZ_SA_N; i++) {
        uint8_t sk[64];
        fuzz_sa_identity (i, pks + 32 * i, sk);
        if (i == 0)
            memcpy (sk0, sk, 64);
    }
    (void) pk;
    fl_secagg_config_t cfg;
    fuzz_sa_config (&cfg, pks, 0, NULL);
    fl_secagg_server_t *srv = fl_secagg_server_new (&cfg);
    fuzz_sa_config (&cfg, pks, 0, sk0);
    fl_secagg_client_t *cli = fl_secagg_client_new (&cfg);
    if (!srv || !cli)
        abort ();
    uint32_t input[FUZZ_SA_M];
    for (uint32_t i = 0; i < FUZZ_SA_M; i++)
        input[i] = i * 2654435761u;
    fl_secagg_client_set_input (cli, input);

    size_t pos = 0;
    while (pos + 3 <= size) {
        uint8_t op = data[pos] % 4;
        size_t len = (size_t) data[pos + 1] | (size_t) data[pos + 2] << 8;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *payload = data + pos;
        pos += len;
        fl_secagg_msg_t *in = NULL, *out = NULL;
        switch (op) {
        case 0:
            if ((in = s_decode (payload, len)))
                fl_secagg_server_handle (srv, in);
            break;
        case 1:
            if ((in = s_decode (payload, len)))
                fl_secagg_client_handle (cli, in, &out);
            break;
        case 2:
            fl_secagg_server_deadline (srv);
            break;
        case 3:
            if (fl_secagg_client_state (cli) == FL_SECAGG_CLIENT_NEW)
                fl_secagg_client_start (cli, &out);
            break;
        }
        fl_secagg_msg_destroy (&in);
        fl_secagg_msg_destroy (&out);
        fl_secagg_msg_t *q;
        while ((q = fl_secagg_server_next_out (srv)))
            fl_secagg_msg_destroy (&q);
        for (uint32_t v = 0; v < FUZZ_SA_N; v++)
            if (fl_secagg_client_revealed (cli, v) == (FL_SECAGG_SHARE_SELF_MASK | FL_SECAGG_SHARE_MASK_KEY))
                abort ();   /* both shares of one neighbour: the protocol's central promise broken */
    }
    const uint32_t *sum = NULL, *surv = NULL;
    size_t m = 0;
    uint32_t count = 0;
    int have = fl_secagg_server_result (srv, &sum, &m, &surv, &count) == 0;
    if (have != (fl_secagg_server_state (srv) == FL_SECAGG_SERVER_DONE) || (have && m != FUZZ_SA_M))
        abort ();
    fl_secagg_server_destroy (&srv);
    fl_secagg_client_destroy (&cli);
    return 0;
}
