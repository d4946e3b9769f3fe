/*  fl_transport.c - CZMQ ROUTER/DEALER with CURVE, zauth, limits, heartbeats.

    Why ROUTER/DEALER: the coordinator talks to many clients asynchronously
    (it sends a round's work to a cohort, then collects whatever arrives
    before the deadline); the routing id identifies the connection, and in
    CURVE mode the authenticated member id travels as frame metadata set by
    zauth from the roster certificate, which a client cannot forge.
*/
#include "fl_transport.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

struct fl_transport_t {
    zsock_t *sock;
    zactor_t *auth;
    zpoller_t *poller;
    int is_server;
    int secure;
    int port;
    size_t max_bytes;                /* the configured maximum message size */
    uint64_t tail_tag;               /* fl_transport_send_shared: the tag of tail_msg, 0 = none */
    zmq_msg_t tail_msg;              /* ... its one copy in ZeroMQ, shared by reference */
};

/* Most frames a client accepts in one message from the coordinator. */
#define S_MAX_FRAMES 4

static size_t
s_max_bytes (const fl_transport_config_t *cfg)
{
    size_t max = cfg->max_message_bytes ? cfg->max_message_bytes : (size_t) 64 << 20;
    return max > (size_t) INT32_MAX ? (size_t) INT32_MAX : max;
}

static void
s_apply_common (zsock_t *sock, const fl_transport_config_t *cfg)
{
    size_t max = s_max_bytes (cfg);
    int ivl = cfg->heartbeat_ivl_ms > 0 ? cfg->heartbeat_ivl_ms : 1000;
    int tmo = cfg->heartbeat_timeout_ms > 0 ? cfg->heartbeat_timeout_ms : 10 * ivl;
    int hwm = cfg->hwm > 0 ? cfg->hwm : 1000;
    zsock_set_maxmsgsize (sock, (int) max);
    zsock_set_heartbeat_ivl (sock, ivl);
    zsock_set_heartbeat_timeout (sock, tmo);
    zsock_set_heartbeat_ttl (sock, tmo);
    zsock_set_sndhwm (sock, hwm);
    zsock_set_rcvhwm (sock, hwm);
    zsock_set_linger (sock, 200);
    zsock_set_sndtimeo (sock, 0);
}

fl_transport_t *
fl_transport_server_new (fl_transport_config_t *cfg)
{
    assert (cfg && cfg->endpoint);
    if (cfg->own_cert && !cfg->allow) {
        zsys_error ("transport: CURVE server needs an allowlist (roster certificates)");
        return NULL;
    }
    fl_transport_t *self = (fl_transport_t *) zmalloc (sizeof *self);
    self->is_server = 1;
    if (cfg->own_cert) {
        /* zauth takes the certificate store; it must run before the bind. */
        zcertstore_t *store = cfg->allow;
        cfg->allow = NULL;
        self->auth = zactor_new (zauth, store);
        if (!self->auth) {
            zsys_error ("transport: cannot start zauth");
            zcertstore_destroy (&store);
            free (self);
            return NULL;
        }
        self->secure = 1;
    }
    self->sock = zsock_new (ZMQ_ROUTER);
    if (!self->sock)
        goto fail;
    s_apply_common (self->sock, cfg);
    self->max_bytes = s_max_bytes (cfg);
    /* libzmq 4.3.4 (Debian 12) aborts the process (Assertion failed:
       !_io_error, stream_engine_base.cpp; libzmq issue #4841) when an
       engine's ZMTP heartbeat timer fires after its connection failed while
       input was stopped: out_event asserts where restart_output checks.  The
       heartbeat timer is the only caller that does not check, so the
       coordinator sends no ZMTP heartbeats of its own: it still answers its
       clients' PINGs (they detect a dead coordinator), dead client
       connections are found by TCP keepalive, and member liveness is the
       round state machine's (application heartbeats, deadlines, --liveness).
       A handshake that does not finish in 10 s is dropped (hostile
       half-open connections).  docs/FAULTS.md, hostile connections. */
    zsock_set_heartbeat_ivl (self->sock, 0);
    zsock_set_heartbeat_timeout (self->sock, 0);
    zsock_set_heartbeat_ttl (self->sock, 0);
    zsock_set_tcp_keepalive (self->sock, 1);
    zsock_set_tcp_keepalive_idle (self->sock, 30);
    zsock_set_tcp_keepalive_intvl (self->sock, 10);
    zsock_set_tcp_keepalive_cnt (self->sock, 3);
    zsock_set_handshake_ivl (self->sock, 10000);
    /* Handover: a peer that connects with a routing id already in use takes
       it (and every message for it) over.  Plaintext: a reconnecting client
       takes its id back (ids are unauthenticated there anyway).  CURVE: off,
       so no connection, even one with another valid roster key, can take a
       live member's routing id; members connect without a routing id of
       their own (the ROUTER draws one per connection) and fl_round moves a
       member to its new connection only when it authenticated with the
       member's key (docs/SECURITY.md, transport identity). */
    zsock_set_router_handover (self->sock, cfg->own_cert ? 0 : 1);
    zsock_set_router_mandatory (self->sock, 1);  /* unknown peer: error, not a silent drop */
    if (self->secure) {
        zsock_set_zap_domain (self->sock, "libfl");
        zcert_apply (cfg->own_cert, self->sock);
        zsock_set_curve_server (self->sock, 1);
    }
    self->port = zsock_bind (self->sock, "%s", cfg->endpoint);
    if (self->port < 0) {
        zsys_error ("transport: cannot bind %s: %s", cfg->endpoint, zmq_strerror (zmq_errno ()));
        goto fail;
    }
    self->poller = zpoller_new (self->sock, NULL);
    return self;
fail:
    fl_transport_destroy (&self);
    return NULL;
}

