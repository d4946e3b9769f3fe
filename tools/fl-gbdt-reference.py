#!/usr/bin/python3
"""fl-gbdt-reference: XGBoost on the rows fl-gbdt trained on, to check libfl's trees.

Reads a directory written by `fl-gbdt ... --dump DIR`: train.csv and test.csv
(every feature already replaced by its libfl bin index 1..B, an empty field
for a missing value, label last), params.json (the hyperparameters and
libfl's AUROC) and pred_libfl.csv (libfl's test probabilities).  Trains
python3-xgboost (Debian 12: 1.7) with tree_method="hist", max_bin = the
bins + 1 (so every bin index is a cut candidate and the split candidates are
libfl's), the same eta, lambda, min_child_weight, max_depth, subsample,
n rounds, base_score 0.5, gamma 0, alpha 0, no column sampling, and prints
one line of CSV after a header:

    dataset,trees,xgboost_auroc,libfl_auroc,auroc_diff,max_abs_prob_diff,nodes,nodes_differ,xgboost_own_bins_auroc,own_bins_diff

max_abs_prob_diff is the largest |p_xgboost - p_libfl| over the test rows
(for more than two classes, over every class probability).  nodes_differ
compares the trees node by node: XGBoost's text dump (written to
DIR/trees_xgboost.txt) against fl-gbdt's trees_libfl.txt -- the same node
numbering, split feature, threshold (a threshold above the feature's largest
bin means "every value left" in both), children, missing-value direction, and
leaf values within 1e-6; nodes is libfl's node count.
xgboost_own_bins_auroc is XGBoost trained on the raw rows (raw_train.csv,
raw_test.csv) with its own quantile sketch and max_bin = the bins: the
end-to-end comparison, binning included; own_bins_diff is
|xgboost_own_bins_auroc - libfl_auroc|.  AUROC is
computed here (rank statistic with ties counted half; macro one-vs-rest for
more than two classes), the same definition as fl_metrics_auroc.
Exit 0; 1 on a missing or malformed file; 3 when xgboost is not installed
(Debian: python3-xgboost).
"""
import argparse
import csv
import json
import math
import os
import re
import sys


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"{path}: no rows")
    width = len(rows[0])
    x, y = [], []
    for k, r in enumerate(rows[1:], start=2):
        if len(r) != width:
            raise ValueError(f"{path}:{k}: {len(r)} fields, header has {width}")
        x.append([float(v) if v != "" else math.nan for v in r[:-1]])
        y.append(int(r[-1]))
    return x, y


def auroc(score, y):
    """Mann-Whitney AUROC, ties counted half; NaN when a class is absent."""
    pairs = sorted(zip(score, y))
    pos = sum(y)
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return math.nan
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid = (i + 1 + j) / 2.0             # average 1-based rank of the tie group
        rank_sum += mid * sum(1 for k in range(i, j) if pairs[k][1] == 1)
        i = j
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg)


def parse_trees(path, top):
    """{(tree, node): ("split", f, threshold, yes, no, missing) | ("leaf", value)}
    from an XGBoost-style text dump; thresholds above top[f] become "all"."""
    out, t = {}, -1
    with open(path) as f:
        for line in f:
            line = line.strip()
            m = re.match(r"booster\[(\d+)\]:", line)
            if m:
                t = int(m.group(1))
                continue
            m = re.match(r"(\d+):\[f(\d+)<([-0-9.e+]+)\] yes=(\d+),no=(\d+),missing=(\d+)", line)
            if m:
                fi, thr = int(m.group(2)), float(m.group(3))
                out[(t, int(m.group(1)))] = ("split", fi, "all" if thr > top[fi] else thr,
                                             m.group(4), m.group(5), m.group(6))
                continue
            m = re.match(r"(\d+):leaf=([-0-9.e+]+)", line)
            if m:
                out[(t, int(m.group(1)))] = ("leaf", float(m.group(2)))
    return out


