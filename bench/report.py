"""bench/results.json (machine-readable) and bench/RESULTS.md (for people) from one benchmark run.

results.json keeps one entry per scale: a run at SCALE=10 replaces the SCALE=10 entry and keeps the others, so
RESULTS.md can show SCALE=1 and SCALE=10 side by side even when they were run on different occasions.
"""
from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
from pathlib import Path

from bench import ROOT
from bench.harness import CONTENDERS, WHOLE_JOB
from bench.measure import Run

NOOP_LIMIT_S = 3.0


def _summary(key: str, runs: list[Run], failed: Run | None) -> dict:
    label, what = CONTENDERS[key][1], CONTENDERS[key][2]
    ok_runs = [r for r in runs if r.ok]
    out = {"label": label, "what": what, "ok": failed is None and bool(ok_runs),
           "reason": failed.reason if failed else ("" if ok_runs else "not run"),
           "runs": [r.to_dict() for r in runs]}
    if ok_runs:
        secs = [r.seconds for r in ok_runs]
        out.update(median_s=round(statistics.median(secs), 3), min_s=round(min(secs), 3), max_s=round(max(secs), 3),
                   n=len(secs), peak_rss_bytes=max(r.peak_rss_bytes for r in ok_runs))
        rows = {r.rows for r in ok_runs if r.rows is not None}
        out["rows"] = rows.pop() if len(rows) == 1 else (sorted(rows) if rows else None)
    elif runs:
        out["peak_rss_bytes"] = max(r.peak_rss_bytes for r in runs)
    return out


def _ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not a.get("ok") or not b.get("ok") or not b.get("median_s"):
        return None
    return round(a["median_s"] / b["median_s"], 3)


def scale_entry(args, manifest: dict, runs: dict[str, list[Run]], failed: dict[str, Run], info: dict,
                seconds: float) -> dict:
    contenders = {key: _summary(key, runs.get(key, []), failed.get(key))
                  for key in CONTENDERS if CONTENDERS[key][0] in args.only_set}
    counts_block = counts_check(contenders, manifest.get("expected_curated"))

    c = contenders.get
    ratios = {
        "pipeline_vs_seed_style": _ratio(c("pipeline"), c("seed_style")),
        "pipeline_vs_pandas": _ratio(c("pipeline"), c("pandas")),
        "extract_vs_floor": _ratio(c("extract"), c("extract_floor")),
        "transform_vs_floor": _ratio(c("transform"), c("transform_floor")),
        # rate ratio: (rows / pipeline seconds) / (rows / floor seconds) = floor seconds / pipeline seconds
        "load_rate_vs_floor": _ratio(c("load_floor"), c("load")),
    }
    if c("pipeline") and c("pandas") and c("pipeline").get("ok") and c("pandas").get("ok"):
        ratios["pipeline_vs_pandas_peak_rss"] = round(c("pipeline")["peak_rss_bytes"] /
                                                      max(1, c("pandas")["peak_rss_bytes"]), 3)
    targets = _targets(args.scale, contenders, ratios, counts_block)
    total_records = sum(f.get("records", 0) for f in manifest.get("files", {}).values())
    total_bytes = sum(f.get("bytes", 0) for f in manifest.get("files", {}).values())
    return {
        "key": f"{args.scale:g}", "scale": args.scale, "date": args.date, "seed": args.seed, "repeat": args.repeat,
        "workers": args.workers, "time_cap_s": args.time_cap, "only": sorted(args.only_set),
        "records": total_records, "bytes": total_bytes, "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1), "machine": info, "contenders": contenders, "counts": counts_block,
        "ratios": ratios, "targets": targets,
    }


