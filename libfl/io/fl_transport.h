/*  fl_transport - ZeroMQ sockets for the coordinator (ROUTER) and the client
    (DEALER), with CURVE encryption, a zauth allowlist, size limits and
    heartbeats.

    The transport moves opaque byte payloads (fl_wire messages) between the
    coordinator and its clients; it never interprets them.  Protections that
    must happen before a payload reaches user space live here:

      - ZMQ_MAXMSGSIZE: libzmq drops a connection that announces a frame larger
        than the limit, before allocating it.
      - bounded send/receive queues (high-water marks) per peer.
      - ZMTP heartbeats (ZMQ_HEARTBEAT_IVL / _TIMEOUT) from the client: a
        silent coordinator's connection is closed by libzmq.  The
        coordinator's ROUTER sends none (libzmq 4.3.4 can abort in its
        heartbeat timer after a failed connection, issue #4841; see
        fl_transport.c): it answers PINGs, uses TCP keepalive, and drops a
        handshake that takes more than 10 s.
      - CURVE: every byte is encrypted and authenticated; the coordinator's zauth
        admits only client keys in its certificate store (the roster), and every
        frame from a client carries the metadata "fl-member" = roster member id
        of the key it authenticated with.  The client pins the coordinator's key.

    Threads: one transport per thread; not thread safe (ZeroMQ sockets are not).
*/
#ifndef FL_TRANSPORT_H_INCLUDED
#define FL_TRANSPORT_H_INCLUDED

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_TRANSPORT_MAX_PEER_IDBYTES 255u
#define FL_TRANSPORT_MEMBER_META "fl-member"

typedef struct fl_transport_t fl_transport_t;

typedef struct {
    const char *endpoint;          /* "tcp://127.0.0.1:5555"; bind for server, connect for client */
    size_t max_message_bytes;      /* ZMQ_MAXMSGSIZE; 0 = 64 MiB */
    int heartbeat_ivl_ms;          /* 0 = 1000 */
    int heartbeat_timeout_ms;      /* 0 = 10 * ivl */
    int hwm;                       /* per-peer queue bound in messages; 0 = 1000 */
    /* CURVE.  When own_cert is NULL the transport is plaintext (trusted
       networks and trials only; callers say so in their logs). */
    zcert_t *own_cert;             /* borrowed: this side's long-term CURVE certificate (with secret) */
    zcertstore_t *allow;           /* server: allowed client certificates; ownership taken (nulled) */
    const char *server_key;        /* client: pinned coordinator public key, Z85 (40 chars) */
    const char *routing_id;        /* client: stable routing id (member id), optional */
} fl_transport_config_t;

/*  A received message.  id/id_len: ROUTER routing id of the sender (server
    side only).  member: the roster member id the peer authenticated as (CURVE)
    or "" in plaintext mode.  data/len: the payload, owned by the message. */
typedef struct {
    uint8_t id[FL_TRANSPORT_MAX_PEER_IDBYTES];
    size_t id_len;
    char member[64];
    uint8_t *data;
    size_t len;
} fl_transport_msg_t;

/*  Binds a ROUTER socket at cfg->endpoint.  With CURVE, starts a zauth actor
    over cfg->allow.  Returns NULL (and logs) if the endpoint cannot be bound
    or the configuration is inconsistent (CURVE without an allow store). */
fl_transport_t *fl_transport_server_new (fl_transport_config_t *cfg);

/*  Connects a DEALER socket to cfg->endpoint (reconnecting by itself when the
    coordinator restarts).  With CURVE, cfg->server_key is required.  NULL on
    error. */
fl_transport_t *fl_transport_client_new (const fl_transport_config_t *cfg);

void fl_transport_destroy (fl_transport_t **self_p);

/*  The port actually bound (useful with "tcp://127.0.0.1:*"), or -1. */
int fl_transport_port (const fl_transport_t *self);

/*  True if the transport encrypts (CURVE). */
int fl_transport_is_secure (const fl_transport_t *self);

/*  Sends one payload.  Server: to the peer with routing id (id, id_len);
    client: to the coordinator (id ignored).  Does not block: a full queue or
    an unknown peer returns -1 (the message is dropped, logged at debug). */
int fl_transport_send (fl_transport_t *self, const uint8_t *id, size_t id_len,
                       const uint8_t *data, size_t len);

/*  Server only: sends one payload made of (data, len) followed by (tail,
    tail_len) to the peer with routing id (id, id_len), as two ZeroMQ frames
    (docs/WIRE.md, framing); a client receives their concatenation, the
    same bytes fl_transport_send of the whole payload would deliver.  The
    tail is copied into ZeroMQ once per distinct tag (nonzero, the same
    tag always the same bytes: fl_round_next_out_shared's serial) and the
    copy is shared by reference by every message sent with that tag, so n
    messages carrying one model hold one copy of it in ZeroMQ's queues.
    tail NULL or empty: fl_transport_send of data; tag 0: the tail is
    copied into this message alone.  Returns 0, or -1 as fl_transport_send (the message is dropped,
    logged at debug; out of memory likewise). */
int fl_transport_send_shared (fl_transport_t *self, const uint8_t *id, size_t id_len,
                              const uint8_t *data, size_t len,
                              const uint8_t *tail, size_t tail_len, uint64_t tag);

/*  Waits up to timeout_ms (-1 = forever) for one message.  Returns 0 with
    *msg filled (free with fl_transport_msg_free), 1 on timeout, -1 when
    interrupted (SIGINT/SIGTERM) or on a socket error.  Messages with the
    wrong frame structure are dropped and logged, and the wait goes on.  A
    client accepts a message of 1 to 4 frames from the coordinator (a
    shared model travels in its own frame) and returns their concatenation;
    more frames, or frames together above the configured maximum message
    size, are dropped.  The server accepts one frame per message. */
int fl_transport_recv (fl_transport_t *self, int timeout_ms, fl_transport_msg_t *msg);

/*  Frees msg->data (safe on an empty message). */
void fl_transport_msg_free (fl_transport_msg_t *msg);

/*  Formats a peer for log lines: the member id if known, else the routing id
    in hex (truncated).  Writes into buf (cap bytes) and returns buf. */
const char *fl_transport_peer_name (const fl_transport_msg_t *msg, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
