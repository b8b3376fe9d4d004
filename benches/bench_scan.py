"""Scan throughput against the decode-only floor and the peers, side by side in one run.

Cases (each in a fresh subprocess, so peak RSS is its own; median of --repeats runs, the cases
taking turns run by run; the ratios are given per run, as median and range, in wall and CPU time):
  imgstats-all      imgstats.scan with every metric
  imgstats-hashes   imgstats.scan(metrics=["phash", "dhash", "ahash"])
  imgstats-steady   every metric, timed after import and a warm-up scan (a pipeline process)
  imgstats-cli      `imgstats scan FOLDER -o out.parquet` end to end (interpreter start, walk,
                    scan, Parquet, audit summary); FOLDER is the corpus' folder (mnist only)
  imgstats-fresh    `python -c "import imgstats; imgstats.scan(FOLDER)"` timed from outside
                    the process: interpreter start, import, directory walk, scan, frame (mnist)
  pillow-fresh      `python -c` starting a --threads process pool that Pillow-decodes the same
                    files (list read from a file), timed from outside the process likewise
  pillow-decode     Pillow decoding every file at full size, a process pool of --threads
  pillow-reduced    Pillow with draft() (libjpeg DCT scaling to ≥ 64 px short side), same pool
  imagehash-loop    a plain Python loop of imagehash.phash + imagehash.dhash over Pillow
  cleanvision       CleanVision's default audit (if `cleanvision` is importable)
  fastdup-stats     fastdup's stats run (if `fastdup` is importable)

Corpora: the Debian wallpaper packages (see ../shared/DATA.md) and, with --mnist, the 70,000
Fashion-MNIST images written out as PNG files (cached under benches/.data/).

Run: python benches/bench_scan.py [--repeats 3] [--threads 2] [--corpus wallpapers|mnist|both]
     --corpus mnist --cases imgstats-fresh,pillow-fresh --repeats 7: the small-file target,
     whole processes side by side, the two cases alternating run by run (also CPU seconds)
     --corpus wallpapers-jpeg|wallpapers-png|wallpapers-webp: one format of the wallpapers
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
WALLPAPER_DIRS = [
    "/usr/share/wallpapers",
    "/usr/share/backgrounds/mate",
    "/usr/share/backgrounds/gnome",
]
EXTS = {".jpg", ".jpeg", ".png", ".webp"}


def wallpaper_files() -> list[str]:
    # Symlinked copies are kept: they are the packages' real exact duplicates, and every case
    # decodes them again, as it would decode a copied file.
    files = []
    for d in WALLPAPER_DIRS:
        for root, _dirs, names in os.walk(d):
            for n in names:
                p = os.path.join(root, n)
                if os.path.splitext(n)[1].lower() in EXTS and os.path.isfile(p):
                    files.append(p)
    return sorted(files)


def mnist_files() -> list[str]:
    out = DATA / "fashion-mnist-png"
    marker = out / ".done"
    if not marker.exists():
        import numpy as np
        from PIL import Image

        src = Path("/usr/share/datasets/fashion-mnist")
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
            cand = [p for p in src.rglob(name + "*")]
            if not cand:
                raise SystemExit(
                    f"Fashion-MNIST not found under {src}: apt-get install dataset-fashion-mnist"
                )
            raw = cand[0].read_bytes()
            if cand[0].suffix == ".gz":
                raw = gzip.decompress(raw)
            count = int.from_bytes(raw[4:8], "big")
            imgs = np.frombuffer(raw, np.uint8, offset=16).reshape(count, 28, 28)
            sub = out / name.split("-")[0]
            sub.mkdir(exist_ok=True)
            for img in imgs:
                Image.fromarray(img).save(sub / f"{n:05d}.png")
                n += 1
        marker.write_text(str(n))
    return sorted(str(p) for p in out.rglob("*.png"))


# --- the cases, run inside a child process -------------------------------------------------


def _pillow_full(path: str) -> int:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return im.size[0]


def _pillow_reduced(path: str) -> int:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        s = max(1, min(w, h) // 64)
        im.draft("RGB", (w // s, h // s))  # JPEG only: DCT scaling; other formats decode fully
        im.load()
        return im.size[0]


def run_case(case: str, files: list[str], threads: int) -> dict:
    t0 = time.perf_counter()
    if case == "imgstats-steady":
        # A pipeline process: imgstats already imported and warmed up on other files; time
        # the scan alone (the other cases include interpreter imports and first-call costs).
        import imgstats

        imgstats.scan(files[-200:], threads=threads)
        t0 = time.perf_counter()
        df = imgstats.scan(files, threads=threads)
        errors = df["error"].is_not_null().sum()
    elif case == "imgstats-cli":
        import tempfile

        folder = os.path.commonpath(files)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "stats.parquet")
            cmd = [sys.executable, "-m", "imgstats.cli", "scan", folder, "-o", out]
            subprocess.run(cmd + ["--threads", str(threads)], check=True, capture_output=True)
            import polars as pl

            errors = pl.scan_parquet(out).select(pl.col("error").is_not_null().sum()).collect()
            errors = errors.item()
    elif case.startswith("imgstats"):
        import imgstats

        metrics = None if case == "imgstats-all" else ["phash", "dhash", "ahash"]
        df = imgstats.scan(files, metrics=metrics, threads=threads)
        errors = df["error"].is_not_null().sum()
    elif case.startswith("pillow"):
        from concurrent.futures import ProcessPoolExecutor

        fn = _pillow_full if case == "pillow-decode" else _pillow_reduced
        chunk = max(1, len(files) // (threads * 16))
        with ProcessPoolExecutor(threads) as ex:
            list(ex.map(fn, files, chunksize=chunk))
        errors = 0
    elif case == "imagehash-loop":
        import imagehash
        from PIL import Image

        errors = 0
        for p in files:
            try:
                with Image.open(p) as im:
                    imagehash.phash(im)
                    imagehash.dhash(im)
            except Exception:
                errors += 1
    elif case == "cleanvision":
        from cleanvision import Imagelab

        lab = Imagelab(filepaths=files)
        lab.find_issues(n_jobs=threads, verbose=False)
        errors = 0
    elif case == "fastdup-stats":
        import tempfile

        import fastdup

        work = tempfile.mkdtemp()
        fd = fastdup.create(work_dir=work, input_dir=files)
        # Statistics only (no embedding model); `run_mode=2` would mean "read saved features".
        fd.run(num_threads=threads, overwrite=True, run_stats_only=True)
        stats = Path(work) / "atrain_stats.csv"
        measured = max(0, len(stats.read_text().splitlines()) - 1) if stats.exists() else 0
        errors = len(files) - measured
    else:
        raise SystemExit(f"unknown case {case}")
    elapsed = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_rss_mb": max(rss_mb, rss_children), "errors": int(errors)}


# --- whole fresh processes, timed from outside (interpreter start and imports included) -------

FRESH_CASES = ("imgstats-fresh", "pillow-fresh")

_FRESH_IMGSTATS = """
import sys
import imgstats
df = imgstats.scan(sys.argv[1], threads=int(sys.argv[2]))
print(df.height, df["error"].is_not_null().sum())
"""

_FRESH_PILLOW = """
import sys
from concurrent.futures import ProcessPoolExecutor
from PIL import Image

