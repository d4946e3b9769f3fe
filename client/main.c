/*  fl-client - one consortium member: keeps its data at home, trains on it
    when the coordinator asks, and sends back only what the protocol allows.

    Wiring only: options (fl_args), local data (fl_shard), the transport
    (fl_transport) and the member's session (fl_client; with --attack, for
    robustness evaluation only, wrapped in an fl_adversary).  See
    docs/CLIENT.md and docs/ATTACKS.md.
*/
#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fl_adversary.h"
#include "fl_args.h"
#include "fl_client.h"
#include "fl_log.h"
#include "fl_roster.h"
#include "fl_schema.h"
#include "fl_secagg.h"
#include "fl_model.h"
#include "fl_shard.h"
#include "fl_transport.h"
#include "fl_wire.h"

typedef struct {
    char connect[256];
    char member[64];
    fl_shard_spec_t shard;
    char model[32], hidden[64];
    uint64_t seed;
    double heartbeat, rejoin;
    double rejoin_max;              /* reconnect policy: backoff cap (seconds) ... */
    uint64_t max_retries;           /* ... and HELLOs without a WELCOME before giving up (0 = never) */
    char log_format[8];
    size_t max_message_mb;
    uint64_t exit_during_round;     /* fault injection: vanish on TRAIN of this round ... */
    char exit_at[32];               /* ... or on this secure-aggregation message of it */
    double train_delay;             /* testing: a slow member (seconds before each training) */
    char roster[1024], identity[1024], cert[1024];
    int quiet, plaintext;
    /* Byzantine attack, robustness evaluation only (docs/ATTACKS.md) */
    char attack[32], collude[256];
    double attack_scale;
    size_t colluders, attack_n;
    size_t attack_rows;
    uint64_t attack_examples;
    char model_plugin[1024];        /* model plugin / QAT (docs/MODELS.md) */
    int qat;
    double max_weight_decay;        /* policy: the largest weight decay accepted (docs/TRAINING.md) */
} settings_t;

