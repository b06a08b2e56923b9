"""Train the demo model on scikit-learn's bundled diabetes data and write a folder of CSV files to score.

Nothing is downloaded: the data ships inside scikit-learn.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor


def main(out: Path, files: int = 20, rows: int = 500) -> None:
    features = load_diabetes(as_frame=True)
    frame: pd.DataFrame = features.frame
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0)
    model.fit(frame.drop(columns="target"), frame["target"])

    (out / "model").mkdir(parents=True, exist_ok=True)
    with (out / "model" / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    columns = [c for c in frame.columns if c != "target"]
    for index in range(files):
        sample = frame[columns].sample(n=rows, replace=True, random_state=int(rng.integers(1 << 31)))
        sample.to_csv(data / f"patients-{index:03d}.csv", index=False)
    print(f"trained {type(model).__name__} on {len(frame)} rows; wrote {files} CSV files of {rows} rows to {data}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
