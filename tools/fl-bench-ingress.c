/*  fl-bench-ingress: the coordinator's ingress of large plaintext UPDATE
    messages against raw ZeroMQ on the same loopback (issue 17).

    For each update size m (float32 parameters) a sender process (forked
    before this process makes any ZeroMQ socket) sends N messages of the
    encoded UPDATE's size from a DEALER over tcp://127.0.0.1; this process
    receives them, three ways:

      raw        ROUTER, zmq_msg_recv of every frame, nothing else (CURVE off)
      raw+curve  the same with CURVE on both sockets
      ingest     the coordinator's path for a plaintext UPDATE:
                 fl_transport_recv (io/fl_transport: ROUTER, the payload
                 copied out of the ZeroMQ frame), fl_wire_decode with the
                 admitted-peer limits (proto/fl_wire, as fl_round does), and
                 the work of s_on_update in session/fl_cohort.c, repeated
                 here step by step because it is static there:
                 fl_wire_get_u64 / fl_wire_get_f64 of n and loss,
                 fl_wire_copy_f32s into a fresh delta, the isfinite check
                 of every value, and the weighted sum into the bucket's
                 double accumulator.

    Printed per mode: wall MB/s (first message after the warm-up to the
    last), MB per CPU-second of this receiving process (all its threads:
    the main thread and ZeroMQ's I/O thread; the sender is another
    process), and for ingest the main thread's CPU split by stage (recv,
    decode, sum) and ZeroMQ's I/O thread (process CPU - main thread).
    The ratios are ingest / raw (CURVE off), wall and per CPU-second.

    Usage: fl-bench-ingress [--m LIST] [--mb MB]
      default: --m 100000,2100000 --mb 200 (MB sent per mode and size)
*/
#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fl_transport.h"
#include "fl_wire.h"

static double
s_clock (clockid_t id)
{
    struct timespec ts;
    clock_gettime (id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
#define S_WALL()   s_clock (CLOCK_MONOTONIC)
#define S_PROC()   s_clock (CLOCK_PROCESS_CPUTIME_ID)
#define S_THREAD() s_clock (CLOCK_THREAD_CPUTIME_ID)

enum { MODE_RAW, MODE_CURVE, MODE_INGEST };
static const char *s_mode_name[] = {"raw", "raw+curve", "ingest"};

/* The encoded UPDATE of m parameters (what fl_client sends), malloc'd. */
static uint8_t *
s_update (size_t m, size_t *len)
{
    float *delta = (float *) malloc (m * sizeof (float));
    if (!delta)
        return NULL;
    for (size_t i = 0; i < m; i++)
        delta[i] = (float) ((double) (i % 1000) * 1e-4 - 0.05);
    uint8_t run[FL_WIRE_RUNIDBYTES] = {1};
    fl_wire_writer_t *w = fl_wire_writer_new (FL_WIRE_UPDATE, run, 1);
    fl_wire_put_f32s (w, FL_K_DELTA, delta, m);
    fl_wire_put_u64 (w, FL_K_N, 32);
    fl_wire_put_f64 (w, FL_K_LOSS, 0.5);
    uint8_t *buf = NULL;
    if (fl_wire_writer_finish (&w, &buf, len) != 0)
        buf = NULL;
    free (delta);
    return buf;
}

/* The sender (child process): reads the port from fd, sends 1 + msgs
   copies of buf from a DEALER, waits until they are delivered, exits.
   Plain libzmq with a fresh context: the parent's CZMQ context (and its
   I/O thread) does not survive fork. */
static void
s_sender (int fd, const uint8_t *buf, size_t len, int msgs, zcert_t *client, zcert_t *server)
{
    int port = 0;
    if (read (fd, &port, sizeof port) != (ssize_t) sizeof port || port <= 0)
        _exit (2);
    void *ctx = zmq_ctx_new ();
    void *s = ctx ? zmq_socket (ctx, ZMQ_DEALER) : NULL;
    if (!s)
        _exit (2);
    int hwm = 4, linger = -1;
    zmq_setsockopt (s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
    if (client && server) {
        zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, zcert_public_key (client), 32);
        zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, zcert_secret_key (client), 32);
        zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, zcert_public_key (server), 32);
    }
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    if (zmq_connect (s, ep) != 0)
        _exit (2);
    for (int i = 0; i <= msgs; i++)
        if (zmq_send (s, buf, len, 0) != (int) len)
            _exit (3);
    zmq_close (s);
    zmq_ctx_term (ctx);      /* linger -1: returns when everything is sent */
    _exit (0);
}

