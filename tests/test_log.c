/*  test_log.c - fl_log: CZMQ's log lines rewritten with ISO-8601 UTC
    timestamps and level names, as text and as JSON lines. */
#include "fl_log.h"
#include "fl_test.h"

static void
test_text_and_json_lines (void)
{
    struct timespec ts = {.tv_sec = 1796463103, .tv_nsec = 123456789};   /* 2026-12-05T09:31:43.123Z */
    char out[512];
    const char *in = "W: (fl-coordinator) 26-12-05 10:31:43 coordinator: member-03 missed the deadline\n";
    size_t n = fl_log_format_line (in, strlen (in), "fl-coordinator", FL_LOG_TEXT, &ts, out, sizeof out);
    FL_CHECK (n == strlen (out));
    FL_CHECK (strcmp (out, "2026-12-05T09:31:43.123Z WARNING fl-coordinator: coordinator: member-03 missed the "
                           "deadline\n") == 0);
    /* no ident, JSON, a quote and a control character escaped */
    in = "E: 26-12-05 10:31:43 bad \"value\"\tthere";
    fl_log_format_line (in, strlen (in), "fl-client", FL_LOG_JSON, &ts, out, sizeof out);
    FL_CHECK (strcmp (out, "{\"ts\":\"2026-12-05T09:31:43.123Z\",\"level\":\"error\",\"program\":\"fl-client\","
                           "\"msg\":\"bad \\\"value\\\"\\u0009there\"}\n") == 0);
    /* a line not from zsys: kept whole as an info message */
    in = "plain words";
    fl_log_format_line (in, strlen (in), "x", FL_LOG_TEXT, &ts, out, sizeof out);
    FL_CHECK (strcmp (out, "2026-12-05T09:31:43.123Z INFO x: plain words\n") == 0);
    /* truncation keeps the terminator */
    char small[40];
    in = "I: 26-12-05 10:31:43 a long message that does not fit into forty bytes";
    n = fl_log_format_line (in, strlen (in), "x", FL_LOG_TEXT, &ts, small, sizeof small);
    FL_CHECK (n > 30 && n < sizeof small && small[n - 1] == '\n' && small[n] == 0);
    fl_log_format_t f;
    FL_CHECK (fl_log_format_parse ("json", &f) == 0 && f == FL_LOG_JSON);
    FL_CHECK (fl_log_format_parse ("text", &f) == 0 && f == FL_LOG_TEXT);
    FL_CHECK (fl_log_format_parse ("xml", &f) == -1);
}

int
main (int argc, char **argv)
{
    FL_TEST_INIT (argc, argv);
    FL_RUN (test_text_and_json_lines);
    FL_TEST_DONE ();
}
