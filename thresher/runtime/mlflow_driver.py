"""The built-in driver of no-code MLflow deployments: Azure's generated MLflow batch driver, streamed.

``init()`` loads the model once per worker with ``mlflow.pyfunc.load_model``; ``run(mini_batch)``
predicts file by file:

    .csv                                  pandas, CHUNK_ROWS rows at a time (text fields read as text)
    .parquet .pqt                         pyarrow, CHUNK_ROWS rows at a time
    .png .jpg .jpeg .tiff .bmp .gif       Pillow, one array per file (a batch of one)

Each chunk is fitted to the model's signature (``thresher.runtime.signature``), predicted, and handed
to the part writer before the next chunk is read, so a worker holds about one chunk whatever the
file's size. Output rows are ``row, prediction, file_name``: ``row`` is the row's index in its file
(continuing across chunks; empty for images), several prediction columns sit between ``row`` and
``file_name``. A file that cannot be read, does not fit the signature, or fails in ``predict()``
fails alone: its rows are taken back out of the part and the other files of the mini-batch count.

Runs in the model's environment; MLflow's telemetry is switched off before mlflow is imported.
``THRESHER_MLFLOW_CHUNK_ROWS`` (a deployment environment variable) changes the chunk size.
"""

from __future__ import annotations

import glob
import importlib
import io
import json
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from thresher.runtime import protocol
from thresher.runtime.results import ItemResults, ItemRows
from thresher.runtime.signature import InputSignature

TABULAR_EXTENSIONS = (".csv", ".parquet", ".pqt")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tiff", ".bmp", ".gif")
SUPPORTED_EXTENSIONS = TABULAR_EXTENSIONS + IMAGE_EXTENSIONS
CHUNK_ROWS = 50_000
ROW, PREDICTION, FILE_NAME = "row", "prediction", "file_name"
QUIET_MLFLOW = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
# What the driver needs beside mlflow-skinny: full mlflow brings numpy, pandas and pyarrow (skinny does
# not), and images need Pillow. An environment built from a model's own files must add them.
RUNTIME_REQUIREMENTS = ("numpy", "pandas", "pyarrow", "pillow")

_log = logging.getLogger("thresher.mlflow_driver")
_driver: Driver | None = None


def model_folder(model_dir: str) -> str:
    """The folder holding ``MLmodel`` inside AZUREML_MODEL_DIR (the model folder, or one level below it)."""
    for pattern in ("MLmodel", "*/MLmodel", "*/*/MLmodel"):
        found = sorted(glob.glob(os.path.join(glob.escape(model_dir), pattern)))
        if found:
            return os.path.dirname(found[0])
    raise FileNotFoundError(f"No MLmodel file in the model folder {model_dir}; it is not an MLflow model.")


class Driver:
    """A loaded model, its signature, and how files are read and predicted."""

    def __init__(self, model: Any, chunk_rows: int = CHUNK_ROWS) -> None:
        self.model = model
        schema = model.metadata.get_input_schema()
        self.signature = InputSignature(schema.to_dict() if schema is not None else None)
        self.chunk_rows = chunk_rows
        self._warned: set[str] = set()

    def run(self, mini_batch: Any) -> ItemResults:
        """Every file of the mini-batch, streamed (see the module docstring)."""
        if not isinstance(mini_batch, list):
            raise TypeError(
                "The MLflow driver scores files (uri_folder or uri_file inputs); this input is tabular. "
                "Deploy the model with a scoring script for tabular inputs."
            )
        return ItemResults(streamed=(ItemRows(str(path), self.file_rows(str(path))) for path in mini_batch))

    def file_rows(self, path: str) -> Iterator[Any]:
        """The output rows of one file, a DataFrame per chunk."""
        extension = os.path.splitext(path)[1].lower()
        if extension in IMAGE_EXTENSIONS:
            yield self._image_rows(path)
        elif extension in TABULAR_EXTENSIONS:
            if os.path.getsize(path) == 0:
                raise ValueError(f"{path} is empty (0 bytes): there is no table to read.")
            chunks = self._csv_chunks(path) if extension == ".csv" else self._parquet_chunks(path)
            first = 0
            for chunk in chunks:
                if len(chunk):
                    data, extra = self.signature.table(chunk, path, first)
                    if extra:
                        self._warn_once("extra-columns", _extra_message(extra, path))
                    yield output_rows(self.model.predict(data), len(chunk), first, path)
                    first += len(chunk)
        else:
            supported = " ".join(SUPPORTED_EXTENSIONS)
            raise ValueError(f"File type '{extension or path}' is not supported by the MLflow driver ({supported}).")

    def _csv_chunks(self, path: str) -> Iterable[Any]:
        pd = importlib.import_module("pandas")
        options: dict[str, Any] = {"chunksize": self.chunk_rows, "dtype": self.signature.text_columns() or None}
        if self.signature.tensor is not None and _numbers_only_first_line(path):
            options["header"] = None
        with pd.read_csv(path, **options) as reader:
            yield from reader

    def _parquet_chunks(self, path: str) -> Iterable[Any]:
        try:
            parquet = importlib.import_module("pyarrow.parquet")
        except ImportError as exc:
            raise ImportError("Reading Parquet files needs pyarrow in the model's environment; add it.") from exc
        with parquet.ParquetFile(path) as file:
            for batch in file.iter_batches(batch_size=self.chunk_rows):
                yield batch.to_pandas()

    def _image_rows(self, path: str) -> Any:
        np = importlib.import_module("numpy")
        try:
            image_module = importlib.import_module("PIL.Image")
        except ImportError as exc:
            raise ImportError("Reading images needs Pillow in the model's environment; add pillow.") from exc
        with open(path, "rb") as handle:
            raw = handle.read()
        with image_module.open(io.BytesIO(raw)) as image:
            pixels = np.array(image)
        return output_rows(self.model.predict(self.signature.image(pixels, raw, path)), 1, None, path)

    def _warn_once(self, key: str, message: str) -> None:
        """Log ``message`` once per job: the first worker to create the job's marker file logs it."""
        if key in self._warned:
            return
        self._warned.add(key)
        logs_dir = json.loads(os.environ.get(protocol.WORKER_ENV) or "{}").get("logs_dir")
        if logs_dir:
            marker = os.path.join(logs_dir, "sys", "warnings", key)
            try:
                os.makedirs(os.path.dirname(marker), exist_ok=True)
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            except OSError:
                pass  # cannot coordinate: warn in this worker
        _log.warning(message)


