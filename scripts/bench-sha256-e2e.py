#!/usr/bin/env python3
# End-to-end `chunker chunk` with SHA-256 lanes vs the portable kernel (the sha2 crate, one
# message after another = the code before issue 12), same binary, alternating runs, CPU
# seconds (user+sys) of each run, medians; checks the outputs are identical.
# Usage: scripts/bench-sha256-e2e.py NAR [ROUNDS] [BASELINE_BINARY]   (binary: target/release/chunker)
# With BASELINE_BINARY (e.g. a copy of main's target/release/chunker), its runs (detected kernel)
# join the alternation as a third column, and the ratio of shani against it is printed too.
import subprocess, time, os, statistics, hashlib, sys
B = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "chunker")
F = sys.argv[1] if len(sys.argv) > 1 else "/tmp/x.nar"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
cfgs = {
  "hash+stream, no read-ahead": ["--hash","sha256","--stream-hash","sha256","--no-read-ahead"],
  "hash only, no read-ahead": ["--hash","sha256","--no-read-ahead"],
  "hash+stream, read-ahead": ["--hash","sha256","--stream-hash","sha256"],
  "hash only, read-ahead": ["--hash","sha256"],
}
kernels = ["portable", "shani"]
baseline = sys.argv[3] if len(sys.argv) > 3 else None
if baseline:
    kernels.append("baseline")
times = {(c,k): [] for c in cfgs for k in kernels}
outs = {}
for r in range(rounds):
    for c, a in cfgs.items():
        for k in (kernels if r % 2 == 0 else kernels[::-1]):
            env = dict(os.environ, CHUNKER_SHA256_KERNEL=k if k != "baseline" else "")
            p = subprocess.Popen([B if k != "baseline" else baseline, "chunk", F, "--no-progress", "--format", "csv"] + a, env=env, stdout=subprocess.PIPE)
            out = p.stdout.read()
            _, status, ru = os.wait4(p.pid, 0)
            assert status == 0
            times[(c,k)].append(ru.ru_utime + ru.ru_stime)
            outs.setdefault(c, set()).add(hashlib.sha256(out).hexdigest())
size = os.path.getsize(F)
for c in cfgs:
    assert len(outs[c]) == 1, f"outputs differ for {c}"
    mp = statistics.median(times[(c,"portable")]); ms = statistics.median(times[(c,"shani")])
    line = f"{c:28s} portable {size/mp/1e9:.3f} GB/s  shani {size/ms/1e9:.3f} GB/s  ratio {mp/ms:.2f}x"
    if baseline:
        mb = statistics.median(times[(c,"baseline")])
        line += f"  baseline {size/mb/1e9:.3f} GB/s  shani/baseline {mb/ms:.2f}x"
    print(line + f"  (runs {' '.join(k[0] + str([round(x,2) for x in times[(c,k)]]) for k in kernels)})")
print("CPU seconds (user+sys) per run, medians; outputs identical across kernels" + (" and the baseline" if baseline else "") + ": yes")
