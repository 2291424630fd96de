#!/usr/bin/env python3
"""Incremental against full runs (docs/design.md, "Incremental runs"): one more day of deliveries
published incrementally and in full, back to back, from the same state; then a second delivery of
that day. Prints wall time and peak memory of each and the ratios.

    python3 benches/incremental.py --scale 1      # needs: cargo build --release
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "portrait")
PIPELINE = os.path.join(ROOT, "pipelines", "nightly.toml")
DAY_BEFORE, DAY = "2026-11-21", "2026-11-22"


def deliver(deliveries, view, last, first_only=False):
    """`view` links to the deliveries up to `last` (of `last` only its first delivery)."""
    for table in os.listdir(deliveries):
        if table == "truth":
            continue
        for folder in sorted(os.listdir(os.path.join(deliveries, table))):
            if folder[3:] > last:
                continue
            os.makedirs(os.path.join(view, table, folder), exist_ok=True)
            for f in os.listdir(os.path.join(deliveries, table, folder)):
                target = os.path.join(view, table, folder, f)
                if (folder[3:] == last and first_only and f.startswith("part-2")) or os.path.exists(target):
                    continue
                os.symlink(os.path.join(deliveries, table, folder, f), target)


def run(view, out, day, *extra):
    """Wall seconds, peak RSS (MiB) and mode (incremental, or full and why) of one `portrait run`."""
    start = time.perf_counter()
    cmd = ["/usr/bin/time", "-f", "%M", BIN, "--log-format", "json", "run", "--pipeline", PIPELINE,
           "--input", view, "--output", out, "--as-of", day, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"run failed ({p.returncode}):\n{p.stderr[-3000:]}")
    manifest = json.load(open(os.path.join(out, "_manifest", f"dt={day}", "_manifest.json")))
    mode = manifest["execution"]["mode"] + (f" ({manifest['execution']['full_because']})" if "full_because" in manifest["execution"] else "")
    return wall, int(p.stderr.strip().splitlines()[-1]) / 1024, mode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--data", default=None, help="folder for the generated deliveries (kept between runs)")
    args = ap.parse_args()
    data = args.data or os.path.join(tempfile.gettempdir(), f"portrait-deliveries-sf{args.scale:g}")
    if not os.path.isdir(os.path.join(data, "customers")):
        subprocess.run([BIN, "sample", "--scale", str(args.scale), "--out", data, "--deliveries", "14"], check=True)
    work = tempfile.mkdtemp(prefix="portrait-incremental-")
    view, before = os.path.join(work, "in"), os.path.join(work, "before")
    deliver(data, view, DAY_BEFORE)
    run(view, before, DAY_BEFORE)  # the state of the day before
    deliver(data, view, DAY, first_only=True)
    rows = {}
    for name, extra in [("full", ["--full"]), ("incremental", [])]:
        out = os.path.join(work, name)
        shutil.copytree(before, out, symlinks=True)
        rows[name] = run(view, out, DAY, *extra)
    deliver(data, view, DAY)  # the day's second delivery
    rows["second delivery, full"] = run(view, os.path.join(work, "full"), DAY, "--full")
    rows["second delivery, incremental"] = run(view, os.path.join(work, "incremental"), DAY)
    print(f"\nSF {args.scale:g}, one more day of deliveries (wall s, peak MiB)")
    for name, (wall, peak, mode) in rows.items():
        print(f"  {name:30s} wall {wall:7.2f}  peak {peak:8.0f}  {mode}")
    for what in ["", "second delivery, "]:
        f, i = rows[f"{what}full"], rows[f"{what}incremental"]
        print(f"  {what or 'first delivery, '}incremental/full: wall {i[0] / f[0]:.2f}, peak memory {i[1] / f[1]:.2f}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