#define F(x) offsetof (settings_t, x)
#define S(x) offsetof (settings_t, shard) + offsetof (fl_shard_spec_t, x)
static const fl_arg_t s_args[] = {
    {"connect", FL_ARG_STR, F (connect), sizeof ((settings_t *) 0)->connect, "ENDPOINT", "coordinator endpoint (default: the roster's coordinator endpoint, else tcp://127.0.0.1:5555)", FL_ARG_NO_RANGE},
    {"member", FL_ARG_STR, F (member), sizeof ((settings_t *) 0)->member, "ID", "this member's id (roster name)", FL_ARG_NO_RANGE},
    {"data", FL_ARG_STR, S (data), sizeof ((fl_shard_spec_t *) 0)->data, "CSV", "this member's data file (header row; label column by --label)", FL_ARG_NO_RANGE},
    {"label", FL_ARG_STR, S (label), sizeof ((fl_shard_spec_t *) 0)->label, "COLUMN", "label column name (default: the last column)", FL_ARG_NO_RANGE},
    {"schema", FL_ARG_STR, S (schema), sizeof ((fl_shard_spec_t *) 0)->schema, "FILE", "the consortium's schema for --data: column types, text vocabularies, label mapping (fl-schema; docs/DATA.md)", FL_ARG_NO_RANGE},
    {"drop", FL_ARG_STR, S (drop), sizeof ((fl_shard_spec_t *) 0)->drop, "COL,...", "columns of --data to leave out, e.g. identifiers (a --schema says this itself)", FL_ARG_NO_RANGE},
    {"missing", FL_ARG_STR, S (missing), sizeof ((fl_shard_spec_t *) 0)->missing, "HOW", "missing cells (empty, NA, ?): impute (federated mean / missing category, plus indicator; default) | error", FL_ARG_NO_RANGE},
    {"dataset", FL_ARG_STR, S (dataset), sizeof ((fl_shard_spec_t *) 0)->dataset, "NAME", "bundled data set for trials: wdbc | pima | ulb | uci_credit | german_credit | breast_cancer", FL_ARG_NO_RANGE},
    {"datadir", FL_ARG_STR, S (datadir), sizeof ((fl_shard_spec_t *) 0)->datadir, "DIR", "directory of bundled data sets", FL_ARG_NO_RANGE},
    {"partitions", FL_ARG_SIZE, S (partitions), 0, "N", "split the bundled data set across N members", 0, 65535},
    {"partition-index", FL_ARG_SIZE, S (index), 0, "I", "this member's partition (0..N-1)", 0, 65534},
    {"partition", FL_ARG_STR, S (partition), sizeof ((fl_shard_spec_t *) 0)->partition, "KIND", "iid | dirichlet | column", FL_ARG_NO_RANGE},
    {"alpha", FL_ARG_DOUBLE, S (alpha), 0, "A", "Dirichlet label-skew concentration", 1e-6, 1e6},
    {"partition-column", FL_ARG_STR, S (column), sizeof ((fl_shard_spec_t *) 0)->column, "COLUMN", "column whose values name the member (kind column)", FL_ARG_NO_RANGE},
    {"data-seed", FL_ARG_U64, S (seed), 0, "S", "partition and train/test split seed", FL_ARG_NO_RANGE},
    {"test-fraction", FL_ARG_DOUBLE, S (test_fraction), 0, "F", "held-out share of local rows for evaluation", 0.01, 0.9},
    {"model", FL_ARG_STR, F (model), sizeof ((settings_t *) 0)->model, "NAME", "refuse to train any model but this one", FL_ARG_NO_RANGE},
    {"hidden", FL_ARG_STR, F (hidden), sizeof ((settings_t *) 0)->hidden, "SIZES", "with --model or --model-plugin: the expected hidden sizes", FL_ARG_NO_RANGE},
    {"model-plugin", FL_ARG_STR, F (model_plugin), sizeof ((settings_t *) 0)->model_plugin, "PATH", "build the model from this plugin (the coordinator must run the same)", FL_ARG_NO_RANGE},
    {"max-weight-decay", FL_ARG_DOUBLE, F (max_weight_decay), 0, "L", "refuse a TRAIN whose weight decay is above L (default 1; 0 = refuse any weight decay)", 0, 1e6},
    {"qat", FL_ARG_FLAG, F (qat), 0, NULL, "expect quantisation-aware training (refuse a float run)", FL_ARG_NO_RANGE},
    {"seed", FL_ARG_U64, F (seed), 0, "S", "local randomness (shuffling)", FL_ARG_NO_RANGE},
    {"heartbeat", FL_ARG_DOUBLE, F (heartbeat), 0, "SEC", "send a heartbeat after this long idle", 0.1, 3600},
    {"rejoin", FL_ARG_DOUBLE, F (rejoin), 0, "SEC", "say HELLO again if not welcomed within this time", 0.5, 3600},
    {"rejoin-max", FL_ARG_DOUBLE, F (rejoin_max), 0, "SEC", "reconnect backoff: the wait before each new HELLO doubles from --rejoin up to this", 0.5, 86400},
    {"max-retries", FL_ARG_U64, F (max_retries), 0, "N", "give up (exit 1) after N HELLOs in a row without a WELCOME (0 = keep trying)", 0, 1e9},
    {"max-message-mb", FL_ARG_SIZE, F (max_message_mb), 0, "MB", "largest message accepted (MiB)", 1, 2047},
    {"roster", FL_ARG_STR, F (roster), sizeof ((settings_t *) 0)->roster, "FILE", "consortium roster (fl-keygen): members' keys and the coordinator's", FL_ARG_NO_RANGE},
    {"identity", FL_ARG_STR, F (identity), sizeof ((settings_t *) 0)->identity, "FILE", "this member's identity secret key (NAME.identity_secret)", FL_ARG_NO_RANGE},
    {"cert", FL_ARG_STR, F (cert), sizeof ((settings_t *) 0)->cert, "FILE", "this member's CURVE certificate (NAME.curve, with NAME.curve_secret)", FL_ARG_NO_RANGE},
    {"plaintext", FL_ARG_FLAG, F (plaintext), 0, NULL, "also take part in plaintext rounds (updates sent unmasked)", FL_ARG_NO_RANGE},
    {"exit-during-round", FL_ARG_U64, F (exit_during_round), 0, "R", "fault injection for tests: exit abruptly when asked to train round R", 0, 1e9},
    {"exit-at", FL_ARG_STR, F (exit_at), sizeof ((settings_t *) 0)->exit_at, "PHASE", "with --exit-during-round: exit on receiving this secure-aggregation message instead of TRAIN: ADVERTISE_LIST | SHARES_RELAY | SURVIVORS | SIGNATURE_LIST", FL_ARG_NO_RANGE},
    {"train-delay", FL_ARG_DOUBLE, F (train_delay), 0, "SEC", "testing: wait this long before each local training (a slow member)", 0, 3600},
    {"quiet", FL_ARG_FLAG, F (quiet), 0, NULL, "no zsys log lines (fatal errors still print)", FL_ARG_NO_RANGE},
    {"log-format", FL_ARG_STR, F (log_format), sizeof ((settings_t *) 0)->log_format, "FORMAT", "log lines on stderr: text (ISO-8601 UTC time, level, program, message) | json", FL_ARG_NO_RANGE},
    {"attack", FL_ARG_STR, F (attack), sizeof ((settings_t *) 0)->attack, "KIND", "EVALUATION ONLY: act Byzantine: sign-flip | scale | gaussian | label-flip | alie | ipm | min-max | min-sum (docs/ATTACKS.md)", FL_ARG_NO_RANGE},
    {"attack-scale", FL_ARG_DOUBLE, F (attack_scale), 0, "G", "attack strength: gamma (sign-flip, scale, min-max, min-sum), sigma (gaussian), epsilon (ipm), z (alie); NaN = default", FL_ARG_NO_RANGE},
    {"collude", FL_ARG_STR, F (collude), sizeof ((settings_t *) 0)->collude, "DIR", "attackers share their honest updates through this directory", FL_ARG_NO_RANGE},
    {"colluders", FL_ARG_SIZE, F (colluders), 0, "N", "size of the colluding group (this client included); alie's f", 1, 1024},
    {"attack-n", FL_ARG_SIZE, F (attack_n), 0, "N", "alie: assumed number of clients (or buckets) aggregated, for z_max", 0, 1000000},
    {"attack-rows", FL_ARG_SIZE, F (attack_rows), 0, "N", "with --attack: train on N rows resampled from this member's own (0 = its own rows as they are)", 0, 1u << 31},
    {"attack-examples", FL_ARG_U64, F (attack_examples), 0, "N", "with --attack: claim N training examples in every update (FedAvg's weight, capped by the coordinator's --example-cap; 0 = the true count)", 0, 1e12},
};
#undef F
#undef S

