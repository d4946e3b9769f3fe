/*  fl.h - libfl's public API in one include: every installed header.  Each
    module has its own header (fl_<module>.h); see docs/ARCHITECTURE.md for
    what each one does and docs/INSTALL.md for building against an installed
    libfl (`#include <fl.h>` with `pkg-config --cflags libfl`, or libfl::fl).
    fl_version.h (FL_VERSION_MAJOR/MINOR/PATCH, fl_version ()) is generated
    by CMake.  Headers a floor keeps to itself are not here and not installed
    (the list and reasons: FL_INTERNAL_HEADERS in libfl/CMakeLists.txt). */
#ifndef FL_H_INCLUDED
#define FL_H_INCLUDED

#include "fl_accountant.h"
#include "fl_adversary.h"
#include "fl_args.h"
#include "fl_atomic.h"
#include "fl_attack.h"
#include "fl_baseline.h"
#include "fl_checkpoint.h"
#include "fl_client.h"
#include "fl_dataset.h"
#include "fl_dp.h"
#include "fl_export.h"
#include "fl_gbdt.h"
#include "fl_layers.h"
#include "fl_log.h"
#include "fl_metrics.h"
#include "fl_metrics_wire.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_options.h"
#include "fl_partition.h"
#include "fl_plot.h"
#include "fl_predict.h"
#include "fl_prg.h"
#include "fl_qat.h"
#include "fl_quant.h"
#include "fl_report.h"
#include "fl_rng.h"
#include "fl_robust.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_schema.h"
#include "fl_score.h"
#include "fl_secagg.h"
#include "fl_secagg_wire.h"
#include "fl_server.h"
#include "fl_server_opt.h"
#include "fl_session.h"
#include "fl_shamir.h"
#include "fl_shard.h"
#include "fl_stats.h"
#include "fl_table.h"
#include "fl_tensor.h"
#include "fl_train.h"
#include "fl_transport.h"
#include "fl_version.h"
#include "fl_wire.h"

#endif
