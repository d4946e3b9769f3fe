/*  test_transport.c - fl_transport over TCP loopback: plaintext round trip,
    the size limit, and CURVE with a zauth allowlist (a listed key gets in
    and its member id arrives as metadata; an unlisted key does not). */
#include "fl_test.h"
#include "fl_transport.h"

static int
s_exchange (fl_transport_t *srv, fl_transport_t *cli, const char *payload, fl_transport_msg_t *got)
{
    fl_transport_send (cli, NULL, 0, (const uint8_t *) payload, strlen (payload));
    return fl_transport_recv (srv, 3000, got);
}

static void
test_plaintext_round_trip (void)
{
    fl_transport_config_t sc = {0};
    sc.endpoint = "tcp://127.0.0.1:*";
    sc.max_message_bytes = 1024;
    fl_transport_t *srv = fl_transport_server_new (&sc);
    FL_CHECK (srv != NULL && fl_transport_port (srv) > 0);
    FL_CHECK (!fl_transport_is_secure (srv));
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", fl_transport_port (srv));
    fl_transport_config_t cc = {0};
    cc.endpoint = ep;
    cc.routing_id = "hospital-01";
    fl_transport_t *cli = fl_transport_client_new (&cc);
    fl_transport_msg_t m;
    FL_CHECK (s_exchange (srv, cli, "hello", &m) == 0);
    FL_CHECK (m.len == 5 && memcmp (m.data, "hello", 5) == 0);
    char name[64];
    FL_CHECK (strcmp (fl_transport_peer_name (&m, name, sizeof name), "hospital-01") == 0);
    /* reply to that peer */
    FL_CHECK (fl_transport_send (srv, m.id, m.id_len, (const uint8_t *) "ok", 2) == 0);
    fl_transport_msg_free (&m);
    FL_CHECK (fl_transport_recv (cli, 3000, &m) == 0);
    FL_CHECK (m.len == 2 && memcmp (m.data, "ok", 2) == 0);
    fl_transport_msg_free (&m);
    /* a payload over max_message_bytes never arrives (libzmq drops the connection) */
    char big[4096];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    FL_CHECK (s_exchange (srv, cli, big, &m) == 1);
    /* sending to an unknown routing id fails instead of blocking */
    FL_CHECK (fl_transport_send (srv, (const uint8_t *) "nobody", 6, (const uint8_t *) "x", 1) == -1);
    /* timeout */
    FL_CHECK (fl_transport_recv (srv, 50, &m) == 1);
    fl_transport_destroy (&cli);
    fl_transport_destroy (&srv);
    FL_CHECK (srv == NULL);
}

static void
test_curve_allowlist (void)
{
    zcert_t *server_cert = zcert_new ();
    zcert_t *good = zcert_new (), *evil = zcert_new ();
    zcertstore_t *allow = zcertstore_new (NULL);
    zcert_t *pub = zcert_new_from (zcert_public_key (good), zcert_secret_key (good));
    zcert_set_meta (pub, FL_TRANSPORT_MEMBER_META, "%s", "hospital-07");
    zcertstore_insert (allow, &pub);

    fl_transport_config_t sc = {0};
    sc.endpoint = "tcp://127.0.0.1:*";
    sc.own_cert = server_cert;
    sc.allow = allow;
    fl_transport_t *srv = fl_transport_server_new (&sc);
    FL_CHECK (srv != NULL && fl_transport_is_secure (srv));
    FL_CHECK (sc.allow == NULL);                 /* ownership taken */
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", fl_transport_port (srv));

    fl_transport_config_t cc = {0};
    cc.endpoint = ep;
    cc.own_cert = good;
    cc.server_key = zcert_public_txt (server_cert);
    fl_transport_t *cli = fl_transport_client_new (&cc);
    fl_transport_msg_t m;
    FL_CHECK (s_exchange (srv, cli, "from a member", &m) == 0);
    FL_CHECK (strcmp (m.member, "hospital-07") == 0);
    fl_transport_msg_free (&m);
    fl_transport_destroy (&cli);

    /* a key that is not in the allowlist never gets a message through */
    cc.own_cert = evil;
    cli = fl_transport_client_new (&cc);
    FL_CHECK (s_exchange (srv, cli, "from a stranger", &m) == 1);
    fl_transport_destroy (&cli);

    /* a client that pins a different coordinator key cannot talk to this one */
    zcert_t *other = zcert_new ();
    cc.own_cert = good;
    cc.server_key = zcert_public_txt (other);
    cli = fl_transport_client_new (&cc);
    FL_CHECK (s_exchange (srv, cli, "to the wrong server", &m) == 1);
    fl_transport_destroy (&cli);

    /* CURVE client without a pinned key is refused at construction */
    cc.server_key = NULL;
    FL_CHECK (fl_transport_client_new (&cc) == NULL);

    fl_transport_destroy (&srv);
    zcert_destroy (&other);
    zcert_destroy (&server_cert);
    zcert_destroy (&good);
    zcert_destroy (&evil);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    zsys_init ();
    zsys_set_logstream (stderr);
    FL_RUN (test_plaintext_round_trip);
    FL_RUN (test_curve_allowlist);
    zsys_shutdown ();
    FL_TEST_DONE ();
}