fl_transport_t *
fl_transport_client_new (const fl_transport_config_t *cfg)
{
    assert (cfg && cfg->endpoint);
    if (cfg->own_cert && (!cfg->server_key || strlen (cfg->server_key) != 40)) {
        zsys_error ("transport: CURVE client needs the coordinator's public key (40 Z85 characters)");
        return NULL;
    }
    fl_transport_t *self = (fl_transport_t *) zmalloc (sizeof *self);
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    s_apply_common (self->sock, cfg);
    self->max_bytes = s_max_bytes (cfg);
    zsock_set_reconnect_ivl (self->sock, 200);
    zsock_set_reconnect_ivl_max (self->sock, 2000);
    if (cfg->routing_id)
        zsock_set_identity (self->sock, cfg->routing_id);
    if (cfg->own_cert) {
        zcert_apply (cfg->own_cert, self->sock);
        zsock_set_curve_serverkey (self->sock, cfg->server_key);
        self->secure = 1;
    }
    if (zsock_connect (self->sock, "%s", cfg->endpoint) != 0) {
        zsys_error ("transport: cannot connect to %s: %s", cfg->endpoint, zmq_strerror (zmq_errno ()));
        goto fail;
    }
    self->poller = zpoller_new (self->sock, NULL);
    self->port = -1;
    return self;
fail:
    fl_transport_destroy (&self);
    return NULL;
}

void
fl_transport_destroy (fl_transport_t **self_p)
{
    assert (self_p);
    fl_transport_t *self = *self_p;
    if (!self)
        return;
    if (self->tail_tag)
        zmq_msg_close (&self->tail_msg);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->sock);
    zactor_destroy (&self->auth);
    free (self);
    *self_p = NULL;
}

int
fl_transport_port (const fl_transport_t *self)
{
    return self->port;
}

int
fl_transport_is_secure (const fl_transport_t *self)
{
    return self->secure;
}

