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

--target runs the issue's comparison instead: fl-sim's defaults (8 members,
Dirichlet(0.5) split, 20 rounds, logistic regression, secure aggregation),
non-private FedAvg with its usual local epoch against record-level DP
(the default local DP-SGD mechanism and its defaults, the mean rule over
buckets of 4) at epsilon 3, delta 1e-5, and prints AUROC and its loss in
points per data set:

    /usr/bin/python3 tools/fl-dp-eval.py --target --datasets wdbc ulb uci_credit german_credit
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
# --target: the DP runs' extra options (the rule over bucket means DP needs);
# everything else is fl-sim's default.  "client" is client-level DP-FedAvg
# with every member in every round's Poisson cohort at rate 1.
TARGET = {
    "record": ["--aggregator", "mean", "--bucket-size", "4", "--dp-unit", "record"],
    "record-central": ["--aggregator", "mean", "--bucket-size", "4", "--dp-unit", "record", "--dp-record-central",
                       "--dp-steps", "1"],
    "client": ["--aggregator", "mean", "--bucket-size", "4", "--dp-unit", "client", "--fraction", "1",
               "--clip-norm", "0.5"],
}

# Per unit: record-level clips each example to 1 (local DP-SGD with its
# defaults: 5 steps per round, expected batch 64, lr 1; --batch-size and
# --client-lr below do not apply to it); record-central is the earlier
# mechanism (one step per round, --batch-size and --client-lr apply);
# client-level clips each update to 1 and samples clients into cohorts with
# probability 0.5.
UNITS = {
    "record": ["--dp-unit", "record", "--dp-clip", "1"],
    # the earlier central mechanism, as the table before local DP-SGD measured it
    "record-central": ["--dp-unit", "record", "--dp-record-central", "--dp-steps", "1", "--dp-clip", "1"],
    "client": ["--dp-unit", "client", "--clip-norm", "1", "--fraction", "0.5"],
}



def s_num(v):
    """A metrics.csv cell: "undefined" (AUROC/AUPRC the counts do not define) is NaN."""
    return float("nan") if v == "undefined" else float(v)

def s_run(args):
    """Runs fl-sim with args plus a temporary --out; returns (the last round's
    accuracy/AUROC/AUPRC/epsilon and the round count, its output), or
    (None, output) when it failed."""
    with tempfile.TemporaryDirectory(prefix="fl-dp-eval.") as out:
        r = subprocess.run(args + ["--out", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.stderr.write("fl-dp-eval: failed: %s\n%s\n" % (" ".join(args), r.stdout[-2000:]))
            return None, r.stdout
        with open(os.path.join(out, "metrics.csv")) as f:
            rows = list(csv.DictReader(f))
    last = rows[-1]
    return {k: s_num(last[k]) for k in ("accuracy", "auroc", "auprc", "epsilon")} | {"rounds": len(rows)}, r.stdout


def run_cell(sim, dataset, unit, eps, seed, delta):
    args = [sim, "--dataset", dataset, "--seed", str(seed), "--no-baselines", "--quiet",
            "--dp-delta", repr(delta)] + SETTINGS[dataset] + UNITS[unit]
    if eps == "inf":
        args += ["--dp-noise-multiplier", "0"]
    else:
        args += ["--dp-epsilon", eps]
    res, _ = s_run(args)
    return res


def run_target(sim, dataset, kind, eps, seed, delta, extra):
    args = [sim, "--dataset", dataset, "--seed", str(seed), "--no-baselines", "--quiet"] + extra
    if kind != "fedavg":
        args += TARGET[kind] + ["--dp-epsilon", eps, "--dp-delta", repr(delta)]
    res, stdout = s_run(args)
    if res is not None:
        res["warned"] = "noise is larger than the signal" in stdout
    return res


def target(a, sim):
    print("Command: /usr/bin/python3 tools/fl-dp-eval.py --target --datasets %s --kinds %s --seeds %s%s"
          % (" ".join(a.datasets), " ".join(a.kinds), " ".join(map(str, a.seeds)),
             "".join(" --extra=" + e for e in a.extra)))
    print("\nfl-sim defaults (8 members, 20 rounds, logreg, secure aggregation); DP at epsilon %s, delta %g; "
          "mean ± sd over seeds %s\n" % (a.target_eps, a.delta, ", ".join(map(str, a.seeds))))
    print("| data set | run | final epsilon | AUROC | AUROC lost (points) | AUPRC | accuracy | noise warning |")
    print("|---|---|---|---|---|---|---|---|")
    for ds in a.datasets:
        base = None
        for kind in ["fedavg"] + a.kinds:
            cells = [run_target(sim, ds, kind, a.target_eps, s, a.delta, a.extra) for s in a.seeds]
            cells = [c for c in cells if c]
            if not cells:
                print("| %s | %s | failed | | | | | |" % (ds, kind))
                continue
            au = statistics.mean(c["auroc"] for c in cells)
            if kind == "fedavg":
                base = au
            fe = max(c["epsilon"] for c in cells)
            lost = "" if kind == "fedavg" or base is None else "%.1f" % (100 * (base - au))
            print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                ds, "FedAvg, no DP" if kind == "fedavg" else kind, "-" if math.isnan(fe) else "%.3f" % fe,
                fmt([c["auroc"] for c in cells]), lost, fmt([c["auprc"] for c in cells]),
                fmt([c["accuracy"] for c in cells]), "%d/%d" % (sum(c["warned"] for c in cells), len(cells))))
            sys.stdout.flush()


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
    ap.add_argument("--datasets", nargs="+", default=["wdbc", "ulb"],
                    choices=sorted(set(SETTINGS) | {"uci_credit", "german_credit", "pima", "breast_cancer"}))
    ap.add_argument("--units", nargs="+", default=["record", "client"], choices=sorted(UNITS))
    ap.add_argument("--eps", nargs="+", default=["inf", "8", "3", "1"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--target", action="store_true", help="the issue's comparison (see above)")
    ap.add_argument("--kinds", nargs="+", default=["record"], choices=sorted(TARGET), help="--target: DP runs")
    ap.add_argument("--target-eps", default="3", help="--target: the epsilon budget")
    ap.add_argument("--extra", action="append", default=[],
                    help="--target: a further fl-sim option for every run, as --extra=--OPTION=VALUE (repeatable)")
    a = ap.parse_args()
    sim = os.path.join(a.bin, "fl-sim")
    if a.target:
        target(a, sim)
        return
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
