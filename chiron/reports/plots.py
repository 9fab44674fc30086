"""PNG charts for the experiment reports (matplotlib object API on an Agg canvas: no pyplot state,
no display). Figure 4(a) itself is drawn by chiron.qc.figure4.plot_trend_summary."""

from __future__ import annotations

import io
import math
import textwrap

from chiron.utils.jsonl import atomic_write_bytes

# panel title -> series label -> category -> value (None: not measured, no bar)
Panels = dict[str, dict[str, dict[str, float | None]]]
# the same shape, values = the n behind each bar (None: no label)
Counts = dict[str, dict[str, dict[str, int | None]]]


def is_paper(series: str) -> bool:
    """The paper's values are drawn hatched and hollow, so they never pass for our measurements."""
    return series.startswith("paper")


def _categories(panel: dict[str, dict[str, float | None]]) -> list[str]:
    seen: dict[str, None] = {}
    for values in panel.values():
        seen.update(dict.fromkeys(values))
    return list(seen)


def _wrap(label: str, width: int = 16) -> str:
    """Tick labels (arm names like "qc=on,curriculum=three_stage", long subjects) on a few short lines."""
    lines = label.replace(",", ", ").split("\n")
    return "\n".join(w for line in lines for w in (textwrap.wrap(line, width) or [""]))


def _bar_labels(heights: list[float], counts: list[int | None]) -> list[str]:
    """"57.1" or "57.1\nn=14": a 100 % bar on n = 1 must not pass for a strong result."""
    return [f"{h:.1f}" + ("" if n is None else f"\nn={n}") for h, n in zip(heights, counts)]


def _draw_panel(ax, panel: dict, colors: dict[str, str], counts: dict | None = None,
                percent: bool = False) -> None:
    categories = _categories(panel)
    # A series with nothing in this panel takes no slot, so the bars that exist stay wide.
    series = [s for s, values in panel.items() if any(v is not None for v in values.values())]
    width = 0.8 / max(len(series), 1)
    lowest = 0.0
    for i, name in enumerate(series):
        present = [(k, panel[name][c]) for k, c in enumerate(categories) if panel[name].get(c) is not None]
        xs = [k - 0.4 + width * (i + 0.5) for k, _ in present]
        heights = [v for _, v in present]
        lowest = min([lowest, *heights])
        style = (dict(facecolor="white", edgecolor=colors[name], hatch="///") if is_paper(name)
                 else dict(color=colors[name]))
        bars = ax.bar(xs, heights, width, label=name, **style)
        ns = [((counts or {}).get(name) or {}).get(categories[k]) for k, _ in present]
        ax.bar_label(bars, labels=_bar_labels(heights, ns), fontsize=7, padding=1)
    ax.set_xticks(range(len(categories)), [_wrap(c) for c in categories], fontsize=8)
    ax.set_xlim(-0.6, len(categories) - 0.4)
    # Bars start at 0; all-zero bars (the demo) would otherwise sit mid-axis on a ±0.04 scale. A percent
    # axis runs to 100 (plus room for the labels): topped at 1 it reads as a 0–1 fraction.
    top = max(ax.get_ylim()[1], 112.0 if percent else 1.0)
    ax.set_ylim(lowest if lowest < 0 else 0.0, top)
    ax.grid(axis="y", alpha=0.3)


def grouped_bars(panels: Panels, path: str, title: str, ylabel: str = "%",
                 counts: Counts | None = None) -> str:
    """bar_figure(...) written to path as PNG; returns path."""
    return save(bar_figure(panels, title, ylabel, counts), path)


def bar_figure(panels: Panels, title: str, ylabel: str = "%", counts: Counts | None = None):
    """One axis per panel; x = categories (first-seen order over the panel's series, None values
    included, so callers fix the order), one bar per series. An empty panel title is left off
    (a single panel under the figure's title). Values are percent whenever `ylabel` says %
    (callers pass 0–100, never 0–1 fractions); `counts` (the panels' shape, values n) puts "n=..."
    on each bar. Returns the matplotlib Figure (on an Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names: dict[str, None] = {}
    for panel in panels.values():
        names.update(dict.fromkeys(panel))
    # One colour per series across every panel, so a legend entry means the same thing everywhere.
    colors = {name: f"C{i % 10}" for i, name in enumerate(names)}
    ncols = min(len(panels), 2) or 1
    nrows = max(math.ceil(len(panels) / ncols), 1)
    fig = Figure(figsize=(6 * ncols, 3.6 * nrows + 1.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (panel_title, panel) in zip(axes, panels.items()):
        _draw_panel(ax, panel, colors, (counts or {}).get(panel_title), "%" in ylabel)
        if panel_title:
            ax.set_title(panel_title, fontsize=10)
        ax.set_ylabel(ylabel)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        # Arm names are long ("qc=off,curriculum=stage3_only"): fewer columns so the legend fits.
        longest = max(len(label) for label in handles)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), 4 if longest <= 20 else 2 if longest <= 40 else 1), fontsize=8)
    fig.suptitle(title)
    return fig


def save(fig, path: str) -> str:
    """Render to memory, then write atomically: a reader never sees half a PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())
    return path