int
fl_transport_send (fl_transport_t *self, const uint8_t *id, size_t id_len,
                   const uint8_t *data, size_t len)
{
    zmsg_t *msg = zmsg_new ();
    if (self->is_server)
        zmsg_addmem (msg, id, id_len);
    zmsg_addmem (msg, data, len);
    if (zmsg_send (&msg, self->sock) != 0) {
        zmsg_destroy (&msg);
        zsys_debug ("transport: send failed: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

int
fl_transport_send_shared (fl_transport_t *self, const uint8_t *id, size_t id_len, const uint8_t *data, size_t len,
                          const uint8_t *tail, size_t tail_len, uint64_t tag)
{
    assert (self->is_server);
    if (!tail || !tail_len)
        return fl_transport_send (self, id, id_len, data, len);
    if (tag && tag != self->tail_tag) {
        if (self->tail_tag)
            zmq_msg_close (&self->tail_msg);
        self->tail_tag = 0;
        if (zmq_msg_init_size (&self->tail_msg, tail_len) != 0)
            return -1;
        memcpy (zmq_msg_data (&self->tail_msg), tail, tail_len);
        self->tail_tag = tag;
    }
    void *sock = zsock_resolve (self->sock);
    zmq_msg_t part;
    /* routing id; router_mandatory: an unknown peer fails here, nothing sent */
    if (zmq_msg_init_size (&part, id_len) != 0)
        return -1;
    memcpy (zmq_msg_data (&part), id, id_len);
    if (zmq_msg_send (&part, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&part);
        zsys_debug ("transport: send failed: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    /* after the first frame ZeroMQ takes the rest of the message whole */
    int rc = zmq_msg_init_size (&part, len);
    if (rc == 0) {
        if (len)
            memcpy (zmq_msg_data (&part), data, len);
        rc = zmq_msg_send (&part, sock, ZMQ_SNDMORE) < 0 ? -1 : 0;
        if (rc != 0)
            zmq_msg_close (&part);
    }
    if (rc == 0 && tag) {
        rc = zmq_msg_init (&part);
        if (rc == 0 && (rc = zmq_msg_copy (&part, &self->tail_msg)) == 0)   /* a reference, not a copy */
            rc = zmq_msg_send (&part, sock, 0) < 0 ? -1 : 0;
        if (rc != 0)
            zmq_msg_close (&part);
    }
    else if (rc == 0) {
        rc = zmq_msg_init_size (&part, tail_len);
        if (rc == 0) {
            memcpy (zmq_msg_data (&part), tail, tail_len);
            rc = zmq_msg_send (&part, sock, 0) < 0 ? -1 : 0;
            if (rc != 0)
                zmq_msg_close (&part);
        }
    }
    if (rc != 0) {
        zsys_debug ("transport: send failed: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

int
fl_transport_recv (fl_transport_t *self, int timeout_ms, fl_transport_msg_t *out)
{
    memset (out, 0, sizeof *out);
    int64_t deadline = timeout_ms < 0 ? -1 : zclock_mono () + timeout_ms;
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - zclock_mono ();
            if (left <= 0)
                return 1;
            wait = (int) left;
        }
        void *which = zpoller_wait (self->poller, wait);
        if (!which) {
            if (zpoller_terminated (self->poller) || zsys_interrupted)
                return -1;
            if (zpoller_expired (self->poller))
                return 1;
            continue;
        }
        zmsg_t *msg = zmsg_recv (self->sock);
        if (!msg)
            return -1;
        size_t frames = zmsg_size (msg);
        if (self->is_server ? frames != 2 : frames < 1 || frames > S_MAX_FRAMES) {
            zsys_warning ("transport: dropped a message with %zu frames (expected %s)", frames,
                          self->is_server ? "2" : "1 to 4");
            zmsg_destroy (&msg);
            continue;
        }
        if (self->is_server) {
            zframe_t *idf = zmsg_pop (msg);
            size_t n = zframe_size (idf);
            if (n > sizeof out->id)
                n = sizeof out->id;
            memcpy (out->id, zframe_data (idf), n);
            out->id_len = n;
            zframe_destroy (&idf);
        }
        if (self->secure) {
            zframe_t *first = zmsg_first (msg);
            const char *member = first ? zframe_meta (first, FL_TRANSPORT_MEMBER_META) : NULL;
            if (member)
                snprintf (out->member, sizeof out->member, "%s", member);
        }
        /* the payload: the frames' concatenation (one frame but for a
           coordinator's message with a shared model) */
        size_t total = 0;
        for (zframe_t *f = zmsg_first (msg); f; f = zmsg_next (msg))
            total += zframe_size (f);
        if (total > self->max_bytes) {
            zsys_warning ("transport: dropped a message of %zu bytes in %zu frames (maximum %zu)", total, frames,
                          self->max_bytes);
            zmsg_destroy (&msg);
            continue;
        }
        out->len = total;
        out->data = (uint8_t *) malloc (total ? total : 1);
        if (!out->data) {
            zmsg_destroy (&msg);
            return -1;
        }
        size_t off = 0;
        for (zframe_t *f = zmsg_first (msg); f; f = zmsg_next (msg)) {
            memcpy (out->data + off, zframe_data (f), zframe_size (f));
            off += zframe_size (f);
        }
        zmsg_destroy (&msg);
        return 0;
    }
}

void
fl_transport_msg_free (fl_transport_msg_t *msg)
{
    if (msg) {
        free (msg->data);
        msg->data = NULL;
        msg->len = 0;
    }
}

const char *
fl_transport_peer_name (const fl_transport_msg_t *msg, char *buf, size_t cap)
{
    if (msg->member[0]) {
        snprintf (buf, cap, "%s", msg->member);
        return buf;
    }
    size_t n = msg->id_len < 8 ? msg->id_len : 8;
    int printable = msg->id_len > 0;
    for (size_t i = 0; i < msg->id_len; i++)
        printable &= msg->id[i] >= 0x21 && msg->id[i] < 0x7f;
    if (printable) {
        snprintf (buf, cap, "%.*s", (int) msg->id_len, (const char *) msg->id);
        return buf;
    }
    size_t off = (size_t) snprintf (buf, cap, "peer:");
    for (size_t i = 0; i < n && off + 3 < cap; i++)
        off += (size_t) snprintf (buf + off, cap - off, "%02x", msg->id[i]);
    return buf;
}
