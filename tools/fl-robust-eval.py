#!/usr/bin/python3
"""fl-robust-eval - measure robust aggregators against Byzantine attacks with fl-sim.

Runs the grid  aggregator x attack x attacker count x seed  on a bundled data
set with build/bin/fl-sim (secure aggregation over buckets, the attackers being
the first F members; --attacker-rows equal gives each the mean member's row
count and --attacker-weight N a claimed example count, which only FedAvg
weighs), reads each run's final-round metrics from metrics.csv,
and writes Markdown tables (mean +- sample std over seeds) to stdout and, with
--doc, into a Markdown file between the markers

    <!-- robust-eval:begin DATASET -->  ...  <!-- robust-eval:end DATASET -->

so that re-running replaces the block (it is appended at the end of the file
the first time).  See docs/ROBUSTNESS.md, "Measured: aggregator x attack x
attacker fraction".

Every finished run is cached at once in CACHE_DIR/<dataset>-<setup hash>.json,
keyed by (aggregator, attack, attackers, seed); the file also stores the
common setup (the fl-sim options shared by every run) that the hash names.
An interrupted grid therefore resumes where it stopped, and --render-only
rebuilds the tables from the cache without running anything.  A run that
failed is cached with its error and shown as "fail"; --retry-failed reruns it.

Each fl-sim run gets its own temporary --out directory, deleted after its
metrics.csv is read.  --jobs (default 2) runs go in parallel: each one is a
coordinator plus N client processes, so keep it at the number of cores.

Python 3 standard library only.
"""
import argparse
import concurrent.futures
import hashlib
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# fl-sim options for each aggregator (added to the common setup).  fedavg is
# the plain weighted mean of all updates (one secure aggregation, no buckets);
# every other rule runs over the bucket means.
AGGREGATORS = {
    "fedavg": ["--aggregator", "fedavg", "--bucket-size", "0"],
    "mean": ["--aggregator", "mean"],
    "median": ["--aggregator", "median"],
    "trimmed_mean": ["--aggregator", "trimmed_mean", "--trim-beta", "0.2"],
    "geomed": ["--aggregator", "geomed"],
    "krum": ["--aggregator", "krum", "--robust-f", "3"],
    "multi_krum": ["--aggregator", "multi_krum", "--robust-f", "3"],
    "cclip": ["--aggregator", "cclip"],
    "bulyan": ["--aggregator", "bulyan", "--robust-f", "1"],
}
ATTACKS = ["sign-flip", "scale", "gaussian", "label-flip", "alie", "ipm", "min-max", "min-sum"]
# Which final-round column is reported for each data set.
DEFAULT_METRIC = {"wdbc": "accuracy", "pima": "accuracy", "ulb": "auprc", "uci_credit": "auprc"}
METRICS = ("accuracy", "auroc", "auprc")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="aggregator x attack x attacker-fraction grid over fl-sim, cached and resumable",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", default="wdbc", help="bundled data set passed to fl-sim")
    p.add_argument("--cache-dir", required=True, help="directory of the per-run JSON cache")
    p.add_argument("--aggregators", default="fedavg,mean,median,trimmed_mean,geomed,krum",
                   help="comma list of: " + ",".join(AGGREGATORS))
    p.add_argument("--attacks", default="sign-flip,scale,alie,ipm,min-max,label-flip,gaussian",
                   help="comma list of: " + ",".join(ATTACKS))
    p.add_argument("--attackers", default="3,6,9",
                   help="comma list of attacker counts (0 = attack-free, always run once per aggregator/seed)")
    p.add_argument("--seeds", default="1,2,3", help="comma list of fl-sim --seed values")
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--bucket-size", type=int, default=3)
    p.add_argument("--partition", default="iid", help="iid | dirichlet")
    p.add_argument("--attack-scale", action="append", default=[], metavar="KIND=G",
                   help="attack strength for KIND (fl-sim --attack-scale); repeatable. "
                        "Built in: scale=10, gaussian=1; others use fl-client's default")
    p.add_argument("--krum-f", default="3", help="--robust-f of krum and multi_krum (they need 2f+3 buckets)")
    p.add_argument("--trim-beta", default="0.2", help="trimmed_mean's --trim-beta (fl-sim refuses one that "
                   "trims nothing at the run's bucket count)")
    p.add_argument("--attacker-rows", default="partition", choices=["partition", "equal"],
                   help="fl-sim --attacker-rows: attackers train on their own partition, or on the mean "
                        "member's row count resampled from it (and claim that many examples)")
    p.add_argument("--attacker-weight", type=int, default=0,
                   help="fl-sim --attacker-weight: examples each attacker claims (0 = the rows it trains on)")
    p.add_argument("--extra", default="", help="extra fl-sim options for every run (one shell-quoted string)")
    p.add_argument("--metric", default=None, help="final-round column tabulated (default: accuracy for "
                   "wdbc/pima, auprc for ulb/uci_credit)")
    p.add_argument("--jobs", type=int, default=2, help="fl-sim runs in parallel")
    p.add_argument("--timeout", type=float, default=600, help="seconds before one fl-sim run is killed")
    p.add_argument("--fl-sim", default=None, help="fl-sim binary (default: $FL_BINARY_DIR/bin or build/bin)")
    p.add_argument("--doc", default=None, help="Markdown file whose robust-eval block for this data set is rewritten")
    p.add_argument("--block", default=None, help="name of the doc block (markers 'robust-eval:begin NAME'); "
                   "default: the data set")
    p.add_argument("--render-only", action="store_true", help="do not run anything; tables from the cache")
    p.add_argument("--retry-failed", action="store_true", help="rerun cells cached as failed")
    p.add_argument("--reference-fraction", type=int, default=None,
                   help="attacker count for the judgement table (default: the one nearest 20%% of --clients)")
    p.add_argument("--per-seed", action="store_true",
                   help="also tabulate, per seed, each cell and its change against the same seed's attack-free run")
    p.add_argument("--keep-going", action="store_true",
                   help="exit 0 even if some runs failed (default: exit 1)")
    return p.parse_args(argv)


