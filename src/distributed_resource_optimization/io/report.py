"""``report.html``: one self-contained page per run (no other file needed to read it): what
the run decided, the summary's key facts, and every figure the run wrote, embedded."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The report of a run, beside its other outputs.
REPORT_FILE = "report.html"

#: The summary's facts shown first, in words, where the run has them.
_FACTS: tuple[tuple[str, str], ...] = (
    ("problem", "problem"), ("scenario", "scenario"), ("scenario_description", "limit"),
    ("method", "method"), ("status", "ADMM status"), ("iterations", "ADMM iterations"),
    ("centralized_objective", "centralized objective (S$)"),
    ("admm_objective", "market objective (S$)"), ("objective", "objective"),
    ("objective_gap_rel", "objective gap, relative"), ("gap_certified", "certified gap"),
    ("max_price_deviation", "largest price deviation from centralized (S$/kWh)"),
    ("resolution", "resolution"), ("comfort", "comfort band held"),
    ("linearisation", "linearisation"), ("runtime", "runtime"), ("agents", "agents"),
    ("actors", "actors"), ("wall_time_s", "wall time (s)"),
)


def _value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    return str(v)


def write_report(out: Path | str, summary: Mapping, figures: Sequence[tuple[Path, str]],
                 title: str) -> Path:
    """Write :data:`REPORT_FILE` into ``out``: ``title``, the verification's verdict and worst
    check, the binding limits, the key facts of ``summary`` and every figure (PNG path,
    caption) embedded as data, then the whole summary as JSON."""
    out = Path(out)
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}"
             "</title><style>body{font-family:sans-serif;max-width:980px;margin:2em auto;"
             "color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:left;vertical-align:top}figure{margin:1.5em 0}"
             "img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow-x:auto;"
             "font-size:small}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    verification = summary.get("verification")
    if isinstance(verification, dict):
        worst = {name: v for name, v in verification.items() if isinstance(v, dict)}
        parts.append(f"<p><b>Physics:</b> the dispatch {esc(verification.get('status', '?'))} "
                     "in the nonlinear models (AC power flow, hydraulics, buildings).</p>")
        for name, v in worst.items():
            w = v.get("limits", {}).get(v.get("worst", ""), {})
            if w:
                parts.append(f"<p>{esc(name)}: closest limit {esc(v['worst'])} at "
                             f"{esc(str(w.get('element')))}, {esc(str(w.get('timestep')))}: "
                             f"{_value(w.get('value'))} against {_value(w.get('limit'))} "
                             f"{esc(str(w.get('unit')))}</p>")
    binding = summary.get("binding_constraints")
    if binding:
        rows = "".join(f"<tr><td>{esc(b['constraint'])}</td><td>{esc(b['element'])}</td>"
                       f"<td>{b['timesteps']}</td></tr>" for b in binding)
        parts.append("<h2>Binding limits</h2><table><tr><th>limit</th><th>element</th>"
                     f"<th>steps</th></tr>{rows}</table>")
    facts = "".join(f"<tr><th>{esc(label)}</th><td>{esc(_value(summary[key]))}</td></tr>"
                    for key, label in _FACTS if summary.get(key) is not None)
    parts.append(f"<h2>Summary</h2><table>{facts}</table>")
    if figures:
        parts.append("<h2>Figures</h2>")
    for path, caption in figures:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{esc(caption)} ({esc(Path(path).name)})</figcaption></figure>")
    parts.append("<h2>summary.json</h2><pre>"
                 f"{esc(json.dumps(summary, indent=1, default=str))}</pre></body></html>")
    path = out / REPORT_FILE
    path.write_text("".join(parts), encoding="utf-8")
    return path