typedef struct {
    double wall, cpu;                 /* seconds, messages 1..msgs */
    double t_recv, t_decode, t_sum;   /* main thread CPU, ingest only */
    double main_cpu;                  /* main thread CPU, all stages */
    double faults;                    /* minor page faults of this process */
    int ok;
} result_t;

/* Receives 1 + msgs messages of len bytes in `mode`; the first is the
   warm-up (connection and, with CURVE, the handshake) and is not timed. */
static result_t
s_receive (int mode, size_t m, const uint8_t *buf, size_t len, int msgs)
{
    result_t r = {0};
    zcert_t *server = NULL, *client = NULL;
    if (mode == MODE_CURVE) {
        server = zcert_new ();
        client = zcert_new ();
    }
    int pfd[2];
    if (pipe (pfd) != 0)
        return r;
    fflush (stdout);
    pid_t pid = fork ();
    if (pid == 0) {
        close (pfd[1]);
        s_sender (pfd[0], buf, len, msgs, client, server);
    }
    close (pfd[0]);
    if (pid < 0) {
        close (pfd[1]);
        return r;
    }

    zsock_t *rt = NULL;
    fl_transport_t *tr = NULL;
    int port = -1;
    if (mode == MODE_INGEST) {
        fl_transport_config_t cfg = {.endpoint = "tcp://127.0.0.1:*", .max_message_bytes = len + 4096, .hwm = 4};
        tr = fl_transport_server_new (&cfg);
        port = tr ? fl_transport_port (tr) : -1;
    }
    else {
        rt = zsock_new (ZMQ_ROUTER);
        if (rt) {
            zsock_set_rcvhwm (rt, 4);
            if (server) {
                zcert_apply (server, rt);
                zsock_set_curve_server (rt, 1);
            }
            port = zsock_bind (rt, "tcp://127.0.0.1:*");
        }
    }
    if (write (pfd[1], &port, sizeof port) != (ssize_t) sizeof port)
        port = -1;
    close (pfd[1]);

    double *sum = (double *) calloc (m + 3, sizeof (double));
    double w0 = 0, c0 = 0, m0 = 0;
    size_t got = 0;
    int ok = port > 0 && sum;
    for (int i = 0; ok && i <= msgs; i++) {
        if (i == 1) {
            w0 = S_WALL ();
            c0 = S_PROC ();
            m0 = S_THREAD ();
            struct rusage ru;
            getrusage (RUSAGE_SELF, &ru);
            r.faults = -(double) ru.ru_minflt;
        }
        if (mode != MODE_INGEST) {
            void *s = zsock_resolve (rt);
            size_t bytes = 0;
            int more = 1;
            while (more) {
                zmq_msg_t f;
                zmq_msg_init (&f);
                if (zmq_msg_recv (&f, s, 0) < 0) {
                    ok = 0;
                    break;
                }
                bytes += zmq_msg_size (&f);
                more = zmq_msg_more (&f);
                zmq_msg_close (&f);
            }
            got += bytes;
            continue;
        }
        double t0 = S_THREAD ();
        fl_transport_msg_t msg;
        if (fl_transport_recv (tr, 30000, &msg) != 0) {
            ok = 0;
            break;
        }
        double t1 = S_THREAD ();
        char why[FL_WIRE_WHYBYTES];
        fl_wire_limits_t limits = fl_wire_limits_default ();
        fl_wire_msg_t *wm = fl_wire_decode (msg.data, msg.len, &limits, why, sizeof why);
        got += msg.len;
        fl_transport_msg_free (&msg);
        double t2 = S_THREAD ();
        if (!wm) {
            fprintf (stderr, "fl-bench-ingress: decode: %s\n", why);
            ok = 0;
            break;
        }
        /* s_on_update (session/fl_cohort.c), plaintext, no privacy, not robust */
        uint64_t n = 0;
        double loss = 0;
        float *delta = (float *) malloc (m * sizeof (float));
        if (!delta || fl_wire_get_u64 (wm, FL_K_N, &n) != 0 || fl_wire_get_f64 (wm, FL_K_LOSS, &loss) != 0
            || fl_wire_copy_f32s (wm, FL_K_DELTA, delta, m) != 0 || n == 0)
            ok = 0;
        for (size_t j = 0; ok && j < m; j++)
            if (!isfinite (delta[j]))
                ok = 0;
        if (ok) {
            for (size_t j = 0; j < m; j++)
                sum[j] += (double) n * delta[j];
            sum[m] += (double) n;
            sum[m + 1] += (double) n * loss;
        }
        free (delta);
        fl_wire_msg_destroy (&wm);
        double t3 = S_THREAD ();
        if (i >= 1) {
            r.t_recv += t1 - t0;
            r.t_decode += t2 - t1;
            r.t_sum += t3 - t2;
        }
    }
    if (ok) {
        r.wall = S_WALL () - w0;
        r.cpu = S_PROC () - c0;
        r.main_cpu = S_THREAD () - m0;
        struct rusage ru;
        getrusage (RUSAGE_SELF, &ru);
        r.faults += (double) ru.ru_minflt;
        r.ok = got >= (size_t) (msgs + 1) * len;
        /* the sum must be what was sent: msgs + 1 updates of weight 32 */
        if (mode == MODE_INGEST && sum[m] != 32.0 * (msgs + 1))
            r.ok = 0;
    }
    free (sum);
    zsock_destroy (&rt);
    fl_transport_destroy (&tr);
    int st = 0;
    if (!ok)
        kill (pid, SIGTERM);
    waitpid (pid, &st, 0);
    if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
        r.ok = 0;
    zcert_destroy (&server);
    zcert_destroy (&client);
    return r;
}