def output_rows(predictions: Any, count: int, first: int | None, path: str) -> Any:
    """``row, prediction(s), file_name`` for ``count`` input rows starting at row ``first`` (None: an image)."""
    pd = importlib.import_module("pandas")
    np = importlib.import_module("numpy")
    columns = _prediction_columns(predictions, count)
    rows = range(first, first + count) if first is not None else [None] * count
    frame = pd.DataFrame({ROW: pd.array(rows, dtype="Int64")})
    for name, values in columns.items():
        frame[name] = values
    frame[FILE_NAME] = np.full(count, os.path.basename(path), dtype=object)
    return frame


def _prediction_columns(predictions: Any, count: int) -> dict[str, Any]:
    pd = importlib.import_module("pandas")
    np = importlib.import_module("numpy")
    if isinstance(predictions, (pd.DataFrame, pd.Series)):  # a tuple: X | Y needs Python 3.10
        if len(predictions) != count:
            raise ValueError(f"predict() returned {len(predictions)} predictions for {count} rows.")
        if isinstance(predictions, pd.Series):
            return {PREDICTION: predictions.to_numpy()}
        named = {str(column): predictions[column].to_numpy() for column in predictions.columns}
    elif isinstance(predictions, dict):
        named = dict(_split({str(key): _as_rows(np, value, count) for key, value in predictions.items()}))
    else:
        values = _as_rows(np, predictions, count)
        if values.ndim == 1 or values.shape[1] == 1:
            return {PREDICTION: values.reshape(count)}
        return {f"{PREDICTION}_{i}": values[:, i] for i in range(values.shape[1])}
    if len(named) == 1:
        return {PREDICTION: next(iter(named.values()))}
    return {(f"{PREDICTION}_{k}" if k in (ROW, FILE_NAME) else k): v for k, v in named.items()}


def _as_rows(np: Any, value: Any, count: int) -> Any:
    """``value`` as an array with one entry (or one row of values) per input row."""
    try:
        values = np.asarray(value)
    except ValueError:  # ragged lists: one object per row
        values = np.empty(len(value), dtype=object)
        values[:] = list(value)
    if values.ndim == 0 or (count == 1 and values.shape[0] != 1):
        values = values.reshape(1, -1)
    if values.shape[0] != count:
        raise ValueError(f"predict() returned {values.shape[0]} predictions for {count} rows.")
    return values.reshape(count, -1) if values.ndim > 2 else values


def _split(named: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, values in named.items():
        if values.ndim > 1 and values.shape[1] > 1:
            for i in range(values.shape[1]):
                yield f"{key}_{i}", values[:, i]
        else:
            yield key, values.reshape(len(values))


def _numbers_only_first_line(path: str) -> bool:
    """Whether a CSV file starts with data (a tensor's values), not a header."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        fields = handle.readline().strip().split(",")
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return bool(fields)


def _extra_message(extra: list[str], path: str) -> str:
    shown = ", ".join(f"'{name}'" for name in extra[:20]) + (f" and {len(extra) - 20} more" if len(extra) > 20 else "")
    return (
        f"{path} has columns the model's signature does not take ({shown}); they are ignored. "
        "This warning is given once per job."
    )


def load_model(model_dir: str) -> Any:
    """The pyfunc model in ``model_dir`` (AZUREML_MODEL_DIR), loaded with MLflow's telemetry off."""
    for name, value in QUIET_MLFLOW.items():
        os.environ.setdefault(name, value)
    try:
        pyfunc = importlib.import_module("mlflow.pyfunc")
    except ImportError as exc:
        raise ImportError(
            f"The built-in MLflow driver cannot import mlflow.pyfunc ({exc}); the model's environment needs "
            f"mlflow (or mlflow-skinny) and {', '.join(RUNTIME_REQUIREMENTS)}. Add them to the model's "
            "requirements, or name an environment that has them in the deployment."
        ) from exc
    folder = model_folder(model_dir)
    # The real path: MLflow refuses a model folder reached through a link (``batch score`` links it).
    return pyfunc.load_model(os.path.realpath(folder), suppress_warnings=True)


def init() -> None:
    """Load the model in AZUREML_MODEL_DIR (once per worker)."""
    global _driver
    model_dir = os.environ.get("AZUREML_MODEL_DIR") or os.environ.get("THRESHER_MODEL_DIR") or "."
    chunk_rows = int(os.environ.get("THRESHER_MLFLOW_CHUNK_ROWS") or CHUNK_ROWS)
    _driver = Driver(load_model(model_dir), chunk_rows)
    _log.info("Loaded MLflow model %s (chunks of %d rows)", model_folder(model_dir), chunk_rows)


def run(mini_batch: Any) -> ItemResults:
    """Predict every file of the mini-batch (see the module docstring)."""
    if _driver is None:
        raise RuntimeError("init() must run before run()")
    return _driver.run(mini_batch)
