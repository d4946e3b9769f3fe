/*  fl_plot.c - gnuplot as a subprocess, SVG out (see fl_plot.h). */
#define _GNU_SOURCE
#include "fl_plot.h"

#include "fl_atomic.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void
s_why (char *why, size_t size, const char *fmt, ...)
{
    if (!why || !size)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why, size, fmt, ap);
    va_end (ap);
}

char *
fl_plot_svg (const char *script, int width, int height, char *why, size_t why_size)
{
    assert (script);
    const char *prog = getenv ("FL_GNUPLOT");
    if (!prog || !prog[0])
        prog = "gnuplot";
    const char *tmp = getenv ("TMPDIR");
    char dir[4096];
    snprintf (dir, sizeof dir, "%s/fl-plot.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp (dir)) {
        s_why (why, why_size, "cannot create a temporary directory: %s", strerror (errno));
        return NULL;
    }
    char gp[4200], svg[4200], err[4200];
    snprintf (gp, sizeof gp, "%s/plot.gp", dir);
    snprintf (svg, sizeof svg, "%s/plot.svg", dir);
    snprintf (err, sizeof err, "%s/stderr", dir);
    char *out = NULL;
    FILE *f = fopen (gp, "w");
    if (!f) {
        s_why (why, why_size, "cannot write %s: %s", gp, strerror (errno));
        goto done;
    }
    fprintf (f, "set terminal svg size %d,%d font 'sans,11' background rgb 'white'\nset output '%s'\n%s\nunset output\n",
             width, height, svg, script);
    if (fclose (f) != 0) {
        s_why (why, why_size, "cannot write %s: %s", gp, strerror (errno));
        goto done;
    }
    /* posix_spawnp, not fork + exec: the coordinator has CZMQ threads, and
       only async-signal-safe calls are allowed between fork and exec. */
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init (&fa) != 0) {
        s_why (why, why_size, "cannot start %s: out of memory", prog);
        goto done;
    }
    posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&fa, 1, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2 (&fa, 1, 2);
    char *argv[] = {(char *) prog, gp, NULL};
    pid_t pid = -1;
    int se = posix_spawnp (&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    if (se != 0) {
        if (se == ENOENT)
            s_why (why, why_size, "%s not found (install Debian's gnuplot-nox)", prog);
        else
            s_why (why, why_size, "cannot start %s: %s", prog, strerror (se));
        goto done;
    }
    int status = 0;
    long waited = 0;
    for (;;) {
        pid_t r = waitpid (pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            s_why (why, why_size, "waiting for %s: %s", prog, strerror (errno));
            goto done;
        }
        if (waited >= FL_PLOT_TIMEOUT_MS) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            s_why (why, why_size, "%s did not finish within %d ms", prog, FL_PLOT_TIMEOUT_MS);
            goto done;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep (&ts, NULL);
        waited += 10;
    }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        char *e = fl_file_read (err, 1u << 16, NULL);
        char line[200] = "";
        if (e) {
            /* the first line that says something */
            char *p = e;
            while (*p == '\n' || *p == ' ')
                p++;
            snprintf (line, sizeof line, "%.*s", (int) strcspn (p, "\n"), p);
            free (e);
        }
        if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
            s_why (why, why_size, "%s not found (install Debian's gnuplot-nox)", prog);
        else
            s_why (why, why_size, "%s failed%s%s", prog, line[0] ? ": " : "", line);
        goto done;
    }
    char *text = fl_file_read (svg, FL_PLOT_MAX_SVG, NULL);
    char *start = text ? strstr (text, "<svg") : NULL;
    if (!start) {
        s_why (why, why_size, "%s wrote no SVG", prog);
        free (text);
        goto done;
    }
    memmove (text, start, strlen (start) + 1);
    out = text;
done:
    unlink (gp);
    unlink (svg);
    unlink (err);
    rmdir (dir);
    return out;
}

void
fl_plot_html_escape (FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char) *s;
        switch (c) {
        case '&': fputs ("&amp;", f); break;
        case '<': fputs ("&lt;", f); break;
        case '>': fputs ("&gt;", f); break;
        case '"': fputs ("&quot;", f); break;
        case '\'': fputs ("&#39;", f); break;
        default:
            if (c >= 0x20 || c == '\t' || c == '\n')
                fputc (c, f);
        }
    }
}

void
fl_plot_gp_escape (FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '\'')
            fputs ("''", f);
        else if (c >= 0x20 && c != 0x7f)
            fputc (c, f);
    }
}
