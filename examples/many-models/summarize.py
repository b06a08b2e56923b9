"""Check the downloaded forecasts against each store's true sales."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(out: Path) -> None:
    """Print the rows and the forecast error of every store."""
    # append_row output: one "store week forecast" line per row, space-separated
    forecasts = pd.read_csv(
        out / "download" / "named-outputs" / "score" / "forecasts.csv",
        sep=" ",
        header=None,
        names=["store", "week", "forecast"],
    )
    truth = pd.read_csv(out / "truth.csv")
    scored = forecasts.merge(truth, on=["store", "week"], how="left", validate="one_to_one")
    scored["error"] = (scored["forecast"] - scored["units"]).abs()
    # make_assets.py adds normal noise of standard deviation 5 to the sales: no model can beat 5 * sqrt(2/pi) ~ 4.0
    print(f"stores forecast: {scored['store'].nunique()} of {truth['store'].nunique()} (the sales' own noise: 4.0)")
    for store, rows in scored.groupby("store"):
        units, error = rows["units"].mean(), rows["error"].mean()
        print(f"{store}: {len(rows)} weeks, mean units {units:.1f}, mean absolute error {error:.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
