"""Check the downloaded predictions against the true digits in labels.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(out: Path) -> None:
    """Print how many PNG files were scored and how many the CNN read right."""
    # append_row output: one "file digit probability" line per PNG file, space-separated
    scores = pd.read_csv(
        out / "download" / "named-outputs" / "score" / "predictions.csv",
        sep=" ",
        header=None,
        names=["file", "digit", "probability"],
    )
    truth = pd.read_csv(out / "labels.csv")
    scored = scores.merge(truth, on="file", how="left", validate="one_to_one")
    right = int((scored["digit"] == scored["label"]).sum())
    print(f"files scored: {len(scores)} of {len(truth)}")
    print(f"digits read right: {right} of {len(scores)} ({right / len(scores):.1%})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
