"""Metrics that steps logged to their parent (``Run.get_context().parent.log(...)``): read back from the
step folders' ``metrics.jsonl``, where the in-step ``Run`` marks them ``"parent": true``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thresher.pipelines.tracking import METRICS_FILE

from .workspace import thresher_workspace


def parent_metrics(pipeline_job: str) -> dict[str, Any]:
    """``{name: value}`` of what the pipeline's steps logged to their parent run (rows as lists)."""
    metrics: dict[str, Any] = {}
    for step in thresher_workspace().jobs.list(parent_job_name=pipeline_job, limit=None):
        log = Path(str(step.spec.get("folder") or "")) / METRICS_FILE
        if not log.is_file():
            continue
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not entry.get("parent"):
                continue
            if entry.get("kind") == "list":
                metrics.setdefault(entry["name"], []).extend(entry.get("value") or [])
            elif entry.get("kind") == "row":
                metrics.setdefault(entry["name"], []).append(entry.get("value"))
            else:
                metrics[entry["name"]] = entry.get("value")
    return metrics