def csv_list(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def common_setup(a):
    """The fl-sim options every run of the grid shares (aggregator/attack/seed excluded)."""
    opts = ["--dataset", a.dataset, "--clients", str(a.clients), "--rounds", str(a.rounds),
            "--partition", a.partition, "--bucket-size", str(a.bucket_size), "--sa-dropout", "0",
            "--no-baselines", "--quiet"]
    opts = opts + shlex.split(a.extra)
    return opts


def attack_scales(a):
    scales = {"scale": "10", "gaussian": "1"}
    for item in a.attack_scale:
        kind, _, g = item.partition("=")
        if kind not in ATTACKS or not g:
            sys.exit("fl-robust-eval: --attack-scale wants KIND=G with KIND one of " + ",".join(ATTACKS))
        float(g)
        scales[kind] = g
    return scales


def attacker_opts(a):
    """fl-sim options giving the attackers their rows and claimed weight (only with attackers)."""
    opts = []
    if a.attacker_rows != "partition":
        opts += ["--attacker-rows", a.attacker_rows]
    if a.attacker_weight:
        opts += ["--attacker-weight", str(a.attacker_weight)]
    return opts


def run_args(setup, scales, agg, attack, f, seed, attacker=()):
    """fl-sim arguments for one cell (without --out).  Later options override earlier ones."""
    args = list(setup) + AGGREGATORS[agg] + ["--seed", str(seed)]
    if f:
        args += ["--byzantine", str(f), "--attack", attack] + list(attacker)
        if attack in scales:
            args += ["--attack-scale", scales[attack]]
    return args


def cell_key(agg, attack, f, seed):
    return "%s|%s|%d|%s" % (agg, attack if f else "none", f, seed)


class Cache:
    """One JSON file per (data set, common setup); rewritten atomically after every run."""

    def __init__(self, directory, dataset, setup_doc):
        os.makedirs(directory, exist_ok=True)
        blob = json.dumps(setup_doc, sort_keys=True).encode()
        self.path = os.path.join(directory, "%s-%s.json" % (dataset, hashlib.sha256(blob).hexdigest()[:10]))
        self.lock = threading.Lock()
        self.data = {"setup": setup_doc, "runs": {}}
        if os.path.exists(self.path):
            with open(self.path) as fh:
                old = json.load(fh)
            if old.get("setup") != setup_doc:
                sys.exit("fl-robust-eval: %s holds another setup" % self.path)
            self.data = old

    def get(self, key):
        return self.data["runs"].get(key)

    def put(self, key, value):
        with self.lock:
            self.data["runs"][key] = value
            tmp = self.path + ".tmp"
            with open(tmp, "w") as fh:   # one run per line: small, diff-friendly
                fh.write('{"setup": %s,\n "runs": {\n' % json.dumps(self.data["setup"], sort_keys=True))
                fh.write(",\n".join("  %s: %s" % (json.dumps(k), json.dumps(v, sort_keys=True))
                                    for k, v in sorted(self.data["runs"].items())))
                fh.write("\n}}\n")
            os.replace(tmp, self.path)


def read_final(metrics_csv, rounds):
    with open(metrics_csv) as fh:
        lines = [ln.strip() for ln in fh if ln.strip()]
    head = lines[0].split(",")
    rows = [dict(zip(head, ln.split(","))) for ln in lines[1:]]
    if not rows:
        raise ValueError("metrics.csv has no rounds")
    last = rows[-1]
    out = {"rounds": int(last["round"])}
    for m in METRICS:
        out[m] = float("nan") if last[m] == "undefined" else float(last[m])   # metrics.csv says "undefined" where the counts do not define it
    out["updates"] = int(last["updates"])
    out["log_loss"] = float(last["log_loss"])
    if out["rounds"] != rounds:
        out["error"] = "only %d of %d rounds" % (out["rounds"], rounds)
    return out


def run_one(fl_sim, args, rounds, timeout):
    out_dir = tempfile.mkdtemp(prefix="fl-robust-eval-")
    t0 = time.time()
    try:
        cmd = [fl_sim] + args + ["--out", out_dir]
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                               universal_newlines=True)
        except subprocess.TimeoutExpired:
            return {"error": "timeout after %g s" % timeout, "wall": round(time.time() - t0, 2)}
        res = {"wall": round(time.time() - t0, 2)}
        mcsv = os.path.join(out_dir, "metrics.csv")
        if p.returncode != 0 or not os.path.exists(mcsv):
            tail = " / ".join(p.stdout.strip().splitlines()[-3:])
            res["error"] = "fl-sim exit %d: %s" % (p.returncode, tail[-300:])
            return res
        try:
            res.update(read_final(mcsv, rounds))
        except (ValueError, KeyError, IndexError) as e:
            res["error"] = "bad metrics.csv: %s" % e
        return res
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def fmt(vals, digits=3):
    if not vals:
        return "—"
    m = statistics.mean(vals)
    if len(vals) == 1:
        return "%.*f" % (digits, m)
    return "%.*f ± %.*f" % (digits, m, digits, statistics.stdev(vals))


