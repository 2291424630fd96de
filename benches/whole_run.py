#!/usr/bin/env python3
"""Whole-run benchmark: `portrait run` against the core computation in DuckDB on the same
files in the same session. Prints wall time, CPU time and peak memory of each and the ratio.

    python3 benches/whole_run.py --scale 1 --runs 3      # needs: cargo build --release; pip install duckdb
"""
import argparse, datetime, os, resource, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "portrait")
AS_OF = "2026-11-22"


def timed_child(cmd):
    """Wall, CPU (user+sys) and peak RSS (MiB) of one child process, via GNU time."""
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%U %S %M"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    user, sys_, rss_kb = out.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(sys_), int(rss_kb) / 1024


DUCKDB_CHILD = r"""
import duckdb, sys
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(open(sys.argv[1]).read())  # every statement of duckdb_core.sql, in order
print(con.execute("SELECT count(*) FROM result").fetchone()[0])
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory-limit", default=None, help="passed to portrait run (e.g. 8GB)")
    ap.add_argument("--data", default=None, help="folder for generated data (kept between runs)")
    args = ap.parse_args()
    data = args.data or os.path.join(tempfile.gettempdir(), f"portrait-sf{args.scale:g}")
    if not os.path.isdir(os.path.join(data, "customers")):
        t = time.perf_counter()
        subprocess.run([BIN, "sample", "--scale", str(args.scale), "--out", data], check=True)
        print(f"generated SF {args.scale:g} in {time.perf_counter() - t:.1f} s")
    out = os.path.join(data + "-out")
    pipeline = os.path.join(ROOT, "pipelines", "nightly.toml")
    end = (datetime.date.fromisoformat(AS_OF) + datetime.timedelta(days=1)).isoformat()
    results = {"portrait": [], "duckdb": []}
    limit = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    for i in range(args.runs):
        results["portrait"].append(timed_child([BIN, "--log-format", "json", "run", "--pipeline", pipeline,
                                                "--input", data, "--output", out, "--as-of", AS_OF] + limit))
        sql = open(os.path.join(ROOT, "benches", "duckdb_core.sql")).read()
        sql = sql.replace("{input}", data).replace("{end}", end)
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write(sql)
        results["duckdb"].append(timed_child([sys.executable, "-c", DUCKDB_CHILD, f.name]))
    print(f"\nSF {args.scale:g}, {args.runs} runs each (median; wall s, CPU s, peak MiB)")
    med = {}
    for name, rows in results.items():
        rows = sorted(rows)
        m = rows[len(rows) // 2]
        med[name] = m
        print(f"  {name:9s} wall {m[0]:7.2f}  cpu {m[1]:7.2f}  peak {m[2]:8.0f}   all walls: {', '.join(f'{r[0]:.2f}' for r in rows)}")
    p, d = med["portrait"], med["duckdb"]
    print(f"  ratio portrait/duckdb: wall {p[0] / d[0]:.2f}, cpu {p[1] / d[1]:.2f}, peak memory {p[2] / d[2]:.2f}")


if __name__ == "__main__":
    main()
