"""imgstats.ray.scan against imgstats.scan on the same CPUs.

For k = 1 and 2 CPUs, each in a fresh process (a local Ray cluster of k CPUs, started before the
clock and warmed up with one untimed run):
  local           imgstats.scan(files, threads=k)
  ray-bytes       read_binary_files(files, include_paths=True, override_num_blocks=4k) ->
                  imgstats.ray.scan (k tasks of 1 CPU): Ray fuses the read with the scan, so
                  the bytes never enter the object store, and the binding reads the Arrow
                  binary column in place (no copy into Python bytes)
  ray-bytes-default  the same with Ray's default block count: with fewer files than
                  DataContext.read_op_min_num_blocks (200) Ray splits each read block, which
                  stops it fusing the read with the scan: every image goes through the object
                  store between two tasks
  ray-paths       from_items(paths, override_num_blocks=4k) -> imgstats.ray.scan: each task
                  reads its own files
Ray's workers run at the driver's priority (RAY_worker_niceness=0; Ray's default is nice 15,
which on a loaded machine measures the scheduler, not the scan). Each case is timed end to end
(reading the files included) until every result block exists; cases run interleaved; the
median of --repeats runs is reported with images/s and the ratio to `local`.

Corpus: the Debian wallpaper packages (see benches/bench_scan.py), or --mnist N for N
Fashion-MNIST PNGs.

Run: python benches/bench_ray.py [--repeats 5] [--batch-size 0] [--mnist 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def child(cpus: int, files: list[str], repeats: int, batch_size: int | None) -> dict[str, float]:
    import imgstats
    import imgstats.ray
    import ray

    # Ray starts its workers at nice 15 (RAY_worker_niceness); on a shared machine that alone
    # hands the CPU to everything else while `local` runs at nice 0. Same priority for both.
    os.environ["RAY_worker_niceness"] = "0"
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False

    def run_local() -> None:
        imgstats.scan(files, threads=cpus)

    def run_bytes(blocks: int | None) -> None:
        ds = ray.data.read_binary_files(files, include_paths=True, override_num_blocks=blocks)
        out = imgstats.ray.scan(ds, batch_size=batch_size).materialize()
        assert out.count() == len(files)

    def run_paths() -> None:
        ds = ray.data.from_items([{"path": f} for f in files], override_num_blocks=cpus * 4)
        out = imgstats.ray.scan(ds, batch_size=batch_size).materialize()
        assert out.count() == len(files)

    cases = {
        "local": run_local,
        "ray-bytes": lambda: run_bytes(cpus * 4),
        "ray-bytes-default": lambda: run_bytes(None),
        "ray-paths": run_paths,
    }
    for fn in cases.values():
        fn()  # warm-up: worker processes started, imports done, page cache filled
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):  # interleaved, so a change in machine load hits every case alike
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    result = {name: statistics.median(t) for name, t in times.items()}
    ray.shutdown()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=0, help="0: one Ray block per call")
    ap.add_argument("--mnist", type=int, default=0, help="use N Fashion-MNIST PNGs instead")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    from bench_scan import mnist_files, wallpaper_files

    if args.mnist:
        files, corpus = mnist_files()[: args.mnist], f"{args.mnist} Fashion-MNIST PNGs"
    else:
        files, corpus = wallpaper_files(), "Debian wallpapers"
    if args.child:
        batch = args.batch_size or None
        print(json.dumps(child(args.child, files, args.repeats, batch)))
        return
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln), "?"
    )
    load = open("/proc/loadavg").read().split()[:3]
    print(
        f"{len(files)} files ({corpus}), {cpu} (lscpu), batch {args.batch_size}, medians of "
        f"{args.repeats}; shared machine, load average {' '.join(load)} at start"
    )
    for cpus in (1, 2):
        cmd = [sys.executable, __file__, "--child", str(cpus), "--repeats", str(args.repeats)]
        cmd += ["--batch-size", str(args.batch_size), "--mnist", str(args.mnist)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        times = json.loads(out.strip().splitlines()[-1])
        for name, t in times.items():
            ratio = t / times["local"]
            print(
                f"  {cpus} CPU  {name:<17} {t:7.3f} s  {len(files) / t:8.1f} images/s"
                f"  {ratio:5.2f}x local"
            )


if __name__ == "__main__":
    main()
