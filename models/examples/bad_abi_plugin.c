/*  bad_abi_plugin.c - a deliberately broken model plugin for the refusal
    tests (tests/test_plugin.c): it exports the right symbol, but its table
    claims an ABI version this build does not speak and holds nothing else.
    The host must refuse it after reading abi_version alone, without
    touching (or calling through) any other field.
*/
#include "fl_model.h"

#include <stddef.h>

static const fl_model_ops_t s_ops = {
    .abi_version = FL_MODEL_ABI_VERSION + 1000,
    .name = NULL,            /* a host that read further would find nothing */
};

const fl_model_ops_t *fl_model_plugin_v1 (void);

const fl_model_ops_t *
fl_model_plugin_v1 (void)
{
    return &s_ops;
}