def decode(path):
    with Image.open(path) as im:
        im.load()
        return im.size[0]

if __name__ == "__main__":
    files = open(sys.argv[1]).read().splitlines()
    threads = int(sys.argv[2])
    with ProcessPoolExecutor(threads) as ex:
        sizes = list(ex.map(decode, files, chunksize=max(1, len(files) // (threads * 16))))
    print(len(sizes), 0)
"""


def fresh_once(case: str, files: list[str], list_file: Path, threads: int) -> dict:
    """One whole process: wall seconds from fork to exit, and its CPU seconds (user + system,
    its pool's children included)."""
    if case == "imgstats-fresh":
        code, arg = _FRESH_IMGSTATS, os.path.commonpath(files)
    else:
        code, arg = _FRESH_PILLOW, str(list_file)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, arg, str(threads)], stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read() if proc.stdout else ""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} exited with {proc.returncode}")
    rows, errors = (int(x) for x in out.split()[-2:])
    if rows != len(files):
        raise RuntimeError(f"{case} measured {rows} files, the list has {len(files)}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "errors": errors,
    }


def measure_fresh(
    cases: list[str], files: list[str], list_file: Path, threads: int, repeats: int
) -> dict[str, dict]:
    """Run the fresh-process cases alternately (a, b, a, b, ...), so a change of load on a
    shared machine hits both alike; medians of `repeats` runs each."""
    runs: dict[str, list[dict]] = {c: [] for c in cases}
    for _ in range(repeats):
        for case in cases:
            runs[case].append(fresh_once(case, files, list_file, threads))
    return {
        case: {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rs),
            "all_seconds": [round(r["seconds"], 3) for r in rs],
            "all_cpu_seconds": [round(r["cpu_seconds"], 3) for r in rs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "errors": rs[0]["errors"],
        }
        for case, rs in runs.items()
    }


# fastdup pins old Pillow and numpy, so it lives in its own venv: PEERS_PYTHON=/path/to/python.
PEERS_PYTHON = os.environ.get("PEERS_PYTHON", sys.executable)


def python_for(case: str) -> str:
    return PEERS_PYTHON if case == "fastdup-stats" else sys.executable


def available(case: str) -> bool:
    mod = {
        "cleanvision": "cleanvision",
        "fastdup-stats": "fastdup",
        "imagehash-loop": "imagehash",
    }.get(case)
    if mod is None:
        return True
    r = subprocess.run([python_for(case), "-c", f"import {mod}"], capture_output=True)
    return r.returncode == 0


def run_once(case: str, list_file: Path, threads: int) -> dict | None:
    """One child run of `case`: its wall seconds (as the child timed them), peak RSS, and the CPU
    seconds of the child and everything it waited for (the Pillow pool's workers included), which
    a machine shared with other jobs disturbs less than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        [
            python_for(case),
            __file__,
            "--child",
            case,
            "--list",
            str(list_file),
            "--threads",
            str(threads),
        ],
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        print(f"  {case}: failed: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def summarise(runs: list[dict]) -> dict:
    return {
        "seconds": statistics.median(x["seconds"] for x in runs),
        "all_seconds": [round(x["seconds"], 3) for x in runs],
        "cpu_seconds": statistics.median(x["cpu_seconds"] for x in runs),
        "peak_rss_mb": max(x["peak_rss_mb"] for x in runs),
        "errors": runs[0]["errors"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--peer-repeats",
        type=int,
        default=1,
        help="runs of the slow peers (imagehash loop, CleanVision, fastdup)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--corpus",
        choices=[
            "wallpapers",
            "wallpapers-jpeg",
            "wallpapers-png",
            "wallpapers-webp",
            "mnist",
            "both",
        ],
        default="both",
        help="wallpapers-jpeg: only the JPEGs (CleanVision aborts on the LA PNG in the full set)",
    )
    ap.add_argument(
        "--cases",
        default="imgstats-all,imgstats-hashes,pillow-decode,pillow-reduced,imagehash-loop,cleanvision,fastdup-stats",
    )
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--child")
    ap.add_argument("--list")
    args = ap.parse_args()
    if args.child:
        files = Path(args.list).read_text().splitlines()
        print(json.dumps(run_case(args.child, files, args.threads)))
        return

    DATA.mkdir(exist_ok=True)
    corpora = []
    if args.corpus in ("wallpapers", "both"):
        corpora.append(("wallpapers", wallpaper_files()))
    one_format = {
        "wallpapers-jpeg": (".jpg", ".jpeg"),
        "wallpapers-png": (".png",),
        "wallpapers-webp": (".webp",),
    }
    if args.corpus in one_format:
        picked = [f for f in wallpaper_files() if f.lower().endswith(one_format[args.corpus])]
        corpora.append((args.corpus, picked))
    if args.corpus in ("mnist", "both"):
        corpora.append(("fashion-mnist-png", mnist_files()))
    results = {}
    for name, files in corpora:
        if not files:
            print(f"{name}: no files (install the packages in ../shared/DATA.md)")
            continue
        list_file = DATA / f"{name}.txt"
        list_file.write_text("\n".join(files))
        mp = _megapixels(files) if name.startswith("wallpapers") else len(files) * 28 * 28 / 1e6
        print(f"\n{name}: {len(files)} files, {mp:,.1f} MP, {args.threads} threads, ", end="")
        print(f"median of {args.repeats}")
        # Warm the page cache so every case reads from memory.
        for f in files:
            Path(f).read_bytes()
        cases = [c for c in args.cases.split(",") if c]
        if not name.startswith("wallpapers"):
            cases = [c for c in cases if c != "cleanvision"]  # minutes on 70,000 files
        else:
            # No folder holds just these files.
            cases = [c for c in cases if c not in ("imgstats-cli", "imgstats-fresh")]
        for c in [c for c in cases if not available(c)]:
            print(f"  {c:16s} skipped (not installed)")
            cases.remove(c)
        # Round robin: run k of every case follows run k-1 of every case, so a change in the
        # load of the (shared) machine hits all cases alike, and the ratio of run k is a fair draw.
        # (The fresh-process pair is timed apart, from outside: `measure_fresh` below.)
        runs: dict[str, list[dict]] = {c: [] for c in cases if c not in FRESH_CASES}
        failed: set[str] = set()
        for k in range(max(args.repeats, args.peer_repeats)):
            for case in runs:
                slow = case in ("imagehash-loop", "cleanvision", "fastdup-stats")
                if case in failed or k >= (args.peer_repeats if slow else args.repeats):
                    continue
                r = run_once(case, list_file, args.threads)
                if r is None:
                    failed.add(case)
                else:
                    runs[case].append(r)
        table = {}
        fresh = [c for c in cases if c in FRESH_CASES]
        if fresh:
            table.update(measure_fresh(fresh, files, list_file, args.threads, args.repeats))
            for case in fresh:
                r = table[case]
                rate = len(files) / r["seconds"]
                print(
                    f"  {case:16s} {r['seconds']:8.2f} s  {rate:10,.0f} img/s  "
                    f"cpu {r['cpu_seconds']:6.2f} s  peak {r['peak_rss_mb']:7.0f} MB  "
                    f"runs {r['all_seconds']}  cpu {r['all_cpu_seconds']}"
                )
            if len(fresh) == 2:
                a, b = (table[c]["cpu_seconds"] for c in FRESH_CASES)
                print(f"  cpu ratio imgstats-fresh / pillow-fresh: {a / b:.2f}")
                a, b = (table[c]["seconds"] for c in FRESH_CASES)
                print(f"  wall ratio imgstats-fresh / pillow-fresh (medians): {a / b:.2f}")
            cases = [c for c in cases if c not in FRESH_CASES]
        for case in cases:
            if case in failed or not runs[case]:
                continue
            r = table[case] = summarise(runs[case])
            rate = len(files) / r["seconds"]
            print(
                f"  {case:16s} {r['seconds']:8.2f} s  {rate:10,.0f} img/s  "
                f"{mp / r['seconds']:8.1f} MP/s  cpu {r['cpu_seconds']:7.2f} s  "
                f"peak {r['peak_rss_mb']:7.0f} MB  runs {r['all_seconds']}"
                + (f"  ({r['errors']} files not measured)" if r["errors"] else "")
            )
        for case, ref in (
            ("imgstats-all", "pillow-decode"),
            ("imgstats-hashes", "pillow-reduced"),
            ("imgstats-fresh", "pillow-fresh"),
        ):
            if case in runs and ref in runs and case in table and ref in table:
                pairs = list(zip(runs[case], runs[ref]))
                per_run = sorted(a["seconds"] / b["seconds"] for a, b in pairs)
                cpu = statistics.median(a["cpu_seconds"] / b["cpu_seconds"] for a, b in pairs)
                table[case]["ratio_runs"] = [round(x, 3) for x in per_run]
                print(
                    f"  ratio {case} / {ref}: median {statistics.median(per_run):.2f} "
                    f"(runs {per_run[0]:.2f}-{per_run[-1]:.2f}), CPU time {cpu:.2f}"
                )
        results[name] = {"files": len(files), "megapixels": mp, "cases": table}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def _megapixels(files: list[str]) -> float:
    from PIL import Image

    total = 0
    for f in files:
        try:
            with Image.open(f) as im:
                total += im.size[0] * im.size[1]
        except Exception:
            pass
    return total / 1e6


if __name__ == "__main__":
    main()
