"""Check the downloaded predictions against the posts' true topics in labels.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(out: Path) -> None:
    """Print how many rows were classified and how many got their true topic."""
    # append_row output: one "file post_id topic probability" line per row, space-separated
    scores = pd.read_csv(
        out / "download" / "named-outputs" / "score" / "predictions.csv",
        sep=" ",
        header=None,
        names=["file", "post_id", "topic", "probability"],
    )
    truth = pd.read_csv(out / "labels.csv").rename(columns={"topic": "true_topic"})
    scored = scores.merge(truth, on="post_id", how="left", validate="one_to_one")
    right = int((scored["topic"] == scored["true_topic"]).sum())
    print(f"rows classified: {len(scores)} from {scores['file'].nunique()} files")
    print(f"topics right: {right} of {len(scores)} ({right / len(scores):.1%})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
