/*  fl_log.c - ISO-8601 UTC log lines (text or JSON) for zsys logging; see
    fl_log.h for why this goes through a FILE * cookie. */
#define _GNU_SOURCE
#include "fl_log.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

static const char *s_program = "libfl";
static fl_log_format_t s_format = FL_LOG_TEXT;
static char s_pending[8192];          /* a line being assembled by the cookie */
static size_t s_pending_len;

int
fl_log_format_parse (const char *name, fl_log_format_t *out)
{
    if (strcmp (name, "text") == 0)
        *out = FL_LOG_TEXT;
    else if (strcmp (name, "json") == 0)
        *out = FL_LOG_JSON;
    else
        return -1;
    return 0;
}

static const char *
s_level (char c)
{
    switch (c) {
    case 'D': return "debug";
    case 'I': return "info";
    case 'N': return "notice";
    case 'W': return "warning";
    case 'E': return "error";
    case 'C': return "critical";
    default: return NULL;
    }
}

/* appends src[0..n) to out at *off, JSON-escaped if json */
static void
s_put (char *out, size_t cap, size_t *off, const char *src, size_t n, int json)
{
    for (size_t i = 0; i < n && *off + 7 < cap; i++) {
        unsigned char c = (unsigned char) src[i];
        if (json && (c == '"' || c == '\\'))
            *off += (size_t) snprintf (out + *off, cap - *off, "\\%c", c);
        else if (json && c < 0x20)
            *off += (size_t) snprintf (out + *off, cap - *off, "\\u%04x", c);
        else
            out[(*off)++] = (char) c;
    }
    out[*off] = 0;
}

size_t
fl_log_format_line (const char *line, size_t len, const char *program, fl_log_format_t format,
                    const struct timespec *ts, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    out[0] = 0;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    const char *level = len >= 3 && line[1] == ':' && line[2] == ' ' ? s_level (line[0]) : NULL;
    const char *msg = line;
    if (level) {
        msg = line + 3;
        if (msg < line + len && *msg == '(') {            /* "(ident) " */
            const char *close = memchr (msg, ')', (size_t) (line + len - msg));
            if (close && close + 1 < line + len && close[1] == ' ')
                msg = close + 2;
        }
        /* CZMQ's own "yy-mm-dd HH:MM:SS " */
        static const char pat[] = "dd-dd-dd dd:dd:dd ";
        size_t k = 0;
        for (; k < sizeof pat - 1 && msg + k < line + len; k++)
            if (pat[k] == 'd' ? !(msg[k] >= '0' && msg[k] <= '9') : msg[k] != pat[k])
                break;
        if (k == sizeof pat - 1)
            msg += k;
    }
    else
        level = "info";
    size_t mlen = (size_t) (line + len - msg);
    struct tm tm;
    time_t secs = ts->tv_sec;
    gmtime_r (&secs, &tm);
    char stamp[40];
    size_t sl = strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (stamp + sl, sizeof stamp - sl, ".%03ldZ", (long) (ts->tv_nsec / 1000000));
    size_t off = 0;
    if (format == FL_LOG_JSON) {
        off = (size_t) snprintf (out, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"program\":\"", stamp, level);
        if (off >= cap)
            off = cap - 1;
        s_put (out, cap, &off, program, strlen (program), 1);
        if (off + 10 < cap)
            off += (size_t) snprintf (out + off, cap - off, "\",\"msg\":\"");
        s_put (out, cap, &off, msg, mlen, 1);
        if (off + 3 < cap)
            off += (size_t) snprintf (out + off, cap - off, "\"}");
    }
    else {
        char up[16];
        size_t i = 0;
        for (; level[i] && i < sizeof up - 1; i++)
            up[i] = (char) (level[i] - 'a' + 'A');
        up[i] = 0;
        off = (size_t) snprintf (out, cap, "%s %s %s: ", stamp, up, program);
        if (off >= cap)
            off = cap - 1;
        s_put (out, cap, &off, msg, mlen, 0);
    }
    if (off + 1 < cap) {
        out[off++] = '\n';
        out[off] = 0;
    }
    else {
        out[cap - 2] = '\n';
        out[cap - 1] = 0;
        off = cap - 1;
    }
    return off;
}

static void
s_emit (const char *line, size_t len)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    char out[sizeof s_pending * 2];
    size_t n = fl_log_format_line (line, len, s_program, s_format, &ts, out, sizeof out);
    fwrite (out, 1, n, stderr);
    fflush (stderr);
}

static ssize_t
s_cookie_write (void *cookie, const char *buf, size_t size)
{
    (void) cookie;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n' || s_pending_len == sizeof s_pending - 1) {
            s_emit (s_pending, s_pending_len);
            s_pending_len = 0;
            if (buf[i] == '\n')
                continue;
        }
        s_pending[s_pending_len++] = buf[i];
    }
    return (ssize_t) size;
}

int
fl_log_init (const char *program, fl_log_format_t format)
{
    s_program = program;
    s_format = format;
    cookie_io_functions_t io = {.read = NULL, .write = s_cookie_write, .seek = NULL, .close = NULL};
    FILE *f = fopencookie (NULL, "w", io);
    if (!f) {
        fprintf (stderr, "%s: cannot set up the log stream; CZMQ's log format is kept\n", program);
        return -1;
    }
    setvbuf (f, NULL, _IOLBF, 0);
    zsys_set_logstream (f);
    zsys_set_logident ("");         /* the program name is in each rewritten line */
    return 0;
}