def counts_check(contenders: dict, expected: int | None) -> dict:
    """The row-count check: every whole-job contender's table, every run, against each other and the manifest.

    ``match`` is True when at least two whole-job contenders finished and every count (of every run, and of the
    load stage and floor) is equal, and equal to the generator's manifest; None when fewer than two finished
    (nothing to compare); False otherwise.
    """
    counts, problems = {}, []
    for key, table in WHOLE_JOB.items():
        c = contenders.get(key)
        if c is None:
            continue
        if not c["ok"]:
            counts[key] = "failed"
            continue
        per_run = [r["rows"] for r in c["runs"] if r["ok"]]
        counts[key] = per_run[0] if len(set(per_run)) == 1 else per_run
        if len(set(per_run)) != 1:
            problems.append(f"{key}: COUNT(*) of {table} differs between runs: {per_run}")
    for key in ("load", "load_floor"):
        c = contenders.get(key)
        if c and c["ok"]:
            counts[key] = c.get("rows")
    values = {k: v for k, v in counts.items() if isinstance(v, int)}
    if len(set(values.values())) > 1:
        problems.append("row counts differ: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    if expected is not None and values and set(values.values()) != {expected}:
        problems.append(f"the generator's manifest expects {expected} curated rows; got "
                        + ", ".join(f"{k} {v}" for k, v in values.items()))
    compared = [k for k in WHOLE_JOB if isinstance(counts.get(k), int)]
    if problems:
        match, detail = False, "; ".join(problems)
    elif len(compared) < 2:
        match = None
        detail = (f"nothing to compare: only {', '.join(compared) or 'no contender'} finished"
                  + (f" (equal to the manifest's {expected})" if compared else ""))
    else:
        match, detail = True, "all equal"
    return {"per_contender": counts, "manifest_expected": expected, "compared": compared, "match": match,
            "detail": detail}


def refresh(entry: dict) -> dict:
    """Re-derive the counts check and the targets of a stored entry (older entries follow the current rules)."""
    entry["counts"] = counts_check(entry["contenders"], entry["counts"].get("manifest_expected"))
    entry["targets"] = _targets(entry["scale"], entry["contenders"], entry["ratios"], entry["counts"])
    return entry


def _target(name: str, goal: str, value, passed, applies: bool, note: str = "") -> dict:
    return {"name": name, "goal": goal, "value": value,
            "result": ("n/a at this scale" if not applies else "not measured" if passed is None
                       else "PASS" if passed else "FAIL"), "note": note}


def _targets(scale: float, con: dict, ratios: dict, counts: dict) -> list[dict]:
    out = []
    r = ratios["pipeline_vs_seed_style"]
    seed = con.get("seed_style")
    note = "" if not seed or seed["ok"] else f"seed-style failed: {seed['reason']}"
    pipe, pandas = con.get("pipeline"), con.get("pandas")
    passed = None if r is None else r <= 0.25
    if pipe and not pipe["ok"]:  # the pipeline that cannot finish fails every target that needs it
        passed, note = False, f"pipeline failed: {pipe['reason']}"
    elif seed and not seed["ok"] and pipe:
        passed = True  # a baseline that cannot finish is beaten
    out.append(_target("cold end-to-end vs seed-style", "<= 0.25 x (at SCALE=1)", r, passed, scale == 1, note))
    faster = lower = None
    if pipe and not pipe["ok"]:
        faster = lower = False
    elif pipe and pandas and pipe["ok"]:
        if pandas["ok"]:
            faster = pipe["median_s"] < pandas["median_s"]
            lower = pipe["peak_rss_bytes"] < pandas["peak_rss_bytes"]
        else:  # a baseline that cannot finish is beaten
            faster = lower = True
    value = None if faster is None else {"time_ratio": ratios["pipeline_vs_pandas"],
                                         "peak_rss_ratio": ratios.get("pipeline_vs_pandas_peak_rss")}
    note = "" if not pandas or pandas["ok"] else f"pandas failed: {pandas['reason']}"
    if pipe and not pipe["ok"]:
        note = f"pipeline failed: {pipe['reason']}"
    out.append(_target("cold end-to-end vs pandas", "faster and lower peak RSS (at SCALE=10)", value,
                       None if faster is None else faster and lower, scale == 10, note))
    noop = con.get("pipeline_noop")
    v = noop.get("median_s") if noop and noop["ok"] else None
    out.append(_target("no-op re-run", f"< {NOOP_LIMIT_S:g} s", v,
                       False if noop and not noop["ok"] else None if v is None else v < NOOP_LIMIT_S, True,
                       f"failed: {noop['reason']}" if noop and not noop["ok"] else ""))
    for key, goal, test in (("extract_vs_floor", "<= 1.0 x floor", lambda x: x <= 1.0),
                            ("transform_vs_floor", "<= 1.3 x Spark floor", lambda x: x <= 1.3),
                            ("load_rate_vs_floor", ">= 0.7 x raw LOAD DATA rate", lambda x: x >= 0.7)):
        v = ratios[key]
        out.append(_target(key.replace("_", " "), goal, v, None if v is None else test(v), True))
    out.append(_target("row counts of the whole-job contenders match", "equal", counts["detail"],
                       counts["match"], True))
    if counts["match"] is None:
        out[-1]["result"] = "nothing to compare"
    return out


# -- writing -------------------------------------------------------------------------------------------------
def _git() -> dict:
    def run(*cmd):
        try:
            return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": run("git", "rev-parse", "--short", "HEAD"),
            "dirty": bool(run("git", "status", "--porcelain", "--untracked-files=no"))}


def write(out_dir: Path, entry: dict, info: dict, argv: list[str]) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(results.get("scales"), dict):
            raise ValueError
    except (OSError, ValueError):
        results = {"scales": {}}
    results["format"] = 1
    results["updated_at"] = entry["measured_at"]
    entry["git"] = _git()
    entry["command"] = "python -m bench " + " ".join(argv)
    results["scales"][entry["key"]] = entry
    for other in results["scales"].values():
        refresh(other)
    results["scales"] = dict(sorted(results["scales"].items(), key=lambda kv: float(kv[0])))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    (out_dir / "RESULTS.md").write_text(render(results), encoding="utf-8")
    return results


