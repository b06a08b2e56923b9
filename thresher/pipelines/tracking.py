"""Metrics a step logged: through the v1 ``Run`` (``metrics.jsonl`` in its step folder) and through
MLflow (``mlruns/`` in its step folder: ``MLFLOW_TRACKING_URI`` points there while the step runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"


def read_metrics(folder: Path) -> dict[str, Any]:
    """``{name: last value}`` (lists and tables as logged; MLflow params under ``params``)."""
    metrics: dict[str, Any] = {}
    log = folder / METRICS_FILE
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            name, kind, value = entry.get("name"), entry.get("kind", "scalar"), entry.get("value")
            if kind == "list":  # log_list: the values (logged again: more values)
                metrics.setdefault(name, []).extend(value if isinstance(value, list) else [value])
            elif kind == "row":  # log_row: one row (a dict) per call
                metrics.setdefault(name, []).append(value)
            else:
                metrics[name] = value
    runs = folder / "mlruns"
    if runs.is_dir():
        for metric in runs.glob("*/*/metrics/*"):
            values = [line.split() for line in metric.read_text(encoding="utf-8").splitlines() if line.strip()]
            if values:
                metrics[metric.name] = _number(values[-1][1])
        params = {p.name: p.read_text(encoding="utf-8") for p in runs.glob("*/*/params/*")}
        if params:
            metrics["params"] = params
    return metrics


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text