int
main (int argc, char **argv)
{
    const char *mlist = "100000,2100000";
    double mb = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv[i], "--m") && i + 1 < argc)
            mlist = argv[++i];
        else if (!strcmp (argv[i], "--mb") && i + 1 < argc)
            mb = atof (argv[++i]);
        else {
            int help = !strcmp (argv[i], "--help") || !strcmp (argv[i], "-h");
            fprintf (help ? stdout : stderr, "usage: fl-bench-ingress [--m LIST] [--mb MB]\n"
                                             "  default: --m 100000,2100000 --mb 200\n");
            return help ? 0 : 2;
        }
    }
    if (!(mb > 0))
        mb = 200;
    printf ("coordinator ingress of plaintext UPDATE messages against raw ZeroMQ, DEALER (another process) ->\n"
            "ROUTER over tcp://127.0.0.1, %.0f MB per mode; MB = 1e6 bytes; CPU = this receiving process\n\n", mb);
    printf ("%9s %10s %-9s %5s %9s %9s | %-36s | %9s | %s\n", "m", "bytes", "mode", "msgs", "wall MB/s", "MB/CPU-s",
            "ingest CPU split: recv decode sum zmq-io", "faults/MB", "ratio wall, CPU");
    char *list = strdup (mlist);
    int rc = 0;
    for (char *tok = strtok (list, ","); tok; tok = strtok (NULL, ",")) {
        size_t m = (size_t) strtoull (tok, NULL, 10);
        if (m == 0)
            continue;
        size_t len = 0;
        uint8_t *buf = s_update (m, &len);
        if (!buf) {
            fprintf (stderr, "fl-bench-ingress: cannot encode an update of %zu parameters\n", m);
            rc = 1;
            continue;
        }
        int msgs = (int) (mb * 1e6 / (double) len);
        if (msgs < 10)
            msgs = 10;
        result_t res[3];
        for (int mode = 0; mode < 3; mode++) {
            result_t r = res[mode] = s_receive (mode, m, buf, len, msgs);
            if (!r.ok) {
                printf ("%9zu %10zu %-9s  failed\n", m, len, s_mode_name[mode]);
                rc = 1;
                continue;
            }
            double bytes = (double) msgs * len;
            printf ("%9zu %10zu %-9s %5d %9.0f %9.0f |", m, len, s_mode_name[mode], msgs, bytes / r.wall / 1e6,
                    bytes / r.cpu / 1e6);
            if (mode == MODE_INGEST) {
                double io = r.cpu - r.main_cpu;
                printf (" %7.0f%% %5.0f%% %4.0f%% %6.0f%%     |", 100 * r.t_recv / r.cpu, 100 * r.t_decode / r.cpu,
                        100 * r.t_sum / r.cpu, 100 * (io > 0 ? io : 0) / r.cpu);
                printf (" %9.0f |", r.faults / (bytes / 1e6));
                if (res[MODE_RAW].ok)
                    printf (" %.2f, %.2f", res[MODE_RAW].wall / r.wall, res[MODE_RAW].cpu / r.cpu);
            }
            else
                printf (" %36s | %9.0f |", "", r.faults / (bytes / 1e6));
            printf ("\n");
        }
        free (buf);
    }
    free (list);
    return rc;
}
