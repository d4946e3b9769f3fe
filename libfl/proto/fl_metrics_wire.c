/*  fl_metrics_wire.c - evaluation counts <-> EVAL_RESULT messages.

    Kept apart from fl_metrics.c so the metric definitions do not depend on
    the wire format.  The client sends counts and histograms, never scores
    or labels of individual examples.
*/
#include <string.h>

#include "fl_metrics_wire.h"
#include "fl_wire.h"

int
fl_metrics_counts_to_wire (const fl_metrics_counts_t *c, struct fl_wire_writer_t *w)
{
    int rc = 0;
    rc |= fl_wire_put_u64 (w, FL_K_N, c->n);
    rc |= fl_wire_put_u64 (w, FL_K_CORRECT, c->n_correct);
    rc |= fl_wire_put_f64 (w, FL_K_LOSS_SUM, c->log_loss_sum);
    rc |= fl_wire_put_u64 (w, FL_K_TRUE_POS, c->tp);
    rc |= fl_wire_put_u64 (w, FL_K_FALSE_POS, c->fp);
    rc |= fl_wire_put_u64 (w, FL_K_TRUE_NEG, c->tn);
    rc |= fl_wire_put_u64 (w, FL_K_FALSE_NEG, c->fn);
    /* Multi-class counts carry no histograms (empty vectors). */
    size_t bins = c->n_classes == 2 ? FL_METRICS_BINS : 0;
    rc |= fl_wire_put_u64s (w, FL_K_HIST_POS, c->hist_pos, bins);
    rc |= fl_wire_put_u64s (w, FL_K_HIST_NEG, c->hist_neg, bins);
    if (c->n_classes > 2)            /* so the receiver knows what the counts are of */
        rc |= fl_wire_put_u64 (w, FL_K_CLASSES, c->n_classes);
    return rc ? -1 : 0;
}

int
fl_metrics_counts_from_wire (const struct fl_wire_msg_t *m, fl_metrics_counts_t *c)
{
    fl_metrics_counts_init (c);
    const uint64_t *hp = NULL, *hn = NULL;
    size_t np = 0, nn = 0;
    if (fl_wire_get_u64 (m, FL_K_N, &c->n) != 0 || fl_wire_get_u64 (m, FL_K_CORRECT, &c->n_correct) != 0
        || fl_wire_get_f64 (m, FL_K_LOSS_SUM, &c->log_loss_sum) != 0 || fl_wire_get_u64 (m, FL_K_TRUE_POS, &c->tp) != 0
        || fl_wire_get_u64 (m, FL_K_FALSE_POS, &c->fp) != 0 || fl_wire_get_u64 (m, FL_K_TRUE_NEG, &c->tn) != 0
        || fl_wire_get_u64 (m, FL_K_FALSE_NEG, &c->fn) != 0 || fl_wire_get_u64s (m, FL_K_HIST_POS, &hp, &np) != 0
        || fl_wire_get_u64s (m, FL_K_HIST_NEG, &hn, &nn) != 0)
        return -1;
    if (np != nn || (np != 0 && np != FL_METRICS_BINS))
        return -1;
    uint64_t k = 0;
    int has_k = fl_wire_get_u64 (m, FL_K_CLASSES, &k) == 0;
    if (np == FL_METRICS_BINS && !has_k) {
        memcpy (c->hist_pos, hp, sizeof c->hist_pos);
        memcpy (c->hist_neg, hn, sizeof c->hist_neg);
        c->n_classes = 2;
    }
    else if (np == 0 && has_k && k > 2 && k <= FL_MODEL_MAX_CLASSES)
        c->n_classes = k;            /* multi-class: no histograms, the class count says so */
    else
        return -1;
    return fl_metrics_counts_check (c) == 0 ? 0 : -1;
}