/* Fault injection: is this the message (TRAIN, or the named secure-
   aggregation message) of the round at which the client should vanish? */
static int
s_is_exit_point (const uint8_t *data, size_t len, uint64_t round, const char *at)
{
    char why[64];
    fl_wire_limits_t lim = fl_wire_limits_default ();
    fl_wire_msg_t *m = fl_wire_decode (data, len, &lim, why, sizeof why);
    int hit = 0;
    if (m && fl_wire_round (m) == round) {
        uint64_t kind = 0;
        if (!at[0])
            hit = fl_wire_type (m) == FL_WIRE_TRAIN;
        else if (fl_wire_type (m) == FL_WIRE_SECAGG && fl_wire_get_u64 (m, FL_K_KIND, &kind) == 0)
            hit = strcmp (fl_secagg_msg_kind_name ((int) kind), at) == 0;
    }
    fl_wire_msg_destroy (&m);
    return hit;
}

int
main (int argc, char **argv)
{
    settings_t s;
    memset (&s, 0, sizeof s);
    snprintf (s.member, sizeof s.member, "member-%d", (int) getpid ());
    fl_shard_spec_default (&s.shard);
    s.seed = 1;
    s.heartbeat = 2.0;
    s.rejoin = 3.0;
    s.rejoin_max = 30.0;
    snprintf (s.log_format, sizeof s.log_format, "text");
    s.max_message_mb = 64;
    s.attack_scale = NAN;
    s.max_weight_decay = FL_CLIENT_MAX_WEIGHT_DECAY;
    s.colluders = 1;
    int rc = fl_args_parse (s_args, sizeof s_args / sizeof s_args[0], &s, argc, argv, "fl-client", "client",
                            NULL,
                            "Local data: --data FILE (a member's own CSV; with text columns or missing\n"
                            "values also --schema FILE from fl-schema, docs/DATA.md), or --dataset NAME with\n"
                            "--partitions N --partition-index I for trials on a bundled data set.\n"
                            "The rows never leave this process; see docs/CLIENT.md.",
                            NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (stderr);      /* stdout carries only results and progress lines */
    zsys_set_logident ("fl-client");
    fl_log_format_t log_format;
    if (fl_log_format_parse (s.log_format, &log_format) != 0) {
        fprintf (stderr, "fl-client: --log-format: '%s' is not text or json\n", s.log_format);
        return 2;
    }
    if (s.quiet)
        zsys_set_logstream (NULL);
    else
        fl_log_init ("fl-client", log_format);

    /* Keys first (cheap, and refusals should not wait for the data), then
       data; every exit below goes through `done`, so nothing leaks. */
    fl_roster_t *roster = NULL;
    uint8_t *identity = NULL;
    zcert_t *cert = NULL;
    fl_dataset_t *train = NULL, *test = NULL;
    fl_client_t *client = NULL;           /* owned by adversary when there is one */
    fl_adversary_t *adversary = NULL;
    fl_transport_t *tr = NULL;
    fl_model_plugin_t *plugin = NULL;     /* opened here; the client session only makes models from it */
    int exit_code = 0;
    if ((s.roster[0] && !(roster = fl_roster_load (s.roster)))
        || (s.identity[0] && !(identity = fl_identity_load_secret (s.identity)))
        || (s.cert[0] && !(cert = fl_curve_cert_load (s.cert)))) {
        exit_code = 1;
        goto done;
    }
    if ((identity || cert) && !roster) {
        fprintf (stderr, "fl-client: --identity and --cert need --roster\n");
        exit_code = 2;
        goto done;
    }
    if (roster && fl_roster_find_by_id (roster, s.member) < 0) {
        fprintf (stderr, "fl-client: member '%s' is not in the roster %s\n", s.member, s.roster);
        exit_code = 1;
        goto done;
    }
    if (roster) {
        /* Sites compare this with the coordinator's report to check they hold one membership. */
        uint8_t d[FL_ROSTER_DIGESTBYTES];
        char hex[2 * FL_ROSTER_DIGESTBYTES + 1];
        fl_roster_digest (roster, d);
        sodium_bin2hex (hex, sizeof hex, d, sizeof d);
        zsys_info ("client %s: roster %s: %zu members, digest %s", s.member, s.roster, fl_roster_size (roster), hex);
    }
    if (!s.connect[0]) {
        /* The roster says where the coordinator is (fl-keygen --coordinator --endpoint). */
        const char *ep = roster ? fl_roster_coordinator_endpoint (roster) : NULL;
        snprintf (s.connect, sizeof s.connect, "%s", ep ? ep : "tcp://127.0.0.1:5555");
        zsys_info ("client %s: connecting to %s (%s)", s.member, s.connect,
                   ep ? "the roster's coordinator endpoint" : "the default; --connect to change");
    }
    if (!identity && !s.plaintext) {
        fprintf (stderr, "fl-client: without --identity and --roster this client can only send unmasked updates; "
                         "pass --plaintext to accept that\n");
        exit_code = 2;
        goto done;
    }
    if (s.model_plugin[0]) {
        char why[512];
        if (!(plugin = fl_model_plugin_open (s.model_plugin, why, sizeof why))) {
            fprintf (stderr, "fl-client: %s\n", why);
            exit_code = 2;
            goto done;
        }
    }
    if (fl_shard_load (&s.shard, &train, &test) != 0) {
        fprintf (stderr, "fl-client %s: cannot load local data\n", s.member);
        exit_code = 1;
        goto done;
    }
    if (s.shard.schema[0]) {
        /* Loaded once more only to say what the encoding was (docs/DATA.md). */
        char why[512];
        fl_schema_t *schema = fl_schema_load (s.shard.schema, why, sizeof why);
        char *map = schema ? fl_schema_label_mapping (schema) : NULL;
        if (schema)
            zsys_info ("client %s: %s encoded with schema %s: %zu features (%zu text columns)%s%s", s.member,
                       s.shard.data, s.shard.schema, fl_schema_features (schema), fl_schema_text_columns (schema),
                       map && map[0] ? ", label mapping " : "", map ? map : "");
        free (map);
        fl_schema_destroy (&schema);
    }
    fl_client_config_t ccfg = {.member = s.member, .model = s.model[0] ? s.model : NULL,
                               .hidden = s.hidden[0] ? s.hidden : NULL, .seed = s.seed, .roster = roster,
                               .identity_secret = identity, .allow_plaintext = s.plaintext,
                               .model_plugin = plugin,
                               .qat = s.qat ? FL_MODEL_QAT_PER_CHANNEL : FL_MODEL_QAT_OFF,
                               .max_weight_decay = s.max_weight_decay > 0 ? s.max_weight_decay : -1};
    if (!s.attack[0] && (s.attack_rows || s.attack_examples)) {
        fprintf (stderr, "fl-client: --attack-rows and --attack-examples go with --attack\n");
        exit_code = 2;
        goto done;
    }
    if (s.attack[0]) {          /* Byzantine attack, evaluation only (docs/ATTACKS.md) */
        fl_adversary_config_t acfg;
        memset (&acfg, 0, sizeof acfg);
        fl_attack_params_defaults (&acfg.params);
        acfg.params.n = s.attack_n;
        acfg.params.f = s.colluders;
        if (fl_attack_kind_parse (s.attack, &acfg.attack) != 0) {
            fprintf (stderr, "fl-client: --attack: '%s' is not an attack (docs/ATTACKS.md)\n", s.attack);
            exit_code = 2;
            goto done;
        }
        if (!isnan (s.attack_scale) && fl_attack_params_set_strength (acfg.attack, &acfg.params, s.attack_scale) != 0) {
            fprintf (stderr, "fl-client: --attack-scale %g does not apply to --attack %s\n", s.attack_scale, s.attack);
            exit_code = 2;
            goto done;
        }
        acfg.collude_dir = s.collude[0] ? s.collude : NULL;
        acfg.colluders = s.colluders;
        acfg.train_rows = s.attack_rows;
        acfg.claim_examples = s.attack_examples;
        adversary = fl_adversary_new (&acfg, &ccfg, &train, &test);
        client = adversary ? fl_adversary_client (adversary) : NULL;
    }
    else
        client = fl_client_new (&ccfg, &train, &test);
    if (!client) {
        exit_code = 1;
        goto done;
    }
    fl_transport_config_t tcfg;
    memset (&tcfg, 0, sizeof tcfg);
    tcfg.endpoint = s.connect;
    tcfg.max_message_bytes = s.max_message_mb << 20;
    /* plaintext: the member name is the routing id (a reconnect takes it back);
       CURVE: none, the coordinator knows members by their authenticated key */
    tcfg.routing_id = cert ? NULL : s.member;
    if (cert) {
        tcfg.own_cert = cert;
        tcfg.server_key = fl_roster_coordinator_curve_pk (roster);    /* pinned */
    }
    else if (!s.quiet)
        fprintf (stderr, "fl-client %s: transport is NOT encrypted (no --cert)\n", s.member);
    tr = fl_transport_client_new (&tcfg);
    if (!tr) {
        exit_code = 1;
        goto done;
    }
    fl_client_hello (client);
    int64_t last_sent = 0, last_heard = zclock_mono (), hello_at = zclock_mono ();
    /* Reconnect policy: while not welcomed, HELLO again after --rejoin,
       doubling up to --rejoin-max, at most --max-retries times in a row. */
    uint64_t attempts = 1;
    double backoff = s.rejoin;
    while (!zsys_interrupted) {
        uint8_t *out;
        size_t out_len;
        while (fl_client_next_out (client, &out, &out_len)) {
            fl_transport_send (tr, NULL, 0, out, out_len);
            free (out);
            last_sent = zclock_mono ();
        }
        fl_client_state_t st = fl_client_state (client);
        if (st == FL_CLIENT_FINISHED)
            break;
        if (st == FL_CLIENT_REFUSED) {
            exit_code = 1;
            break;
        }
        fl_transport_msg_t msg;
        int r = fl_transport_recv (tr, 250, &msg);
        int64_t now = zclock_mono ();
        if (r == 0) {
            last_heard = now;
            if (s.exit_during_round && s_is_exit_point (msg.data, msg.len, s.exit_during_round, s.exit_at)) {
                fprintf (stderr, "fl-client %s: fault injection: exiting during round %" PRIu64 " at %s\n", s.member,
                         s.exit_during_round, s.exit_at[0] ? s.exit_at : "TRAIN");
                fflush (stderr);
                _exit (3);
            }
            if (s.train_delay > 0) {
                char why[64];
                fl_wire_limits_t lim = fl_wire_limits_default ();
                fl_wire_msg_t *pm = fl_wire_decode (msg.data, msg.len, &lim, why, sizeof why);
                if (pm && fl_wire_type (pm) == FL_WIRE_TRAIN)
                    zclock_sleep ((int) (s.train_delay * 1000));
                fl_wire_msg_destroy (&pm);
            }
            fl_client_on_message (client, msg.data, msg.len);
            fl_transport_msg_free (&msg);
        }
        else if (r < 0)
            break;
        if (fl_client_state (client) == FL_CLIENT_JOINED) {
            attempts = 0;
            backoff = s.rejoin;
        }
        if (fl_client_state (client) == FL_CLIENT_JOINING && now - hello_at > (int64_t) (backoff * 1000)) {
            if (s.max_retries && attempts >= s.max_retries) {
                fprintf (stderr, "fl-client %s: no WELCOME from %s after %" PRIu64 " HELLOs (--max-retries); "
                                 "giving up\n", s.member, s.connect, attempts);
                exit_code = 1;
                break;
            }
            backoff = backoff * 2 < s.rejoin_max ? backoff * 2 : s.rejoin_max;
            attempts++;
            if (s.max_retries)
                zsys_notice ("client %s: waiting for the coordinator at %s: HELLO %" PRIu64 " of at most %" PRIu64
                             "; the next in %.1f s", s.member, s.connect, attempts, s.max_retries, backoff);
            else
                zsys_notice ("client %s: waiting for the coordinator at %s: HELLO %" PRIu64 "; the next in %.1f s",
                             s.member, s.connect, attempts, backoff);
            fl_client_hello (client);          /* coordinator not up yet, or restarted */
            hello_at = now;
        }
        else if (fl_client_state (client) == FL_CLIENT_JOINED && now - last_sent > (int64_t) (s.heartbeat * 1000)
                 && now - last_heard > (int64_t) (s.heartbeat * 1000)) {
            fl_client_heartbeat (client);
        }
    }
    /* SIGTERM / SIGINT: an orderly stop (exit 0), as systemd expects */
    if (!s.quiet)
        printf ("fl-client %s: %s after %" PRIu64 " training rounds%s%s\n", s.member,
                fl_client_state_name (fl_client_state (client)), fl_client_rounds_trained (client),
                fl_client_reason (client)[0] ? ": " : "", fl_client_reason (client));
    zclock_sleep (100);
done:
    fl_transport_destroy (&tr);
    if (adversary) {
        fl_adversary_destroy (&adversary);
        client = NULL;
    }
    fl_client_destroy (&client);
    fl_model_plugin_close (&plugin);      /* after the client, which borrows it */
    fl_dataset_destroy (&train);
    fl_dataset_destroy (&test);
    zcert_destroy (&cert);
    fl_identity_secret_destroy (&identity);
    fl_roster_destroy (&roster);
    return exit_code;
}