def _s(x) -> str:
    return "–" if x is None else f"{x:.2f}"


def _mib(b) -> str:
    return "–" if not b else f"{b / 2**20:,.0f} MiB"


def render(results: dict) -> str:
    lines = ["# winepipe benchmark results", "",
             "Written by `make bench SCALE=<s>` (`python -m bench --scale <s>`); do not edit by hand. "
             "How it measures: [bench/README.md](README.md). Machine-readable: `results.json`.", ""]
    for key, e in results["scales"].items():
        m = e["machine"]
        lines += [f"## SCALE={key}: {e['records']:,} input records, {e['bytes'] / 1e6:,.1f} MB", "",
                  f"Measured {e['measured_at']} (git {e.get('git', {}).get('commit', '?')}"
                  f"{', uncommitted changes' if e.get('git', {}).get('dirty') else ''}), batch {e['date']}, "
                  f"seed {e['seed']}, {e['repeat']} run(s) per contender, luigi --workers {e['workers']}, "
                  f"time cap {e['time_cap_s']:.0f} s per run; the whole benchmark took {e['duration_s'] / 60:.1f} min."
                  + (f" Contender groups: {', '.join(e['only'])} only." if len(e["only"]) < 7 else "")
                  + (" **Interrupted before the end: partial results.**" if e.get("interrupted") else ""),
                  "",
                  f"Machine: {m.get('cores')} cores, {m.get('memory_bytes', 0) / 2**30:.1f} GiB memory, "
                  f"CPU {m.get('cpu_model')}; Linux {m.get('kernel')}, Python {m.get('python')}, {m.get('java')}. "
                  f"Load average (1/5/15 min) at start {_load(m.get('loadavg_at_start'))}, at end "
                  f"{_load(m.get('loadavg_at_end'))} (the benchmark's own runs keep up to {m.get('cores')} cores busy; "
                  f"anything else on the machine adds to it), so the spread (min..max) matters as much as the "
                  f"median.", "",
                  "| contender | what | median s | min s | max s | peak RSS (process tree) | rows | status |",
                  "|---|---|---:|---:|---:|---:|---:|---|"]
        for ckey, c in e["contenders"].items():
            status = "ok" if c["ok"] else f"**FAILED**: {c['reason']}"
            rows = c.get("rows")
            lines.append(f"| {c['label']} | {c['what']} | {_s(c.get('median_s'))} | {_s(c.get('min_s'))} | "
                         f"{_s(c.get('max_s'))} | {_mib(c.get('peak_rss_bytes'))} | "
                         f"{'–' if rows is None else rows} | {status} |")
        cnt = e["counts"]
        lines += ["", "**Row counts** (COUNT(*) of each contender's table after each run; generator's manifest "
                  f"expects {cnt['manifest_expected']}): "
                  + ("all equal" if cnt["match"] else cnt["detail"] if cnt["match"] is None
                     else f"**MISMATCH: {cnt['detail']}**")
                  + " — " + ", ".join(f"{k} {v}" for k, v in cnt["per_contender"].items()), ""]
        r = e["ratios"]
        lines += ["| ratio | value |", "|---|---:|",
                  f"| pipeline / seed-style (wall, median) | {_s(r.get('pipeline_vs_seed_style'))} |",
                  f"| pipeline / pandas (wall, median) | {_s(r.get('pipeline_vs_pandas'))} |",
                  f"| pipeline / pandas (peak RSS) | {_s(r.get('pipeline_vs_pandas_peak_rss'))} |",
                  f"| extract / floor (wall) | {_s(r.get('extract_vs_floor'))} |",
                  f"| transform / Spark floor (wall) | {_s(r.get('transform_vs_floor'))} |",
                  f"| load rate / raw LOAD DATA rate | {_s(r.get('load_rate_vs_floor'))} |", ""]
        lines += ["| target | goal | value | result |", "|---|---|---|---|"]
        for t in e["targets"]:
            v = t["value"]
            if isinstance(v, float):
                v = f"{v:.2f}"
            elif isinstance(v, dict):
                v = ", ".join(f"{k} {_s(x)}" for k, x in v.items())
            note = f" ({t['note']})" if t.get("note") else ""
            lines.append(f"| {t['name']} | {t['goal']} | {'–' if v is None else v} | {t['result']}{note} |")
        lines += ["", f"Reproduce: `make bench SCALE={key}` (or `.venv/bin/{e.get('command', 'python -m bench')}`)"
                  " on a machine with the local stack up (`make up`). Logs of every run: "
                  "`bench/work/<namespace>/logs/`.", ""]
    return "\n".join(lines)


def _load(values) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "?"
