/*  fl.h - libfl's public API in one include.  Each module has its own header
    (fl_<module>.h); see docs/ARCHITECTURE.md for what each one does. */
#ifndef FL_H_INCLUDED
#define FL_H_INCLUDED

#include "fl_accountant.h"
#include "fl_args.h"
#include "fl_atomic.h"
#include "fl_client.h"
#include "fl_dataset.h"
#include "fl_dp.h"
#include "fl_log.h"
#include "fl_layers.h"
#include "fl_metrics.h"
#include "fl_metrics_wire.h"
#include "fl_model.h"
#include "fl_modelfile.h"
#include "fl_partition.h"
#include "fl_prg.h"
#include "fl_quant.h"
#include "fl_report.h"
#include "fl_rng.h"
#include "fl_robust.h"
#include "fl_roster.h"
#include "fl_round.h"
#include "fl_server_opt.h"
#include "fl_shamir.h"
#include "fl_shard.h"
#include "fl_schema.h"
#include "fl_stats.h"
#include "fl_table.h"
#include "fl_tensor.h"
#include "fl_train.h"
#include "fl_transport.h"
#include "fl_wire.h"

#endif
