#!/usr/bin/python3
"""fl-dp-eval.py - the privacy/utility table of docs/PRIVACY.md.

A grid runner: for every (data set, privacy unit, epsilon, seed) cell it runs
build/bin/fl-sim with --out in a temporary directory, reads the last row of
its metrics.csv, and prints one Markdown table per data set with the mean and
standard deviation over seeds of accuracy, AUROC and AUPRC and the final
epsilon the accountant reported.  epsilon "inf" runs the same mechanism with
no noise (--dp-noise-multiplier 0), so the difference to it is the cost of
the noise alone.  Python standard library only.

    /usr/bin/python3 tools/fl-dp-eval.py                     # WDBC and ULB, 3 seeds
    /usr/bin/python3 tools/fl-dp-eval.py --datasets wdbc --seeds 1 2 3 --eps inf 8 3 1
"""
import argparse
import csv
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# What each data set runs (beyond --dataset): the consortium and the model.
SETTINGS = {
    "wdbc": ["--clients", "30", "--rounds", "20", "--aggregator", "mean", "--bucket-size", "3",
             "--sa-dropout", "0", "--batch-size", "16", "--client-lr", "0.5", "--model", "logreg"],
    "ulb": ["--clients", "30", "--rounds", "20", "--aggregator", "mean", "--bucket-size", "3",
            "--sa-dropout", "0", "--batch-size", "64", "--client-lr", "0.5", "--model", "logreg"],
}
# Per unit: record-level clips each example to 1; client-level clips each
# update to 1 and samples clients into cohorts with probability 0.5.
UNITS = {
    "record": ["--dp-unit", "record", "--dp-clip", "1"],
    "client": ["--dp-unit", "client", "--clip-norm", "1", "--fraction", "0.5"],
}


def run_cell(sim, dataset, unit, eps, seed, delta):
    args = [sim, "--dataset", dataset, "--seed", str(seed), "--no-baselines", "--quiet",
            "--dp-delta", repr(delta)] + SETTINGS[dataset] + UNITS[unit]
    if eps == "inf":
        args += ["--dp-noise-multiplier", "0"]
    else:
        args += ["--dp-epsilon", eps]
    with tempfile.TemporaryDirectory(prefix="fl-dp-eval.") as out:
        args += ["--out", out]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.stderr.write("fl-dp-eval: failed: %s\n%s\n" % (" ".join(args), r.stdout[-2000:]))
            return None
        with open(os.path.join(out, "metrics.csv")) as f:
            rows = list(csv.DictReader(f))
    last = rows[-1]
    return {k: float(last[k]) for k in ("accuracy", "auroc", "auprc", "epsilon")} | {"rounds": len(rows)}


def fmt(values):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return "%.3f" % values[0]
    return "%.3f ± %.3f" % (statistics.mean(values), statistics.stdev(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bin"), help="directory of fl-sim")
    ap.add_argument("--datasets", nargs="+", default=["wdbc", "ulb"], choices=sorted(SETTINGS))
    ap.add_argument("--units", nargs="+", default=["record", "client"], choices=sorted(UNITS))
    ap.add_argument("--eps", nargs="+", default=["inf", "8", "3", "1"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--delta", type=float, default=1e-5)
    a = ap.parse_args()
    sim = os.path.join(a.bin, "fl-sim")
    print("Command: /usr/bin/python3 tools/fl-dp-eval.py --datasets %s --units %s --eps %s --seeds %s"
          % (" ".join(a.datasets), " ".join(a.units), " ".join(a.eps), " ".join(map(str, a.seeds))))
    for ds in a.datasets:
        t0 = time.time()
        print("\n%s: fl-sim --dataset %s %s, delta %g, seeds %s\n"
              % (ds.upper(), ds, " ".join(SETTINGS[ds]), a.delta, ", ".join(map(str, a.seeds))))
        print("| unit | target epsilon | final epsilon | rounds | accuracy | AUROC | AUPRC |")
        print("|---|---|---|---|---|---|---|")
        for unit in a.units:
            for eps in a.eps:
                cells = [run_cell(sim, ds, unit, eps, s, a.delta) for s in a.seeds]
                cells = [c for c in cells if c]
                if not cells:
                    print("| %s | %s | failed | | | | |" % (unit, eps))
                    continue
                fe = max(c["epsilon"] for c in cells)
                print("| %s | %s | %s | %s | %s | %s | %s |" % (
                    unit, "∞ (no noise)" if eps == "inf" else eps, "∞" if math.isinf(fe) else "%.3f" % fe,
                    "/".join(sorted({str(c["rounds"]) for c in cells})),
                    fmt([c["accuracy"] for c in cells]), fmt([c["auroc"] for c in cells]),
                    fmt([c["auprc"] for c in cells])))
                sys.stdout.flush()
        print("\n(%s: %.0f s on this machine)" % (ds, time.time() - t0))


if __name__ == "__main__":
    main()
