/*  fl_log - log lines for operators: ISO-8601 UTC timestamps and level
    names, as text or JSON lines, for every zsys_* log call of a program.

    CZMQ 4.2.1 formats zsys log lines itself ("I: (ident) 26-12-05 09:11:43
    text": local time, a two-digit year, no zone) and offers no formatter
    hook, only a FILE * (zsys_set_logstream).  fl_log_init installs a stream
    (fopencookie) that rewrites each line as

        2026-12-05T09:11:43.123Z INFO fl-coordinator: text
        {"ts":"2026-12-05T09:11:43.123Z","level":"info","program":"fl-coordinator","msg":"text"}

    and writes it to stderr (stdout carries only results and progress).  The
    time is taken when the line is written (UTC, milliseconds), not parsed
    from CZMQ's.  Threads: CZMQ serialises zsys logging per process.
*/
#ifndef FL_LOG_H_INCLUDED
#define FL_LOG_H_INCLUDED

#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FL_LOG_TEXT = 0, FL_LOG_JSON = 1 } fl_log_format_t;

/*  Parses "text" or "json" into *out.  0, or -1 for anything else. */
int fl_log_format_parse (const char *name, fl_log_format_t *out);

/*  Routes zsys logging of this process through the rewriting stream, with
    program as the program name.  Call after zsys_init.  0, or -1 (logging
    left as it was, with a line on stderr) if the stream cannot be made. */
int fl_log_init (const char *program, fl_log_format_t format);

/*  Rewrites one CZMQ log line (line[0..len), with or without its newline)
    into out (cap bytes, always NUL-terminated, ends with "\n"), stamped with
    *ts (UTC).  Lines that do not start with a zsys level letter ("D: ",
    "I: ", "N: ", "W: ", "E: ", "C: ") are kept as the message of an "info"
    line.  Returns the length written (truncated to cap - 1). */
size_t fl_log_format_line (const char *line, size_t len, const char *program, fl_log_format_t format,
                           const struct timespec *ts, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
