/*  fl-hostile - hostile connections to a coordinator's port, for tests.

    For --seconds, in a loop: a raw TCP connection that writes random bytes
    (sometimes after a valid ZMTP greeting prefix) and closes, abruptly or
    not; a plaintext (NULL mechanism) DEALER that sends messages and leaves;
    a CURVE DEALER whose key is not in the roster (zauth refuses it).  None
    of them may stop a run (tests/it_hostile.sh, docs/FAULTS.md).  Randomness
    from libsodium; nothing here is used by the coordinator or the client.
*/
#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fl_args.h"

typedef struct {
    char connect[256];       /* tcp://127.0.0.1:PORT */
    char server_key[64];     /* the coordinator's CURVE public key (Z85) */
    double seconds;
} settings_t;

#define F(x) offsetof (settings_t, x)
static const fl_arg_t s_args[] = {
    {"connect", FL_ARG_STR, F (connect), sizeof ((settings_t *) 0)->connect, "ENDPOINT", "the coordinator's endpoint (tcp://127.0.0.1:PORT)", FL_ARG_NO_RANGE},
    {"server-key", FL_ARG_STR, F (server_key), sizeof ((settings_t *) 0)->server_key, "Z85", "the coordinator's CURVE public key (for the non-roster CURVE peers)", FL_ARG_NO_RANGE},
    {"seconds", FL_ARG_DOUBLE, F (seconds), 0, "SEC", "how long to keep attacking", 0.1, 3600},
};
#undef F

static void
s_raw (const char *host, int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    struct sockaddr_in a;
    memset (&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons ((uint16_t) port);
    inet_pton (AF_INET, host, &a.sin_addr);
    if (connect (fd, (struct sockaddr *) &a, sizeof a) == 0) {
        uint8_t buf[4096];
        size_t n = 1 + randombytes_uniform (sizeof buf);
        randombytes_buf (buf, n);
        if (randombytes_uniform (2)) {           /* a ZMTP 3 greeting start, then garbage */
            static const uint8_t greet[] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
            memcpy (buf, greet, n < sizeof greet ? n : sizeof greet);
        }
        ssize_t w = write (fd, buf, n);
        (void) w;
        if (randombytes_uniform (2)) {           /* abrupt: RST instead of FIN */
            struct linger l = {1, 0};
            setsockopt (fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        else
            zclock_sleep ((int) randombytes_uniform (50));
    }
    close (fd);
}

static void
s_zmq_peer (const char *endpoint, const char *server_key, int curve)
{
    zsock_t *d = zsock_new (ZMQ_DEALER);
    if (!d)
        return;
    zsock_set_linger (d, 0);
    zsock_set_sndtimeo (d, 0);
    zcert_t *c = NULL;
    if (curve && server_key[0]) {
        c = zcert_new ();
        zcert_apply (c, d);
        zsock_set_curve_serverkey (d, server_key);
    }
    if (randombytes_uniform (2))
        zsock_set_identity (d, "member-01");     /* a member's name as routing id */
    zsock_connect (d, "%s", endpoint);
    for (uint32_t k = randombytes_uniform (20); k > 0; k--) {
        uint8_t buf[512];
        size_t n = randombytes_uniform (sizeof buf);
        randombytes_buf (buf, n);
        zframe_t *f = zframe_new (buf, n);
        zframe_send (&f, d, ZFRAME_DONTWAIT);
        zframe_destroy (&f);
    }
    zclock_sleep ((int) randombytes_uniform (100));
    zsock_destroy (&d);
    zcert_destroy (&c);
}

int
main (int argc, char **argv)
{
    settings_t s;
    memset (&s, 0, sizeof s);
    s.seconds = 10;
    int rc = fl_args_parse (s_args, sizeof s_args / sizeof s_args[0], &s, argc, argv, "fl-hostile", "hostile", NULL,
                            "Connects hostile peers to a coordinator for --seconds (tests only).", NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (sodium_init () < 0)
        return 1;
    char host[64];
    int port = 0;
    if (sscanf (s.connect, "tcp://%63[^:]:%d", host, &port) != 2) {
        fprintf (stderr, "fl-hostile: --connect must be tcp://HOST:PORT\n");
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    int64_t end = zclock_mono () + (int64_t) (s.seconds * 1000);
    size_t n = 0;
    while (zclock_mono () < end && !zsys_interrupted) {
        switch (randombytes_uniform (3)) {
        case 0: s_raw (host, port); break;
        case 1: s_zmq_peer (s.connect, s.server_key, 0); break;
        default: s_zmq_peer (s.connect, s.server_key, 1); break;
        }
        n++;
    }
    printf ("fl-hostile: %zu hostile connections to %s\n", n, s.connect);
    return 0;
}
