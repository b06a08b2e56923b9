"""Count the predictions and their mean, into summary.json."""

import json
import sys
from pathlib import Path

predictions, out = Path(sys.argv[1]), Path(sys.argv[2])
values = [float(line.split()[-1]) for line in (predictions / "parallel_run_step.txt").read_text().splitlines()]
summary = {"rows": len(values), "mean_prediction": round(sum(values) / len(values), 2)}
(out / "summary.json").write_text(json.dumps(summary))
print(json.dumps(summary))
