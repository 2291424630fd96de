#!/usr/bin/env python3
"""Memory over time of one `portrait run`: resident memory sampled from /proc every 0.2 s,
each stage's end marked from the run's JSON log. Writes a CSV of the samples and an SVG chart.

    python3 benches/memory_profile.py --scale 10 --svg docs/perf/memory-sf10.svg
    # needs: cargo build --release; generated data is kept in /tmp/portrait-sfN
"""
import argparse, json, os, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "portrait")
AS_OF = "2026-11-22"


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--memory-limit", default=None, help="passed to portrait run (e.g. 8GB)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--svg", default=None)
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    data = args.data or f"/tmp/portrait-sf{args.scale:g}"
    if not os.path.isdir(os.path.join(data, "customers")):
        subprocess.run([BIN, "sample", "--scale", str(args.scale), "--out", data], check=True)
    cmd = [BIN, "--log-format", "json", "run", "--pipeline", os.path.join(ROOT, "pipelines", "nightly.toml"),
           "--input", data, "--output", data + "-out", "--as-of", AS_OF]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    marks, samples = [], []

    def read_log():
        for line in proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            fields = event.get("fields", {})
            if fields.get("message") == "stage finished":
                marks.append((time.perf_counter() - start, fields.get("stage")))
            elif fields.get("message") == "step finished":  # steps inside `execute`
                marks.append((time.perf_counter() - start, fields.get("step")))
            elif fields.get("message") == "routed":  # one per fact table inside `route`
                marks.append((time.perf_counter() - start, "route " + fields.get("table")))
            elif fields.get("message") == "published":
                marks.append((time.perf_counter() - start, "published"))
                summary.update(fields)

    summary = {}
    reader = threading.Thread(target=read_log)
    reader.start()
    while proc.poll() is None:
        m = rss_mib(proc.pid)
        if m is not None:
            samples.append((time.perf_counter() - start, m))
        time.sleep(0.2)
    reader.join()
    if proc.returncode != 0:
        sys.exit(f"portrait run failed ({proc.returncode})")
    peak = max(m for _, m in samples)
    print(f"SF {args.scale:g}: {samples[-1][0]:.1f} s, sampled peak {peak:.0f} MiB, reported peak {summary.get('peak_memory_mib')} MiB")
    for t, stage in marks:
        print(f"  {t:7.1f} s  {stage} finished")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("seconds,rss_mib\n" + "".join(f"{t:.2f},{m:.0f}\n" for t, m in samples))
    if args.svg:
        write_svg(args.svg, samples, marks, f"portrait run, SF {args.scale:g}: resident memory over time (peak {peak:.0f} MiB)")


def write_svg(path, samples, marks, title):
    w, h, left, bottom, top, right = 900, 360, 60, 40, 30, 20
    t_max = max(t for t, _ in samples)
    m_max = max(m for _, m in samples) * 1.1
    x = lambda t: left + (w - left - right) * t / t_max
    y = lambda m: h - bottom - (h - bottom - top) * m / m_max
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="18" font-size="13">{title}</text>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>']
    for i in range(6):
        m = m_max * i / 5
        parts.append(f'<text x="{left - 5}" y="{y(m) + 4:.1f}" text-anchor="end">{m / 1024:.1f} GiB</text>')
    for i in range(6):
        t = t_max * i / 5
        parts.append(f'<text x="{x(t):.1f}" y="{h - bottom + 15}" text-anchor="middle">{t:.0f} s</text>')
    points = " ".join(f"{x(t):.1f},{y(m):.1f}" for t, m in samples)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    for i, (t, stage) in enumerate(marks):
        parts.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{h - bottom}" stroke="#d62728" stroke-dasharray="3,3"/>')
        parts.append(f'<text x="{x(t) - 3:.1f}" y="{top + 12 + 12 * (i % 3)}" text-anchor="end" fill="#d62728">{stage}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
