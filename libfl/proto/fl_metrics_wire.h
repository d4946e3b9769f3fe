/*  fl_metrics_wire.h - evaluation counts <-> EVAL_RESULT messages (proto floor).

    The metric definitions (learn/fl_metrics.h) know nothing of the wire; this
    header is where their counts meet the codec.
*/
#ifndef FL_METRICS_WIRE_H
#define FL_METRICS_WIRE_H

#include "fl_metrics.h"
#include "fl_wire.h"

/*  Federated evaluation on the wire (EVAL_RESULT body, docs/WIRE.md).
    to_wire adds the counts' keys to an EVAL_RESULT writer.  from_wire reads
    them back and validates them (fl_metrics_counts_check: histogram sums
    equal the counts, correct <= n, confusion matrix adds up): -1 if the
    message does not hold a consistent set of counts. */
int fl_metrics_counts_to_wire (const fl_metrics_counts_t *c, struct fl_wire_writer_t *w);
int fl_metrics_counts_from_wire (const struct fl_wire_msg_t *m, fl_metrics_counts_t *c);

#endif
