"""Check the downloaded predictions against the held-out patients' true disease progression."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(out: Path) -> None:
    """Print how many rows were scored and how far the predictions are from the truth."""
    # append_row output: space-separated, no header, the columns run() returned
    scores = pd.read_csv(
        out / "download" / "named-outputs" / "score" / "predictions.csv",
        sep=" ",
        header=None,
        names=["patient_id", "prediction"],
    )
    truth = pd.read_csv(out / "truth.csv")
    scored = scores.merge(truth, on="patient_id", how="left", validate="many_to_one")
    error = (scored["prediction"] - scored["target"]).abs().mean()
    baseline = (scored["target"] - truth["target"].mean()).abs().mean()
    print(f"rows scored: {len(scores)} (patients: {scores['patient_id'].nunique()})")
    print(f"mean absolute error: {error:.1f} (guessing the held-out patients' average: {baseline:.1f})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