def nodes_differ(a, b):
    bad = 0
    for k in set(a) | set(b):
        u, v = a.get(k), b.get(k)
        if u is None or v is None or u[0] != v[0]:
            bad += 1
        elif u[0] == "split" and u != v:
            bad += 1
        elif u[0] == "leaf" and abs(u[1] - v[1]) > 1e-6:
            bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="directory written by fl-gbdt --dump")
    ap.add_argument("--threads", type=int, default=1, help="xgboost nthread (default 1)")
    args = ap.parse_args()
    try:
        import numpy as np
        import xgboost as xgb
    except ImportError:
        print("fl-gbdt-reference: python3-xgboost is not installed", file=sys.stderr)
        return 3
    try:
        with open(os.path.join(args.dir, "params.json")) as f:
            p = json.load(f)
        xtr, ytr = load(os.path.join(args.dir, "train.csv"))
        xte, yte = load(os.path.join(args.dir, "test.csv"))
        with open(os.path.join(args.dir, "pred_libfl.csv"), newline="") as f:
            plib = [[float(v) for v in r] for r in csv.reader(f)]
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        print(f"fl-gbdt-reference: {e}", file=sys.stderr)
        return 1
    k = int(p["classes"])
    params = {
        "tree_method": "hist",
        "max_bin": int(p["bins"]) + 1,
        "eta": p["eta"],
        "lambda": p["lambda"],
        "alpha": 0.0,
        "gamma": 0.0,
        "min_child_weight": p["min_child_weight"],
        "max_depth": int(p["max_depth"]),
        "subsample": p["subsample"],
        "colsample_bytree": 1.0,
        "colsample_bylevel": 1.0,
        "colsample_bynode": 1.0,
        "base_score": 0.5,
        "nthread": args.threads,
        "seed": 0,
    }
    if k == 2:
        params["objective"] = "binary:logistic"
    else:
        params["objective"] = "multi:softprob"
        params["num_class"] = k
    dtr = xgb.DMatrix(np.array(xtr, dtype=np.float32), label=np.array(ytr), missing=math.nan)
    dte = xgb.DMatrix(np.array(xte, dtype=np.float32), label=np.array(yte), missing=math.nan)
    booster = xgb.train(params, dtr, num_boost_round=int(p["trees"]))
    pred = booster.predict(dte)
    booster.dump_model(os.path.join(args.dir, "trees_xgboost.txt"), with_stats=True)
    top = [max([v for r in xtr for v in [r[j]] if not math.isnan(v)], default=0) for j in range(len(xtr[0]))]
    try:
        ours = parse_trees(os.path.join(args.dir, "trees_libfl.txt"), top)
    except OSError as e:
        print(f"fl-gbdt-reference: {e}", file=sys.stderr)
        return 1
    theirs = parse_trees(os.path.join(args.dir, "trees_xgboost.txt"), top)
    if k == 2:
        pred = [[float(v)] for v in pred]
        a = auroc([r[0] for r in pred], yte)
    else:
        pred = [[float(v) for v in r] for r in pred]
        a = sum(auroc([r[c] for r in pred], [int(v == c) for v in yte]) for c in range(k)) / k
    if len(plib) != len(pred) or any(len(r) != len(q) for r, q in zip(plib, pred)):
        print("fl-gbdt-reference: pred_libfl.csv does not match the test rows", file=sys.stderr)
        return 1
    diff = max(abs(u - v) for r, q in zip(plib, pred) for u, v in zip(r, q))
    try:
        rxtr, rytr = load(os.path.join(args.dir, "raw_train.csv"))
        rxte, ryte = load(os.path.join(args.dir, "raw_test.csv"))
    except (OSError, ValueError) as e:
        print(f"fl-gbdt-reference: {e}", file=sys.stderr)
        return 1
    own = dict(params, max_bin=int(p["bins"]))
    rb = xgb.train(own, xgb.DMatrix(np.array(rxtr, dtype=np.float32), label=np.array(rytr), missing=math.nan),
                   num_boost_round=int(p["trees"]))
    rpred = rb.predict(xgb.DMatrix(np.array(rxte, dtype=np.float32), label=np.array(ryte), missing=math.nan))
    if k == 2:
        ra = auroc([float(v) for v in rpred], ryte)
    else:
        ra = sum(auroc([float(r[c]) for r in rpred], [int(v == c) for v in ryte]) for c in range(k)) / k
    print("dataset,trees,xgboost_auroc,libfl_auroc,auroc_diff,max_abs_prob_diff,nodes,nodes_differ,"
          "xgboost_own_bins_auroc,own_bins_diff")
    print(f"{p['dataset']},{p['trees']},{a:.6f},{p['libfl_auroc']:.6f},"
          f"{abs(a - p['libfl_auroc']):.6f},{diff:.3g},{len(ours)},{nodes_differ(ours, theirs)},"
          f"{ra:.6f},{abs(ra - p['libfl_auroc']):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
