#!/usr/bin/env python3
# IO-003: read sizes and posix_fadvise for `chunker chunk` (pipeline, T = 2), cold and warm
# page cache, and the mapped input; variants alternate, medians of wall seconds.
# Usage (as root, for drop_caches): scripts/bench-io.py FILE [ROUNDS] (target/release/chunker).
# Cold = `echo 3 > /proc/sys/vm/drop_caches` before each run. fadvise variants open FILE here, advise, and hand the fd to
# `chunker chunk -` as stdin (advice is per open file description, shared through the fd).
import os, subprocess, sys, time, statistics
B = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "chunker")
F = sys.argv[1]; rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
size = os.path.getsize(F)
def drop():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f: f.write("3\n")
def run(args, advice=None, stdin_file=False):
    t = time.perf_counter()
    if advice is None and not stdin_file:
        p = subprocess.run([B, "chunk", F, "--no-progress", "--threads", "2"] + args, stdout=subprocess.DEVNULL)
    else:
        fd = os.open(F, os.O_RDONLY)
        if advice is not None:
            os.posix_fadvise(fd, 0, 0, advice)
        p = subprocess.run([B, "chunk", "-", "--no-progress", "--threads", "2"] + args, stdin=fd, stdout=subprocess.DEVNULL)
        os.close(fd)
    assert p.returncode == 0
    return time.perf_counter() - t
variants = [
    ("read 64K", ["--read-size", "64K"], None, False),
    ("read 256K", ["--read-size", "256K"], None, False),
    ("read 1M", ["--read-size", "1M"], None, False),
    ("read 4M (default)", [], None, False),
    ("read 16M", ["--read-size", "16M"], None, False),
    ("stdin 4M, no advice", [], None, True),
    ("stdin 4M, FADV_SEQUENTIAL", [], os.POSIX_FADV_SEQUENTIAL, True),
    ("stdin 4M, FADV_WILLNEED", [], os.POSIX_FADV_WILLNEED, True),
    ("stdin 4M, FADV_NOREUSE", [], os.POSIX_FADV_NOREUSE, True),
    ("mmap", ["--mmap"], None, False),
]
res = {}
for cache in ("cold", "warm"):
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for name, args, adv, sin in order:
            if cache == "cold": drop()
            else: run(args, adv, sin)  # warm it
            res.setdefault((cache, name), []).append(run(args, adv, sin))
print(f"# {F}: {size} bytes, {rounds} rounds, medians of wall seconds (GB/s), min..max")
for cache in ("cold", "warm"):
    for name, *_ in variants:
        v = res[(cache, name)]; m = statistics.median(v)
        print(f"{cache} {name:28s} {m:.3f} s ({size/m/1e9:.3f} GB/s)  {min(v):.3f}..{max(v):.3f}")
