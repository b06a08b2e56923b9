"""Train one sales model per store on two years of made-up weekly sales, and write the next weeks to forecast.

Every store has its own base level, price sensitivity, promotion lift and seasonality, so one model
for all stores would fit none of them well: each store gets a LinearRegression of its own, saved as
model/<store>.pkl in one model folder. The weeks to forecast are an MLTable of CSV files, one file per
quarter with the rows of every store; the deployment's partition_keys: [store] gives each store's rows
to run() as one mini-batch. The true sales of those weeks go to truth.csv. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

SIZES = {"small": (3, 2), "full": (8, 4)}  # stores x quarters (13 weeks each) to forecast
HISTORY_WEEKS = 104
FEATURES = ["price", "promo", "season_sin", "season_cos"]
MLTABLE = """\
paths:
  - pattern: ./*.csv
transformations:
  - read_delimited:
      delimiter: ','
"""


def sales(store: int, weeks: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Weekly rows of one store: its features and units sold, from that store's own made-up behaviour."""
    base, sensitivity, lift, amplitude = 200 + 60 * store, 8 + 3 * (store % 4), 15 + 10 * (store % 3), 10 + 6 * store
    price = rng.uniform(4.0, 8.0, len(weeks)).round(2)
    promo = (rng.random(len(weeks)) < 0.25).astype(int)
    frame = pd.DataFrame(
        {
            "store": f"store-{store:02d}",
            "week": weeks,
            "price": price,
            "promo": promo,
            "season_sin": np.sin(2 * np.pi * weeks / 52).round(4),
            "season_cos": np.cos(2 * np.pi * weeks / 52).round(4),
        }
    )
    noise = rng.normal(0, 5, len(weeks))
    frame["units"] = (base - sensitivity * price + lift * promo + amplitude * frame["season_sin"] + noise).round(1)
    return frame


def main(out: Path, size: str) -> None:
    """Write ``out/model/store-NN.pkl`` per store, ``out/data/`` (MLTable + CSV files) and ``out/truth.csv``."""
    stores, quarters = SIZES[size]
    rng = np.random.default_rng(0)
    (out / "model").mkdir(parents=True)
    future = []
    for store in range(1, stores + 1):
        history = sales(store, np.arange(1, HISTORY_WEEKS + 1), rng)
        model = LinearRegression().fit(history[FEATURES], history["units"])
        with (out / "model" / f"store-{store:02d}.pkl").open("wb") as handle:
            pickle.dump(model, handle)
        future.append(sales(store, np.arange(HISTORY_WEEKS + 1, HISTORY_WEEKS + 1 + 13 * quarters), rng))

    weeks = pd.concat(future, ignore_index=True).sort_values(["week", "store"], kind="stable")
    data = out / "data"
    data.mkdir()
    (data / "MLTable").write_text(MLTABLE, encoding="utf-8")
    for quarter in range(quarters):
        first = HISTORY_WEEKS + 1 + 13 * quarter
        rows = weeks[(weeks["week"] >= first) & (weeks["week"] < first + 13)]
        rows.drop(columns="units").to_csv(data / f"weeks-{first:03d}-{first + 12:03d}.csv", index=False)
    weeks[["store", "week", "units"]].to_csv(out / "truth.csv", index=False)
    print(
        f"trained {stores} LinearRegression models, one per store, on {HISTORY_WEEKS} weeks each; "
        f"wrote {quarters} CSV files of {13 * stores} rows ({13 * quarters} weeks x {stores} stores) to {data}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    arguments = parser.parse_args()
    main(arguments.out, arguments.size)
