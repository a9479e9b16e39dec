#!/usr/bin/env python3
"""Turns bench/run.sh's raw runs into bench/results/latest.md, latest.csv and the chart data.

Usage: report.py RUNS_CSV META_TXT JOBS_CSV JOBS_MD OUTDIR
RUNS_CSV has one row per run (case,tool,run,wall_s,cpu_s,rss_kib,daemon_rss_kib,daemon_cpu_s,
bytes,files); META_TXT is key=value lines about the machine and the parameters; JOBS_CSV and
JOBS_MD are bench/jobs.sh's output (may be empty). Only the standard library: the bench must
run on what scripts/setup.sh installs.
"""
import csv
import statistics
import sys
from collections import OrderedDict

GIB = 1 << 30
MIB = 1 << 20

# How each tool was run, for the tables (the exact commands are in bench/run.sh).
COMMANDS = {
    "big": {
        "bgcopy": "`bgcopy transfer URL FILE` (through bgcopyd)",
        "curl": "`curl -o FILE URL`",
        "wget": "`wget -O FILE URL`",
        "aria2c-x1": "`aria2c -x1 URL`",
        "aria2c-x8": "`aria2c -x8 -s8 URL`",
        "bgcopy-multi": "`bgcopy transfer`, bgcopyd with `connections_per_file = 8`",
    },
    "small": {
        "bgcopy": "one job: `create`, `add-set` (1 list), `resume`, `wait`, `complete`",
        "curl": "`curl --parallel -K LIST` (parallel-max 50)",
        "aria2c": "`aria2c -i LIST` (defaults: 5 at a time)",
        "wget": "`wget -i LIST` (one at a time)",
        "durable-copy-1": "not a downloader: the local source files placed as bgcopy places "
        "them (staging file, fdatasync, rename, directory fsync), one at a time "
        "(`bench/durable_copy.py`): the floor of the durability promise",
        "durable-copy-8": "the same with 8 threads: what overlapping the flushes would buy",
        "curl-durable": "not a rival: `curl --parallel` into a fresh directory, one `syncfs`, "
        "the directory renamed into place and its parent flushed (`bench/curl_durable.sh`): "
        "the least any downloader must add to curl to keep bgcopy's promise",
    },
    "slow": {
        "bgcopy": "`bgcopy transfer` (one connection)",
        "bgcopy-multi": "`bgcopy transfer`, bgcopyd with `connections_per_file = 8`",
        "curl": "`curl -o FILE URL`",
        "aria2c-x8": "`aria2c -x8 -s8 URL`",
    },
}
BASELINE = {"big": "curl", "small": "curl", "slow": "curl"}


def stats(values):
    """(median, min, max) of a non-empty list."""
    return statistics.median(values), min(values), max(values)


def fmt(x, digits=2):
    return f"{x:.{digits}f}"


def span(values, digits=2):
    med, lo, hi = stats(values)
    return f"{fmt(med, digits)} ({fmt(lo, digits)}–{fmt(hi, digits)})"


def load_runs(path):
    runs = OrderedDict()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            runs.setdefault(row["case"], OrderedDict()).setdefault(row["tool"], []).append(row)
    return runs


def column(rows, key, scale=1.0):
    return [float(r[key]) * scale for r in rows if r[key] != ""]


def per_tool(rows):
    """Derived per-run series of one tool."""
    wall = column(rows, "wall_s")
    cpu = column(rows, "cpu_s")
    nbytes = float(rows[0]["bytes"])
    return {
        "wall": wall,
        "cpu": cpu,
        "cpu_per_gib": [c / (nbytes / GIB) for c in cpu],
        "mibps": [nbytes / MIB / w for w in wall],
        "rss": column(rows, "rss_kib", 1 / 1024),
        "daemon_rss": column(rows, "daemon_rss_kib", 1 / 1024),
        "daemon_cpu": column(rows, "daemon_cpu_s"),
        "files": int(rows[0]["files"]),
        "bytes": nbytes,
    }