def render(a, cache, aggs, attacks, fs, seeds, metric, setup, scales):
    """Markdown tables: one per attacker count; rows aggregators, columns attack-free + attacks."""
    def vals(agg, attack, f):
        out, fails = [], 0
        for s in seeds:
            r = cache.get(cell_key(agg, attack, f, s))
            if r is None:
                continue
            if "error" in r:
                fails += 1
            else:
                out.append(r[metric])
        return out, fails

    def cell(agg, attack, f):
        v, fails = vals(agg, attack, f)
        txt = fmt(v)
        if fails:
            txt += " (%d fail)" % fails
        if v and len(v) < len(seeds) and not fails:
            txt += " (%d/%d seeds)" % (len(v), len(seeds))
        return txt

    L = []
    strength = ", ".join("%s %s" % (k, scales[k]) for k in sorted(scales) if k in attacks)
    L.append("Data set `%s`, final-round **%s** (round %d), mean ± sample std over seeds %s. "
             "Common fl-sim options: `%s`; per aggregator: %s. Attack strengths (`--attack-scale`): %s; "
             "the other attacks use fl-client's defaults. Attackers are the first F of %d members%s."
             % (a.dataset, metric, a.rounds, ", ".join(seeds), " ".join(setup),
                "; ".join("%s `%s`" % (g, " ".join(AGGREGATORS[g])) for g in aggs),
                strength or "none", a.clients,
                "; with attackers: `%s`" % " ".join(attacker_opts(a)) if attacker_opts(a) else ""))
    L.append("")
    for f in fs:
        if f == 0:
            continue
        L.append("**%d of %d attackers (%.0f%%)**" % (f, a.clients, 100.0 * f / a.clients))
        L.append("")
        L.append("| aggregator | no attack | " + " | ".join(attacks) + " |")
        L.append("|---|" + "---|" * (len(attacks) + 1))
        for g in aggs:
            L.append("| %s | %s | " % (g, cell(g, "none", 0)) + " | ".join(cell(g, k, f) for k in attacks) + " |")
        L.append("")
    # Judgement table: change of the mean (in points) against the attack-free run.
    ref = a.reference_fraction
    if ref is None:
        attacked = [f for f in fs if f]
        ref = min(attacked, key=lambda f: abs(f - 0.2 * a.clients)) if attacked else None
    if ref is not None:
        L.append("**Change against the attack-free run, %d attackers** (points = 100 × difference of the "
                 "seed means of %s; negative = worse)" % (ref, metric))
        L.append("")
        L.append("| aggregator | " + " | ".join(attacks) + " |")
        L.append("|---|" + "---|" * len(attacks))
        for g in aggs:
            base, _ = vals(g, "none", 0)
            row = []
            for k in attacks:
                v, _ = vals(g, k, ref)
                row.append("%+.1f" % (100 * (statistics.mean(v) - statistics.mean(base))) if v and base else "—")
            L.append("| %s | " % g + " | ".join(row) + " |")
        L.append("")
    if a.per_seed and ref is not None:
        L.append("**Per seed, %d attackers**: %s, and in brackets the change in points against the same "
                 "seed's attack-free run" % (ref, metric))
        L.append("")
        L.append("| aggregator | attack | " + " | ".join("seed %s" % s for s in seeds) + " |")
        L.append("|---|---|" + "---|" * len(seeds))
        for g in aggs:
            for k in attacks:
                row = []
                for s in seeds:
                    base, r = cache.get(cell_key(g, "none", 0, s)), cache.get(cell_key(g, k, ref, s))
                    if not r or "error" in r or not base or "error" in base:
                        row.append("—")
                    else:
                        row.append("%.3f (%+.1f)" % (r[metric], 100 * (r[metric] - base[metric])))
                L.append("| %s | %s | " % (g, k) + " | ".join(row) + " |")
        L.append("")
    return "\n".join(L)


