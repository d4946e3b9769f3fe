/*  fl_plot - charts for the run report: gnuplot, run as a subprocess, turns a
    script with inline data into SVG text the report embeds.

    gnuplot is optional (Debian's gnuplot-nox): when it is missing or fails,
    fl_plot_svg returns NULL with the reason and the report is written
    without pictures (it says so).  The data the charts show is prepared by
    the callers from counts they hold (learn/fl_metrics curve points), which
    is tested without gnuplot; this file only does the I/O.

    The program is "gnuplot" found on PATH, or the path in the environment
    variable FL_GNUPLOT (tests point it at a missing file to check the
    fallback).  It runs with its own temporary directory, stdin from
    /dev/null, and is killed after FL_PLOT_TIMEOUT_MS.
*/
#ifndef FL_PLOT_H_INCLUDED
#define FL_PLOT_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_PLOT_TIMEOUT_MS 30000
/* Largest SVG accepted from gnuplot (bytes). */
#define FL_PLOT_MAX_SVG (8u << 20)

/*  Runs gnuplot on script (gnuplot commands that draw ONE plot, data inline
    as "$name << EOD ... EOD" blocks; the script must not set the terminal or
    the output: they are set here to "svg size width,height" and a temporary
    file).  Returns the SVG document as a new string (the caller frees it)
    starting at "<svg" (the XML prolog and doctype removed, so it can sit
    inside HTML), or NULL with the reason in why (gnuplot not found, exited
    with an error (its first error line), timed out, produced no SVG). */
char *fl_plot_svg (const char *script, int width, int height, char *why, size_t why_size);

/*  Appends s to the stream f as HTML text: & < > " ' escaped, and bytes
    below 0x20 other than tab and newline dropped.  NULL s writes nothing. */
void fl_plot_html_escape (FILE *f, const char *s);

/*  Appends s to f as a gnuplot single-quoted string body ('' for ', control
    bytes dropped), for titles taken from data. */
void fl_plot_gp_escape (FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif
