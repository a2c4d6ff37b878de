"""The comparison report: one self-contained HTML file with the table and the plots.

The plots are drawn with matplotlib's Agg backend (no display needed) and embedded as base64
PNG ``<img src="data:image/png;base64,...">`` so the file stands alone: send it, open it
anywhere. It holds:

* the settings (protocol, its parameters, seed, k, data size) and the command that made it;
* the table: every metric per algorithm, fit and predict seconds, the best value per metric
  in bold, and -- with a baseline -- each metric's relative change against it;
* one bar chart per metric (each algorithm a bar);
* for ranking protocols, each metric against k (one line per algorithm), and a note on the
  metrics beyond accuracy (catalogue coverage, novelty, intra-list diversity) when shown.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from pathlib import Path
from typing import Any

from teamrec._extras import require as require_extra
from teamrec.evaluation.grid import is_better
from teamrec.evaluation.protocols import lower_is_better
from teamrec.evaluation.runner import EvaluationResult


def fmt(value: float) -> str:
    """Four significant decimals for metrics (NaN as a dash)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def fmt_change(change: float) -> str:
    if change is None or math.isnan(change):
        return "-"
    return f"{change:+.1%}"


def table(result: EvaluationResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the comparison table (plain strings; used by the CLI and the report)."""
    header = ["algorithm", *result.metric_names, "fit s", "predict s"]
    rows = []
    for r in result.results:
        rows.append(
            [r.label, *(fmt(r.metrics.get(m, float("nan"))) for m in result.metric_names),
             f"{r.fit_seconds:.2f}", f"{r.predict_seconds:.2f}"]
        )
    return header, rows


def change_lines(result: EvaluationResult) -> list[str]:
    """One sentence per algorithm against the baseline, e.g. ``a: rmse 0.61 vs 0.94 (-35.0%)``."""
    lines = []
    base = result.result(result.baseline).metrics if result.baseline else {}
    for label, changes in result.changes().items():
        metrics = result.result(label).metrics
        parts = []
        for m in result.metric_names:
            if m in changes:
                word = "reduction" if changes[m] < 0 else "increase"
                parts.append(
                    f"{m} {fmt(metrics[m])} vs {fmt(base[m])} ({word} of {abs(changes[m]):.1%})"
                )
        lines.append(f"{label} against {result.baseline}: " + "; ".join(parts))
    return lines


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def figures(result: EvaluationResult) -> list[tuple[str, str]]:
    """``(caption, base64 PNG)`` for every plot of the report."""
    require_extra("report", "teamrec evaluate --report (its plots)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    labels = [r.label for r in result.results]
    names = result.metric_names
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.ravel(), names, strict=False):
        values = [r.metrics.get(metric, float("nan")) for r in result.results]
        bars = ax.bar(range(len(labels)), values, color=[f"C{i % 10}" for i in range(len(labels))])
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(metric + (" (lower is better)" if lower_is_better(metric) else ""), fontsize=10)
        ax.bar_label(bars, labels=[fmt(v) for v in values], fontsize=7)
        ax.margins(y=0.15)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    out.append(("Each metric per algorithm", _png(fig)))
    plt.close(fig)

    curve_names = sorted({m for r in result.results for m in r.curves}, key=_curve_order)
    if curve_names:
        cols = min(3, len(curve_names))
        rows = math.ceil(len(curve_names) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
        for ax, metric in zip(axes.ravel(), curve_names, strict=False):
            for i, r in enumerate(result.results):
                curve = r.curves.get(metric, {})
                if curve:
                    ks = sorted(curve)
                    ax.plot(ks, [curve[k] for k in ks], marker=".", color=f"C{i % 10}", label=r.label)
            ax.set_title(f"{metric} against k", fontsize=10)
            ax.set_xlabel("k")
            ax.grid(alpha=0.3)
        axes.ravel()[0].legend(fontsize=7)
        for ax in axes.ravel()[len(curve_names):]:
            ax.set_visible(False)
        fig.tight_layout()
        out.append(("Each metric against k", _png(fig)))
        plt.close(fig)
    return out


#: What the beyond-accuracy metrics mean, for readers of the report.
BEYOND_ACCURACY_NOTES: dict[str, str] = {
    "coverage": "catalogue coverage: the share of all items that appear in anybody's top k",
    "novelty": "mean self-information of the recommended items, -log2(share of training users who have "
               "the item), in bits: higher means less mainstream",
    "diversity": "intra-list diversity: mean pairwise cosine distance (1 - cosine) between the recommended "
                 "items' user vectors; 1 = no two items share anybody, 0 = all had by the same people",
}


def beyond_accuracy_lines(result: EvaluationResult) -> list[str]:
    """One line per beyond-accuracy metric of the run: what it measures."""
    shown = {m.split("@")[0] for m in result.metric_names}
    return [f"{name}@{result.k}: {text}" for name, text in BEYOND_ACCURACY_NOTES.items() if name in shown]


def _curve_order(name: str) -> int:
    order = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage", "novelty", "diversity")
    return order.index(name) if name in order else len(order)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
td.best { font-weight: bold; }
code, pre { background: #f6f6f6; padding: 2px 4px; }
pre { padding: 8px; white-space: pre-wrap; }
img { max-width: 100%; }
"""


def to_html(result: EvaluationResult) -> str:
    """The report as one standalone HTML document."""
    e = html.escape
    names = result.metric_names
    best: dict[str, float | None] = {m: None for m in names}
    for r in result.results:
        for m in names:
            v = r.metrics.get(m, float("nan"))
            if is_better(m, v, best[m]):
                best[m] = v
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>teamrec evaluation: {e(result.protocol)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>teamrec evaluation &mdash; protocol <code>{e(result.protocol)}</code></h1>",
    ]
    settings: dict[str, Any] = {
        **result.protocol_params, "seed": result.seed, "k": result.k, "select_by": result.select_by,
        **result.data,
    }
    parts.append("<p>" + ", ".join(f"{e(str(k))} = <code>{e(str(v))}</code>" for k, v in settings.items()) + "</p>")
    if result.command:
        parts.append(f"<pre>{e(result.command)}</pre>")

    change = result.changes()
    parts.append('<table id="results"><thead><tr><th>algorithm</th><th>parameters</th>')
    parts += [f"<th>{e(m)}</th>" for m in names]
    if change:
        parts += [f"<th>{e(m)} vs {e(result.baseline or '')}</th>" for m in names]
    parts.append("<th>fit s</th><th>predict s</th></tr></thead><tbody>")
    for r in result.results:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items()) or "defaults"
        cells = [f"<td>{e(r.label)}</td>", f"<td>{e(params)}</td>"]
        for m in names:
            v = r.metrics.get(m, float("nan"))
            cls = ' class="best"' if best[m] is not None and v == best[m] else ""
            cells.append(f"<td{cls}>{fmt(v)}</td>")
        if change:
            cells += [f"<td>{fmt_change(change.get(r.label, {}).get(m, float('nan')))}</td>" for m in names]
        cells.append(f"<td>{r.fit_seconds:.2f}</td><td>{r.predict_seconds:.2f}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    winner = result.best()
    parts.append(
        f"<p>Best by <code>{e(result.select_by)}</code>: <strong>{e(winner.label)}</strong> "
        f"({fmt(winner.metrics[result.select_by])}).</p>"
    )
    for line in change_lines(result):
        parts.append(f"<p>{e(line)}</p>")
    notes = beyond_accuracy_lines(result)
    if notes:
        parts.append('<h2>Beyond accuracy</h2><ul id="beyond-accuracy">')
        parts += [f"<li>{e(line)}</li>" for line in notes]
        parts.append("</ul>")
    for r in result.results:
        if r.selected:
            parts.append(f"<h3>Grid search: {e(r.label)}</h3><p>chosen per split: "
                         f"<code>{e(str(r.selected))}</code> by {e(result.select_by)} on a validation split "
                         "carved from the training data.</p>")
            parts.append("<table><tr><th>split</th><th>parameters</th><th>" + e(result.select_by) + "</th></tr>")
            for i, tried in enumerate(r.trials):
                for t in tried:
                    parts.append(f"<tr><td>{i + 1}</td><td>{e(str(t['params']))}</td>"
                                 f"<td>{fmt(t[result.select_by])}</td></tr>")
            parts.append("</table>")
    for caption, png in figures(result):
        parts.append(f"<h2>{e(caption)}</h2>")
        parts.append(f'<img alt="{e(caption)}" src="data:image/png;base64,{png}">')
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(result: EvaluationResult, path: str | os.PathLike[str]) -> Path:
    """Write the report to ``path`` (atomically: a temporary file renamed into place)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(to_html(result), encoding="utf-8")
    os.replace(tmp, target)
    return target
