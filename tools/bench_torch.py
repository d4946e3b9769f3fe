#!/usr/bin/env python3
"""bench_torch.py - PyTorch reference for fl-bench-qat's training figures.

Same work as tools/fl-bench-qat.c: an MLP 30-64-32-1 (8192 rows, binary,
BCE-with-logits) and 784-256-128-10 (2048 rows, 10 classes, cross-entropy)
on synthetic N(0, 1) inputs labelled by a random linear teacher; plain SGD
lr 0.01, batch 32, one epoch over a fresh permutation, best of 3 epochs;
float32 and quantisation-aware training with fake quantisation of weights
(per-channel symmetric int8, torch.ao default_per_channel_weight_fake_quant)
and activations (affine 8-bit, moving-average min/max observer,
default_fake_quant), prepared with torch.ao.quantization.prepare_qat.
One intra-op thread (torch.set_num_threads(1)), as OPENBLAS_NUM_THREADS=1
for fl-bench-qat.

Debian's python3-torch (1.13.1) lives in /usr/lib/python3/dist-packages:
run it with /usr/bin/python3 tools/bench_torch.py.
Prints one Markdown row per (shape, mode): samples/s.

--serve: the coprocess tools/fl-bench-train drives, so the two are timed in
the same run with their repetitions interleaved.  Reads lines
"W0-W1-...-WL ROWS" on stdin (e.g. "30-64-32-1 8192"); for each, trains one
fp32 epoch of that shape exactly as above (the model and data are built, and
one warm-up epoch run, the first time a shape is asked for) and answers one
line "CPU_SECONDS WALL_SECONDS" (the process CPU time and the wall time of
the epoch).  "quit" or end of input ends it.
"""
import sys
import time

import torch
import torch.nn as nn
from torch.ao.quantization import (DeQuantStub, QConfig, QuantStub, default_fake_quant,
                                   default_per_channel_weight_fake_quant, prepare_qat)


class MLP(nn.Module):
    def __init__(self, widths, qat):
        super().__init__()
        layers = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i + 2 < len(widths):
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.qat = qat
        self.quant = QuantStub()
        self.dequant = DeQuantStub()

    def forward(self, x):
        if self.qat:
            return self.dequant(self.net(self.quant(x)))
        return self.net(x)


def setup(widths, rows, qat):
    torch.manual_seed(1)
    d, k = widths[0], widths[-1]
    x = torch.randn(rows, d)
    classes = 2 if k == 1 else k
    teacher = torch.randn(d, classes)
    y = (x @ teacher).argmax(dim=1)
    model = MLP(widths, qat)
    if qat:
        model.qconfig = QConfig(activation=default_fake_quant, weight=default_per_channel_weight_fake_quant)
        model.train()
        model = prepare_qat(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss() if k == 1 else nn.CrossEntropyLoss()
    yt = y.float().unsqueeze(1) if k == 1 else y
    return model, opt, loss_fn, x, yt


def epoch(state, rows):
    """One epoch over a fresh permutation; returns (process CPU s, wall s)."""
    model, opt, loss_fn, x, yt = state
    perm = torch.randperm(rows)
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, rows, 32):
        idx = perm[i:i + 32]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.process_time() - c0, time.perf_counter() - t0


def bench(widths, rows, qat, repeats=3):
    state = setup(widths, rows, qat)
    best = min(epoch(state, rows)[1] for _ in range(repeats))
    return rows / best


def serve():
    states = {}
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        widths, rows = [int(w) for w in words[0].split("-")], int(words[1])
        key = (tuple(widths), rows)
        if key not in states:
            states[key] = setup(widths, rows, False)
            epoch(states[key], rows)          # warm-up
        cpu, wall = epoch(states[key], rows)
        print("%.9f %.9f" % (cpu, wall))
        sys.stdout.flush()


def main():
    torch.set_num_threads(1)
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    print("| MLP | rows | torch fp32 samples/s | torch QAT samples/s | QAT/fp32 |")
    print("|---|---:|---:|---:|---:|")
    for widths, rows in (([30, 64, 32, 1], 8192), ([784, 256, 128, 10], 2048)):
        f = bench(widths, rows, False)
        q = bench(widths, rows, True)
        print("| %s | %d | %.0f | %.0f | %.2f |" % ("-".join(map(str, widths)), rows, f, q, q / f))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