def case_table(case, tools, out, csv_rows):
    base = tools.get(BASELINE[case])
    base_wall = stats(base["wall"])[0] if base else None
    base_cpu = stats(base["cpu"])[0] if base else None
    out.append(
        "| tool | wall s | vs curl | MiB/s | CPU s (user+sys) | CPU vs curl"
        " | peak RSS client MiB | peak RSS bgcopyd MiB |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for tool, d in tools.items():
        wall_med = stats(d["wall"])[0]
        cpu_med = stats(d["cpu"])[0]
        ratio = f"{wall_med / base_wall:.2f}x" if base_wall else ""
        cpu_ratio = f"{cpu_med / base_cpu:.2f}x" if base_cpu else ""
        cpu_cell = span(d["cpu"])
        if case != "small":
            cpu_cell += f", {fmt(stats(d['cpu_per_gib'])[0])}/GiB"
        daemon = span(d["daemon_rss"], 1) if d["daemon_rss"] else "–"
        out.append(
            f"| {tool} | {span(d['wall'])} | {ratio} | {fmt(stats(d['mibps'])[0], 0)}"
            f" | {cpu_cell} | {cpu_ratio} | {span(d['rss'], 1)} | {daemon} |"
        )
        for metric, unit, key in (
            ("wall_s", "s", "wall"),
            ("cpu_s", "s", "cpu"),
            ("cpu_s_per_gib", "s/GiB", "cpu_per_gib"),
            ("mib_per_s", "MiB/s", "mibps"),
            ("rss_client_mib", "MiB", "rss"),
            ("rss_daemon_mib", "MiB", "daemon_rss"),
            ("daemon_cpu_s", "s", "daemon_cpu"),
        ):
            if d[key]:
                med, lo, hi = stats(d[key])
                csv_rows.append([case, tool, metric, f"{med:.4g}", f"{lo:.4g}", f"{hi:.4g}", unit])
        if base_wall:
            csv_rows.append([case, tool, "wall_vs_curl", f"{wall_med / base_wall:.3f}", "", "", "x"])
            csv_rows.append([case, tool, "cpu_vs_curl", f"{cpu_med / base_cpu:.3f}", "", "", "x"])
    out.append("")
    for tool in tools:
        out.append(f"- {tool}: {COMMANDS.get(case, {}).get(tool, tool)}")
    out.append("")


def verdict(ok, text):
    return f"- **{'met' if ok else 'NOT met'}**: {text}"


def targets(cases, jobs, meta):
    """SPEC §6 targets, each with its measured value and margin."""
    lines = []
    big = cases.get("big", {})
    if "bgcopy" in big and "curl" in big:
        b, c = big["bgcopy"], big["curl"]
        r = stats(b["wall"])[0] / stats(c["wall"])[0]
        lines.append(verdict(r <= 1.10, f"1 GiB wall within 1.10x of `curl -o`: {r:.2f}x"))
        for other in ("wget", "aria2c-x1"):
            if other in big:
                o = stats(big[other]["wall"])[0]
                mine = stats(b["wall"])[0]
                lines.append(
                    verdict(mine < o, f"faster than {other}: {mine:.2f} s vs {o:.2f} s ({mine / o:.2f}x)")
                )
        r = stats(b["cpu_per_gib"])[0] / stats(c["cpu_per_gib"])[0]
        lines.append(
            verdict(
                r <= 1.2,
                f"CPU s/GiB within 1.2x of curl: {stats(b['cpu_per_gib'])[0]:.2f} vs "
                f"{stats(c['cpu_per_gib'])[0]:.2f} ({r:.2f}x; bgcopy = daemon + CLI)",
            )
        )
        peak = max(b["daemon_rss"])
        lines.append(verdict(peak < 30, f"daemon RSS under 30 MiB: peak {peak:.1f} MiB (worst run)"))
    small = cases.get("small", {})
    if "bgcopy" in small:
        mine = stats(small["bgcopy"]["wall"])[0]
        if "aria2c" in small:
            o = stats(small["aria2c"]["wall"])[0]
            lines.append(
                verdict(mine < o, f"{meta['small_n']} x {meta['small_kib']} KiB faster than `aria2c -i`: {mine:.2f} s vs {o:.2f} s ({mine / o:.2f}x)")
            )
        if "curl" in small:
            o = stats(small["curl"]["wall"])[0]
            lines.append(
                verdict(
                    mine <= 1.5 * o,
                    f"within 1.5x of `curl --parallel`: {mine:.2f} s vs {o:.2f} s ({mine / o:.2f}x)",
                )
            )
    limits = {
        "create_jobs_per_s": (lambda v: v >= 5000, "create + add + resume 5,000+ jobs/s (3 requests per job)", "jobs/s"),
        "submit_jobs_per_s": (lambda v: v >= 5000, "create + add + resume 5,000+ jobs/s (one `submit_job` request per job)", "jobs/s"),
        "list_json_s": (lambda v: v < 2, "`bgcopy list --json` under 2 s", "s"),
        "restart_s": (lambda v: v < 1, "restart to serving under 1 s", "s"),
        "rss_loaded_mib": (lambda v: v < 200, "RSS with 100,000 jobs under 200 MiB", "MiB"),
    }
    for row in jobs:
        if len(row) >= 4 and row[2] in limits:
            ok, text, unit = limits[row[2]]
            value = float(row[3])
            lines.append(verdict(ok(value), f"{text}: {value:g} {unit} (median)"))
    return lines


def chart_data(cases):
    """Rows "index label ratio case_index" for chart.gp: median wall time / curl's, per case."""
    rows = []
    for ci, (case, tools) in enumerate(cases.items()):
        base = tools.get(BASELINE[case])
        if not base:
            continue
        base_wall = stats(base["wall"])[0]
        for tool, d in tools.items():
            rows.append((f'"{case}: {tool}"', stats(d["wall"])[0] / base_wall, ci))
    return [f"{i} {label} {ratio:.4f} {ci}" for i, (label, ratio, ci) in enumerate(rows)]


def main():
    runs_csv, meta_txt, jobs_csv, jobs_md, outdir = sys.argv[1:6]
    meta = {}
    with open(meta_txt) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    raw = load_runs(runs_csv)
    cases = OrderedDict((c, OrderedDict((t, per_tool(r)) for t, r in tools.items())) for c, tools in raw.items())
    with open(jobs_csv) as f:
        jobs = [row for row in csv.reader(f) if row]
    with open(jobs_md) as f:
        jobs_text = f.read().strip()

    csv_rows = []
    out = ["# bgcopy benchmark: latest run", ""]
    if meta.get("quick") == "1":
        out += ["**Quick smoke run (`--quick`): small sizes, 2 rounds. Not a result.**", ""]
    out += [
        f"{meta['date']}, commit {meta['commit']}, build {meta['build']}.",
        "",
        f"Machine: {meta['cpu']}, {meta['cores']} cores, {meta['ram']} RAM, {meta['os']},"
        f" kernel {meta['kernel']}, files on {meta['fs']}.",
        f"Tools: {meta['curl']}, {meta['wget']}, {meta['aria2c']}, nginx {meta['nginx']}.",
        f"Load: {meta['load']}.",
        "",
        f"Each cell: median (min–max) of {meta['runs']} runs; tools alternate within each round,"
        " the order rotated per round. Every file is checked (size + SHA-256) after each run.",
        "CPU = user + sys; for bgcopy the CLI's plus bgcopyd's delta over the run. Peak RSS:"
        " the client process (for bgcopy the largest CLI process; for the others the tool);"
        " bgcopyd's VmHWM, with a fresh daemon per run.",
        "",
    ]
    titles = {
        "big": f"One {meta['big_mib']} MiB file over loopback",
        "small": f"One job of {meta['small_n']} files x {meta['small_kib']} KiB",
        "slow": f"One {meta['slow_mib']} MiB file, server limits each connection to"
        f" {meta['slow_rate'].upper().replace('M', ' MiB')}/s (nginx `limit_rate`)",
    }
    for case, tools in cases.items():
        out += [f"## {titles.get(case, case)}", ""]
        case_table(case, tools, out, csv_rows)
        if case in ("big", "slow") and meta.get("multi_note"):
            out += [f"Not run: {meta['multi_note']}.", ""]
    out += ["## 100,000 jobs (bench/jobs.sh)", ""]
    if jobs_text:
        out += [jobs_text.replace("\n### ", "\n#### ").replace("### ", "#### ", 1), ""]
    if meta.get("jobs_note"):
        out += [f"Not measured: {meta['jobs_note']}.", ""]
    out += ["## SPEC §6 targets", ""] + targets(cases, jobs, meta) + [""]
    out += ["![median wall time relative to curl](chart.png)", ""]

    with open(f"{outdir}/latest.md", "w") as f:
        f.write("\n".join(out))
    with open(f"{outdir}/latest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "tool", "metric", "median", "min", "max", "unit"])
        w.writerows(csv_rows)
        w.writerows(jobs)
    with open(f"{outdir}/chart.dat", "w") as f:
        f.write("\n".join(chart_data(cases)) + "\n")


if __name__ == "__main__":
    main()
