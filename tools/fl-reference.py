#!/usr/bin/python3
"""fl-reference: scikit-learn's logistic regression on the split fl-sim used.

Reads a directory written by `fl-sim --dump-split DIR` (pooled_train.csv,
pooled_test.csv: the rows of fl-sim's centralised baseline, already
standardised with the pooled training statistics, label last; split.json:
the baseline's L2 and its scikit-learn C), fits
LogisticRegression(penalty="l2", C=split.json's sklearn_C, solver="lbfgs",
max_iter=10000, tol=1e-10) -- the same objective fl-sim's L-BFGS minimises
(docs/SIMULATION.md "Baselines") -- on the pooled training rows and prints
its metrics on the pooled test rows as one line of CSV (default, with a
header line) or JSON (--json), next to libfl's centralised figures from
split.json:

    dataset,classes,train_rows,test_rows,C,sklearn_auroc,sklearn_auprc,libfl_auroc,libfl_auprc,auroc_diff
    wdbc,2,426,143,1,0.996226,0.994327,0.996226,0.994327,0.000000

For more than two classes AUROC and AUPRC are macro one-vs-rest averages
(roc_auc_score(multi_class="ovr"), average_precision_score on the
binarised labels), as fl-sim computes them.  Exit status 0; 1 on a
missing or malformed file; 3 when scikit-learn is not installed (Debian:
python3-sklearn).
"""
import argparse
import csv
import json
import os
import sys


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"{path}: no rows")
    header = rows[0]
    x, y = [], []
    for k, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise ValueError(f"{path}:{k}: {len(r)} fields, header has {len(header)}")
        x.append([float(v) for v in r[:-1]])
        y.append(int(r[-1]))
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory written by fl-sim --dump-split")
    ap.add_argument("--json", action="store_true", help="one line of JSON instead of CSV")
    a = ap.parse_args()
    try:
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import average_precision_score, roc_auc_score
        from sklearn.preprocessing import label_binarize
    except ImportError as e:
        print(f"fl-reference: scikit-learn is not installed ({e}); Debian: apt-get install python3-sklearn",
              file=sys.stderr)
        return 3
    try:
        with open(os.path.join(a.dir, "split.json")) as f:
            meta = json.load(f)
        xtr, ytr = load(os.path.join(a.dir, "pooled_train.csv"))
        xte, yte = load(os.path.join(a.dir, "pooled_test.csv"))
        C = float(meta["sklearn_C"])
        k = int(meta["classes"])
    except (OSError, ValueError, KeyError) as e:
        print(f"fl-reference: {e}", file=sys.stderr)
        return 1
    xtr, ytr, xte, yte = np.array(xtr), np.array(ytr), np.array(xte), np.array(yte)
    kw = {"multi_class": "multinomial"} if k > 2 else {}
    clf = LogisticRegression(penalty="l2", C=C, solver="lbfgs", max_iter=10000, tol=1e-10, **kw)
    clf.fit(xtr, ytr)
    p = clf.predict_proba(xte)
    if k == 2:
        auroc = roc_auc_score(yte, p[:, 1])
        auprc = average_precision_score(yte, p[:, 1])
    else:
        # the columns of p are clf.classes_ (the classes seen in training);
        # macro over the classes present in the test rows, as fl-sim does
        yb = label_binarize(yte, classes=clf.classes_)
        present = [c for c in range(len(clf.classes_)) if 0 < yb[:, c].sum() < len(yte)]
        auroc = float(np.mean([roc_auc_score(yb[:, c], p[:, c]) for c in present]))
        auprc = float(np.mean([average_precision_score(yb[:, c], p[:, c]) for c in present]))
    lib = meta.get("libfl_centralised", {})
    out = {
        "dataset": meta.get("dataset", ""), "classes": k, "train_rows": len(ytr), "test_rows": len(yte), "C": C,
        "sklearn_auroc": auroc, "sklearn_auprc": auprc,
        "libfl_auroc": lib.get("auroc"), "libfl_auprc": lib.get("auprc"),
        "auroc_diff": (lib["auroc"] - auroc) if "auroc" in lib else None,
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(",".join(out))
        print(",".join(f"{v:.6f}" if isinstance(v, float) else ("" if v is None else str(v))
                       for v in out.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
