"""Where a job keeps its files: the job folder layout, written once here.

<job folder>/
  outputs/score/            the `score` output (AZUREML_BI_OUTPUT_PATH), unless --output-path
  logs/job_progress_overview.txt, job_result.txt, job_error.txt, readme.txt
  logs/sys/processed_mini_batches.csv, logs/sys/perf/<node>/<process>.csv (CPU and memory samples)
  logs/user/stdout/<node>/<process>.stdout.txt   (and stderr/, error/, entry_script_log/)
  work/plan.jsonl           the persisted plan (one mini-batch per line)
  work/parts/               one result part per finished piece of a mini-batch
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

README = """\
This folder holds the logs of one thresher batch job.

job_progress_overview.txt   progress lines while the job ran, then its result
job_result.txt              the final summary: counts, throughput, output location
job_error.txt               why the job failed, with its first failures (only when it failed)
sys/processed_mini_batches.csv  one row per mini-batch: items, succeeded, failed, attempts, worker, seconds, error
sys/perf/<node>/<process>.csv   the worker's CPU and memory, sampled every THRESHER_WORKER_PERF_INTERVAL seconds
user/stdout/<node>/<process>.stdout.txt   what the scoring script printed, and its logging output
user/stderr/<node>/<process>.stderr.txt   its standard error
user/error/<node>/<process>.txt           full tracebacks of init() and run() failures
user/entry_script_log/<node>/<process>.log.txt   EntryScript().logger output (Azure's helper)
"""


@dataclass(frozen=True)
class JobFolder:
    """The paths of one job's folder."""

    root: Path
    output_dir: Path  # the `score` output folder

    @classmethod
    def create(cls, root: Path, output_dir: Path | None = None) -> JobFolder:
        """The layout under ``root``, with the output in ``output_dir`` when given; folders are made."""
        folder = cls(root=root, output_dir=output_dir or root / "outputs" / "score")
        for path in (folder.output_dir, folder.logs, folder.parts, folder.logs / "sys"):
            path.mkdir(parents=True, exist_ok=True)
        readme = folder.logs / "readme.txt"
        if not readme.exists():
            readme.write_text(README, encoding="utf-8")
        return folder

    @classmethod
    def prepare(cls, root: Path, output_dir: Path | None = None) -> JobFolder:
        """The folders a queued job shows already: its root, ``logs/`` and its output folder. ``create`` makes the
        rest of the layout (work files, the readme) when a runner starts the job: queueing a job is a server's
        hot path, and each folder made costs the file system a journal entry (four here, ten in ``create``)."""
        folder = cls(root=root, output_dir=output_dir or root / "outputs" / "score")
        os.makedirs(folder.logs, exist_ok=True)
        os.makedirs(folder.output_dir, exist_ok=True)
        return folder

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def parts(self) -> Path:
        return self.work / "parts"

    @property
    def plan(self) -> Path:
        return self.work / "plan.jsonl"

    @property
    def progress_overview(self) -> Path:
        return self.logs / "job_progress_overview.txt"

    @property
    def result(self) -> Path:
        return self.logs / "job_result.txt"

    @property
    def error(self) -> Path:
        return self.logs / "job_error.txt"

    @property
    def processed_mini_batches(self) -> Path:
        return self.logs / "sys" / "processed_mini_batches.csv"

    @property
    def user_errors(self) -> Path:
        return self.logs / "user" / "error"