def update_doc(path, name, block, cmdline, wall_note):
    begin = "<!-- robust-eval:begin %s -->" % name
    end = "<!-- robust-eval:end %s -->" % name
    body = "%s\n<!-- generated by tools/fl-robust-eval.py; do not edit by hand -->\n\nCommand: `%s`%s\n\n%s\n%s" % (
        begin, cmdline, wall_note, block.rstrip("\n"), end)
    with open(path) as fh:
        text = fh.read()
    i, j = text.find(begin), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + body + text[j + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv):
    a = parse_args(argv)
    cmdline = " ".join(shlex.quote(x) for x in [sys.executable, sys.argv[0]] + argv)
    print("# command: " + cmdline, flush=True)
    aggs, attacks = csv_list(a.aggregators), csv_list(a.attacks)
    seeds = csv_list(a.seeds)
    fs = sorted(set([0] + [int(x) for x in csv_list(a.attackers)]))
    for g in aggs:
        if g not in AGGREGATORS:
            sys.exit("fl-robust-eval: unknown aggregator %r" % g)
    for k in attacks:
        if k not in ATTACKS:
            sys.exit("fl-robust-eval: unknown attack %r" % k)
    if any(f < 0 or f >= a.clients for f in fs):
        sys.exit("fl-robust-eval: attacker counts must be in [0, clients)")
    metric = a.metric or DEFAULT_METRIC.get(a.dataset, "accuracy")
    if metric not in METRICS:
        sys.exit("fl-robust-eval: --metric must be one of " + ",".join(METRICS))
    fl_sim = a.fl_sim or os.path.join(os.environ.get("FL_BINARY_DIR", os.path.join(ROOT, "build")), "bin", "fl-sim")
    AGGREGATORS["trimmed_mean"] = ["--aggregator", "trimmed_mean", "--trim-beta", a.trim_beta]
    AGGREGATORS["krum"] = ["--aggregator", "krum", "--robust-f", a.krum_f]
    AGGREGATORS["multi_krum"] = ["--aggregator", "multi_krum", "--robust-f", a.krum_f]
    setup = common_setup(a)
    scales = attack_scales(a)
    attacker = attacker_opts(a)
    setup_doc = {"fl_sim_common": setup, "attack_scale": scales, "aggregators": AGGREGATORS}
    if attacker:                 # only when set, so the caches of earlier grids keep their names
        setup_doc["attacker"] = attacker
    cache = Cache(a.cache_dir, a.dataset, setup_doc)
    print("# cache: %s" % cache.path, flush=True)

    todo = []
    for s in seeds:
        for f in fs:
            for g in aggs:
                for k in (attacks if f else ["none"]):
                    key = cell_key(g, k, f, s)
                    r = cache.get(key)
                    if r is None or ("error" in r and a.retry_failed):
                        todo.append((key, run_args(setup, scales, g, k, f, s, attacker)))
    total_runs = sum(1 for s in seeds for f in fs for g in aggs for k in (attacks if f else ["none"]))
    print("# %d runs in the grid, %d cached, %d to run%s" % (
        total_runs, total_runs - len(todo), len(todo), " (render only)" if a.render_only else ""), flush=True)

    t0 = time.time()
    failed = 0
    if todo and not a.render_only:
        if not os.access(fl_sim, os.X_OK):
            sys.exit("fl-robust-eval: no fl-sim at %s (build first, or --fl-sim)" % fl_sim)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            futs = {ex.submit(run_one, fl_sim, args, a.rounds, a.timeout): (key, args) for key, args in todo}
            done = 0
            for fut in concurrent.futures.as_completed(futs):
                key, args = futs[fut]
                r = fut.result()
                cache.put(key, r)
                done += 1
                if "error" in r:
                    failed += 1
                    print("# [%d/%d] %s FAILED: %s\n#   fl-sim %s" % (done, len(todo), key, r["error"],
                                                                     " ".join(args)), flush=True)
                else:
                    el = time.time() - t0
                    print("# [%d/%d] %s %s=%.4f (%.1f s; elapsed %.0f s, eta %.0f s)" % (
                        done, len(todo), key, metric, r[metric], r["wall"], el,
                        el / done * (len(todo) - done)), flush=True)
    wall = time.time() - t0
    runs = [cache.get(cell_key(g, k, f, s)) for s in seeds for f in fs for g in aggs
            for k in (attacks if f else ["none"])]
    cpu_s = sum(r.get("wall", 0) for r in runs if r)
    wall_note = ""
    if runs and all(runs):
        wall_note = " (%d fl-sim runs, %.0f s summed run time, %d in parallel)" % (len(runs), cpu_s, a.jobs)
    block = render(a, cache, aggs, attacks, fs, seeds, metric, setup, scales)
    print()
    print(block)
    if not a.render_only or a.doc:
        print("# wall time of this invocation: %.0f s" % wall)
    if a.doc:
        update_doc(a.doc, a.block or a.dataset, block, cmdline, wall_note)
        print("# wrote the %s block of %s" % (a.block or a.dataset, a.doc))
    n_fail = sum(1 for r in runs if r and "error" in r)
    if n_fail:
        print("# %d cached runs are failures (see the cache file; --retry-failed reruns them)" % n_fail)
    return 0 if (n_fail == 0 or a.keep_going) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
