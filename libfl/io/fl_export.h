/*  fl_export - trained models out of libfl: JSON, int8 and ONNX files.

    JSON (`fl-model export --json`, docs/SCORING.md) is the complete,
    readable form of a model file: the model's name and shape, every tensor
    of its flat parameter vector with its shape (the model's views, row-major
    data), the standardisation, the feature / label / class names, and for
    the built-in models ("logreg", "mlp") the architecture: dense layers
    fc<l> (weight (out, in), bias (out), y = x W^T + b), ReLU between them,
    sigmoid (one output) or softmax on the last.  A plugin model's tensors
    are written too, with "architecture": "plugin" (its forward pass is
    code in the plugin, not something a file can describe).

    ONNX (`fl-model export --onnx`) is written from that JSON by
    tools/fl-onnx-export.py with the onnx Python package (Debian
    python3-onnx): libfl does not hand-encode protobuf.  fl_export_onnx runs
    the script with python3 and reports its failure.

    int8 (`fl-model export --int8`) is the model's own export (fl_qat.h's
    int8 format for the built-in models trained with QAT).
*/
#ifndef FL_EXPORT_H_INCLUDED
#define FL_EXPORT_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Writes the JSON form of the model file at model_path (loaded and
    validated; plugin as for fl_modelfile_load_plugin, NULL for built-in
    models) to f.  0, or -1 with why (cap bytes). */
int fl_export_json_stream (const char *model_path, const char *plugin, FILE *f, char *why, size_t cap);

/*  As fl_export_json_stream into the file out_path (written atomically:
    out_path.tmp, then rename). */
int fl_export_json (const char *model_path, const char *plugin, const char *out_path, char *why, size_t cap);

/*  The model's own int8 export (fl_model_export) to out_path.  The
    built-in models need a model trained with QAT and calibration rows:
    activation ranges are a member's local state (fl_qat.h), not kept in the
    model file, so the first FL_PREDICT_CHUNK rows of calib_csv (read and
    standardised as by fl-model predict) go through one forward pass, which
    sets them.  calib_csv may be NULL for a plugin whose export needs no
    data.  -1 with why when the model has no such export, is a float model,
    lacks calibration rows, or the export fails. */
int fl_export_int8 (const char *model_path, const char *plugin, const char *calib_csv, const char *out_path,
                    char *why, size_t cap);

/*  Writes an ONNX file: the JSON form to a temporary file, then
    `python3 script JSON out_path`, python3 being $FL_PYTHON if set, else
    /usr/bin/python3 (where Debian's python3-onnx is seen) if present, else
    python3 from PATH.  Refuses plugin models ("not
    exportable": their forward pass is code) before running anything.
    script: the path of tools/fl-onnx-export.py (NULL: not found; the
    error says where it is looked for).
    0, or -1 with why: python3 missing, the script failing (its stderr is
    passed through; it says when the onnx package is missing). */
int fl_export_onnx (const char *model_path, const char *plugin, const char *script, const char *out_path,
                    char *why, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
