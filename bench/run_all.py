"""Run every benchmark (each in its own process), then write docs/benchmarks.md from bench/results.json.

    python -m bench.run_all                 # what `make bench` runs: every benchmark, 3 repetitions
    python -m bench.run_all --only p1 p4    # some of them; the others keep their last results
    python -m bench.run_all --doc-only      # rewrite docs/benchmarks.md from bench/results.json

A benchmark that fails records its error in its section (its old figures are dropped: they no longer
describe this tree) and the run exits non-zero after the others have run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import common

BENCHMARKS = {
    "p1": ("bench.p1_tabular", "Tabular throughput"),
    "p2": ("bench.p2_overhead", "Per-mini-batch overhead"),
    "p3": ("bench.p3_start", "Start latency"),
    "p4": ("bench.p4_planning", "Planning scale"),
    "p5": ("bench.p5_mlflow", "No-code MLflow"),
    "p6": ("bench.p6_online", "Online endpoints"),
    "p7": ("bench.p7_control_plane", "Scale-out: control plane and Ray"),
    "p8": ("bench.p8_pipelines", "Pipeline orchestration overhead"),
    "p9": ("bench.p9_server", "Server: submissions and claims"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repetition")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--doc", type=Path, default=common.DOC)
    parser.add_argument("--doc-only", action="store_true", help="only rewrite the markdown")
    parser.add_argument("--profile", action="store_true", help="profile thresher's runner where supported")
    options = parser.parse_args()
    failed = []
    if not options.doc_only:
        for key in options.only:
            module, title = BENCHMARKS[key]
            command = [sys.executable, "-m", module, "--reps", str(options.reps), "--results", str(options.results)]
            command += ["--smoke"] * options.smoke + ["--profile"] * options.profile
            print(f"== {key}: {title}: {' '.join(command[1:])}", flush=True)
            started = time.monotonic()
            process = subprocess.Popen(command, cwd=common.REPO, stderr=subprocess.PIPE, text=True)
            assert process.stderr is not None
            last = "no message"
            for line in process.stderr:  # progress as it comes; the last line names a failure
                sys.stderr.write(line)
                last = line.strip() or last
            process.wait()
            print(f"== {key}: {'ok' if process.returncode == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
            if process.returncode != 0:
                failed.append(key)
                common.save_section(options.results, key, {"title": title, "error": last})
    document = json.loads(options.results.read_text()) if options.results.exists() else {}
    common.write_markdown(document, options.doc)
    print(f"wrote {options.doc} and {options.results}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
