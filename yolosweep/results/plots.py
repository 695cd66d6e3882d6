"""The sweep's pictures, drawn from the runs table with matplotlib (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from yolosweep.results.analysis import SweepRuns

STATE_COLOURS = {
    "finished": "tab:green",
    "stopped": "tab:orange",
    "failed": "tab:red",
    "crashed": "tab:purple",
    "running": "tab:blue",
}


def _numeric(table: pd.DataFrame, names: list[str]) -> list[str]:
    return [n for n in names if pd.to_numeric(table[n], errors="coerce").notna().any()]


def parallel_coordinates(table: pd.DataFrame, sweep: SweepRuns, path: Path) -> Path:
    scored = table.dropna(subset=["objective"])
    axes_names = _numeric(scored, sweep.swept) + ["objective"]
    values = scored[axes_names].apply(pd.to_numeric, errors="coerce")
    span = (values.max() - values.min()).replace(0, 1)
    normed = (values - values.min()) / span
    fig, ax = plt.subplots(figsize=(max(8, len(axes_names) * 0.9), 5))
    cmap = plt.get_cmap("viridis")
    for (_, row), (_, norm) in zip(scored.iterrows(), normed.iterrows()):
        style = "--" if row["state"] == "stopped" else "-"
        ax.plot(range(len(axes_names)), norm.to_numpy(), style, color=cmap(norm["objective"]), alpha=0.8)
    for i, name in enumerate(axes_names):
        ax.axvline(i, color="grey", lw=0.5)
        ax.text(i, 1.02, f"{values[name].max():.3g}", ha="center", fontsize=7)
        ax.text(i, -0.06, f"{values[name].min():.3g}", ha="center", fontsize=7)
    ax.set_xticks(
        range(len(axes_names)), [n if n != "objective" else sweep.metric for n in axes_names], rotation=35, ha="right"
    )
    ax.set_yticks([])
    ax.set_title(f"sweep {sweep.sweep_id}: parameters of each run, coloured by {sweep.metric} (dashed: stopped)")
    fig.colorbar(plt.cm.ScalarMappable(cmap=cmap), ax=ax, label=f"{sweep.metric} (scaled)")
    return _save(fig, path)


def importance_bars(importance: pd.DataFrame, sweep: SweepRuns, path: Path) -> Path:
    data = importance.fillna(0.0)
    y = np.arange(len(data))
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(data) + 1.5))
    ax.barh(y - 0.2, data["rf_importance"], height=0.4, label="random-forest importance")
    ax.barh(y + 0.2, data["correlation"], height=0.4, label="correlation with objective")
    ax.set_yticks(y, data["parameter"])
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.5)
    ax.legend(loc="lower right")
    ax.set_title(f"parameter importance for {sweep.metric}")
    return _save(fig, path)


def objective_vs_parameters(table: pd.DataFrame, sweep: SweepRuns, path: Path) -> Path:
    names = _numeric(table, sweep.swept)
    cols = 4
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for state, group in table.groupby("state"):
            ax.scatter(
                pd.to_numeric(group[name], errors="coerce"),
                group["objective"],
                s=18,
                color=STATE_COLOURS.get(state, "grey"),
                label=state,
            )
        ax.set_xlabel(name)
        ax.set_ylabel(sweep.metric, fontsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right")
    fig.suptitle(f"{sweep.metric} against each swept parameter")
    return _save(fig, path)


def learning_curves(table: pd.DataFrame, sweep: SweepRuns, path: Path, top: int) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    histories = {run.id: run.history for run in sweep.runs}
    for _, row in table.dropna(subset=["objective"]).head(top).iterrows():
        curve = [
            (h.get("epoch", i + 1), h[sweep.metric])
            for i, h in enumerate(histories[row["run_id"]])
            if isinstance(h.get(sweep.metric), (int, float))
        ]
        if curve:
            x, y = zip(*curve)
            ax.plot(x, y, marker=".", color=STATE_COLOURS.get(row["state"], "grey"), alpha=0.8)
            ax.annotate(row["run_id"], (x[-1], y[-1]), fontsize=7)
    for state, colour in STATE_COLOURS.items():
        if state in set(table["state"]):
            ax.plot([], [], color=colour, label=state)
    ax.legend()
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(sweep.metric)
    ax.set_title(f"learning curves of the top {top} runs")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
