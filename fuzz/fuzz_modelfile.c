/*  fuzz_modelfile - fl_modelfile_load over arbitrary file content (an
    fl_wire MODEL message, then model construction from its header and the
    parameter/fingerprint checks).  fl_modelfile has only a path API, so the
    input goes through a temporary file.  Property: no crash or leak; an
    accepted file yields a model whose parameters are all finite, and its
    parameter digest (fl_modelfile_load_digest, which checks less) is read
    too and equals the digest of the loaded model. */
#include <fl_model.h>
#include <fl_modelfile.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_quiet ();
    atexit (fuzz_tmpfile_cleanup);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile_write (data, size);
    fl_model_t *model = NULL;
    float *mean = NULL, *std = NULL;
    int rc = fl_modelfile_load (path, &model, &mean, &std);
    if (rc == 0) {
        if (!model)
            abort ();
        const float *p = fl_model_params (model);
        for (size_t i = 0; i < fl_model_num_params (model); i++)
            if (!isfinite (p[i]))
                abort ();
        uint8_t d[FL_MODELFILE_DIGESTBYTES], mine[FL_MODELFILE_DIGESTBYTES], fp[32];
        if (fl_modelfile_load_digest (path, d, NULL) != 0)
            abort ();
        fl_model_fingerprint (model, fp);
        fl_modelfile_digest (fp, p, fl_model_num_params (model), mine);
        if (memcmp (d, mine, sizeof d) != 0)
            abort ();
    }
    else {
        if (model || mean || std)
            abort ();
        uint8_t d[FL_MODELFILE_DIGESTBYTES];
        (void) fl_modelfile_load_digest (path, d, NULL);     /* no crash on any input */
    }
    fl_model_destroy (&model);
    free (mean);
    free (std);
    return 0;
}
