#!/usr/bin/env python3
"""fl-onnx-export - the ONNX file of a libfl model, from its JSON export.

    python3 tools/fl-onnx-export.py MODEL.json OUT.onnx

`fl-model export --onnx MODEL OUT.onnx` runs this script on the JSON that
`fl-model export --json` writes (docs/SCORING.md).  The protobuf is written
by the onnx package (Debian python3-onnx), not by hand.

The graph (opset 13), for a model of d inputs, hidden layers h1..hL and
n_out outputs (1 for binary, K for K > 2 classes):

    input  float[N, d]          raw feature values, in the model's input order
      Sub (input, mean)         the stored standardisation (absent if the
      Div (., std)              model file has none)
      Gemm (., fc0.weight, fc0.bias, transB=1)   y = x W^T + b
      Relu                      between dense layers (mlp)
      ...
      Gemm (., fcL.weight, fcL.bias, transB=1)
      Sigmoid | Softmax(axis=1)
    probabilities float[N, n_out]   P(y = 1) for binary; class probabilities

The feature, label and class names go into the model's metadata_props
(JSON strings).  QAT models are exported with their float (master) weights:
the graph does not fake-quantise, so its scores are those of the float
model, not of fl-model predict's quantised forward pass.
"""
import json
import sys


def fail(msg, code=1):
    sys.stderr.write("fl-onnx-export: %s\n" % msg)
    sys.exit(code)


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if len(argv) == 2 else 2
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:
        fail("the onnx and numpy Python packages are needed (Debian: apt-get install python3-onnx "
             "python3-numpy; scripts/install-deps.sh installs them): %s" % e, 3)
    with open(argv[1], encoding="utf-8") as f:
        m = json.load(f)
    if m.get("format") != "libfl-model-json" or m.get("version") != 1:
        fail("%s is not a libfl model JSON export (version 1)" % argv[1])
    if m.get("architecture") != "dense":
        fail("model '%s' is not exportable: its architecture comes from a plugin" % m.get("model"))
    d, n_out = int(m["inputs"]), int(m["outputs"])
    tensors = {t["name"]: np.asarray(t["data"], dtype=np.float32).reshape(t["shape"]) for t in m["tensors"]}
    if m["model"] == "logreg":
        layers = [("weight", "bias")]
    else:
        layers = [("fc%d.weight" % l, "fc%d.bias" % l) for l in range(len(m["hidden"]) + 1)]
    inits, nodes = [], []
    x = "input"
    std = m.get("standardisation")
    if std:
        inits.append(numpy_helper.from_array(np.asarray(std["mean"], dtype=np.float32), "mean"))
        inits.append(numpy_helper.from_array(np.asarray(std["std"], dtype=np.float32), "std"))
        nodes.append(helper.make_node("Sub", [x, "mean"], ["centred"], name="standardise_sub"))
        nodes.append(helper.make_node("Div", ["centred", "std"], ["standardised"], name="standardise_div"))
        x = "standardised"
    prev = d
    for l, (wn, bn) in enumerate(layers):
        if wn not in tensors or bn not in tensors:
            fail("tensor %s or %s missing from the export" % (wn, bn))
        w, b = tensors[wn], tensors[bn]
        if w.ndim != 2 or w.shape[1] != prev or b.shape != (w.shape[0],):
            fail("layer %d: weight %s / bias %s do not chain from %d inputs" % (l, w.shape, b.shape, prev))
        inits.append(numpy_helper.from_array(w, wn))
        inits.append(numpy_helper.from_array(b, bn))
        out = "logits" if l == len(layers) - 1 else "fc%d" % l
        nodes.append(helper.make_node("Gemm", [x, wn, bn], [out], transB=1, name="gemm%d" % l))
        x = out
        if l != len(layers) - 1:
            nodes.append(helper.make_node("Relu", [x], ["relu%d" % l], name="relu%d" % l))
            x = "relu%d" % l
        prev = w.shape[0]
    if prev != n_out:
        fail("the last layer has %d outputs, the model %d" % (prev, n_out))
    if n_out == 1:
        nodes.append(helper.make_node("Sigmoid", [x], ["probabilities"], name="sigmoid"))
    else:
        nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1, name="softmax"))
    graph = helper.make_graph(
        nodes, "libfl_%s" % m["model"],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="libfl", opset_imports=[helper.make_opsetid("", 13)])
    for key in ("feature_names", "label", "class_names"):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(m.get(key))
    entry = model.metadata_props.add()
    entry.key, entry.value = "libfl_model", json.dumps({"model": m["model"], "hidden": m["hidden"],
                                                        "qat": m["qat"]})
    if m.get("qat"):
        sys.stderr.write("fl-onnx-export: note: QAT model exported with its float weights (no fake "
                         "quantisation in the graph)\n")
    onnx.checker.check_model(model)
    tmp = argv[2] + ".tmp"
    onnx.save(model, tmp)
    import os
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
