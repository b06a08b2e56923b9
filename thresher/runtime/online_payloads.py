"""Request and response bodies of no-code MLflow online deployments (Azure's /score and MLflow's /invocations).

A body is read into one of three raw forms, which ``online_inputs`` then fits to the model's signature::

    dialect       body                                                       raw form
    score         {"input_data": {"columns", "index"?, "data"}, "params"?}    FRAME    (split orient)
                  {"input_data": [[...], ...], "params"?}                     TENSOR
                  {"input_data": {"tokens": [[...]], "mask": [[...]]}}        TENSORS  (named tensors)
    invocations   {"dataframe_split": {"columns"?, "index"?, "data"}}         FRAME
                  {"dataframe_records": [{...}, ...]}                         FRAME
                  {"instances": [{...}, ...]}                                 FRAME
                  {"instances": [[...]]}, {"inputs": [[...]]}                 TENSOR
                  {"inputs": {"name": [...], ...}}                            TENSORS  (named tensors or columns)
                  text/csv, application/vnd.apache.parquet (no params)        FRAME

Answers are bare JSON for ``score`` (as Azure's generated MLflow scoring script answers) and
``{"predictions": ...}`` for ``invocations`` (as ``mlflow models serve`` does): a DataFrame as records,
arrays as (nested) lists. A body that cannot be read raises ``PayloadError`` with the HTTP status and a
message that names what is wrong and the accepted shapes, never the data.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import importlib
import io
import itertools
import json
from dataclasses import dataclass
from typing import Any

try:  # where the model's environment has it (thresher adds it to the ones it builds for MLflow models)
    import orjson
except ImportError:  # pragma: no cover - the standard library reads the same JSON, 3 to 4 times slower
    orjson = None  # type: ignore[assignment]

FRAME, TENSOR, TENSORS = "frame", "tensor", "tensors"
SPLIT_KEYS = ("columns", "index", "data")
INVOCATION_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON, CSV, PARQUET = "application/json", "text/csv", "application/vnd.apache.parquet"
UNSUPPORTED = "UNSUPPORTED_MEDIA_TYPE"
_ALLOWED = "{" + ", ".join(INVOCATION_KEYS) + "}"
_FORMAT = f"The input must be a JSON dictionary with exactly one of the input fields {_ALLOWED}, and optionally params"


class PayloadError(ValueError):
    """A request body that cannot be read; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class RawInput:
    """A request's data as sent: a DataFrame (FRAME), nested lists (TENSOR) or a dict of them (TENSORS)."""

    form: str
    data: Any
    params: Any = None  # as sent; checked against the model's params schema when fitted


def read_score(body: bytes, content_type: str, tensor_names: set[str]) -> RawInput:
    """Azure's ``{"input_data": ..., "params": ...}``; a dict holding only ``columns``/``index``/``data`` is a
    split-orient DataFrame unless the model names tensors so (``tensor_names``)."""
    document = read_json(body, content_type)
    if not isinstance(document, dict) or "input_data" not in document:
        found = "a JSON object without 'input_data'" if isinstance(document, dict) else _kind(document)
        raise PayloadError(
            f'The request body is {found}. Send {{"input_data": ..., "params": {{...}}}} where input_data is '
            'a split DataFrame {"columns": [...], "index": [...], "data": [[...]]}, a list (a tensor) or a '
            "dict of named tensors."
        )
    extra = sorted(set(document) - {"input_data", "params"})
    if extra:
        raise PayloadError(f"The request body has keys {extra} beside input_data and params; remove them.")
    data = document["input_data"]
    if isinstance(data, dict) and "data" in data and set(data) <= set(SPLIT_KEYS) and not (set(data) & tensor_names):
        return RawInput(FRAME, split_frame(data, "input_data"), document.get("params"))
    if isinstance(data, dict):
        return RawInput(TENSORS, data, document.get("params"))
    return RawInput(TENSOR, data, document.get("params"))


def read_invocations(body: bytes, content_type: str, text_columns: dict[str, Any], headerless: bool) -> RawInput:
    """MLflow's /invocations bodies: JSON with exactly one of ``INVOCATION_KEYS`` (and ``params``), CSV or
    Parquet; ``text_columns`` are read from CSV as text, ``headerless``: a tensor model's CSV may be bare numbers."""
    mime, options = _content_type(content_type or JSON)
    if options.get("charset", "utf-8").lower() != "utf-8" or set(options) - {"charset"}:
        message = f"Content type '{content_type}' is not accepted: the only parameter is charset=utf-8."
        raise PayloadError(message, 415, UNSUPPORTED)
    if mime == CSV:
        return RawInput(FRAME, _csv(body, text_columns, headerless))
    if mime == PARQUET:
        return RawInput(FRAME, _parquet(body))
    if mime != JSON:
        raise PayloadError(f"Content type '{mime}' is not accepted; send {JSON}, {CSV} or {PARQUET}.", 415, UNSUPPORTED)
    document = read_json(body, content_type)
    if not isinstance(document, dict):
        raise PayloadError(f"{_FORMAT}. Received {_kind(document)}.")
    keys = [key for key in document if key in INVOCATION_KEYS]
    unknown = [key for key in document if key not in INVOCATION_KEYS and key != "params"]
    if len(keys) != 1 or unknown:
        raise PayloadError(f"{_FORMAT}. Received a dictionary with input fields {list(document)}.")
    key, params = keys[0], document.get("params")
    data = document[key]
    if key == "dataframe_split":
        if not isinstance(data, dict):
            raise PayloadError(f"Dataframe split format must be a dictionary. Got {_kind(data)}.")
        return RawInput(FRAME, split_frame(data, key), params)
    if key == "dataframe_records" or (key == "instances" and _records(data)):
        return RawInput(FRAME, records_frame(data, key), params)
    return RawInput(TENSORS if isinstance(data, dict) else TENSOR, data, params)


def read_json(body: bytes, content_type: str) -> Any:
    """The body as JSON; 415 when it is not JSON and says it is something else, 400 when it is broken JSON."""
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # NaN, Infinity, other encodings, or broken JSON: as the standard library reads or words it
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        mime = _content_type(content_type)[0] if content_type else JSON
        if mime and mime != JSON and not mime.endswith("+json") and mime not in ("text/plain", "*/*"):
            message = f"The request body must be JSON; its content type is '{mime}'. Send {JSON}."
            raise PayloadError(message, 415, UNSUPPORTED) from None
        where = f" ({exc.msg}, line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise PayloadError(f"The request body is not valid JSON{where}.") from None


def split_frame(split: dict[str, Any], what: str) -> Any:
    """A split-orient dict ``{"columns"?, "index"?, "data"}`` as a DataFrame; its shape is checked first."""
    pd = importlib.import_module("pandas")
    data, columns, index = _split_parts(split, what)
    if _all_floats(data):
        # every value a float: one float64 matrix, as pandas would infer it column by column, 4 times faster
        np = importlib.import_module("numpy")
        return pd.DataFrame(np.array(data, dtype=np.float64), columns=columns, index=index, copy=False)
    return pd.DataFrame(data, columns=columns, index=index)


def _split_parts(split: dict[str, Any], what: str) -> tuple[list[list[Any]], Any, Any]:
    """``data``, ``columns`` and ``index`` of a split-orient dict, its shape checked (``PayloadError``)."""
    extra = sorted(set(split) - set(SPLIT_KEYS))
    if extra or "data" not in split:
        raise PayloadError(
            f"{what} must have a 'data' field and optionally 'columns' and 'index' (split orient); "
            f"it has {sorted(split)}."
        )
    data, columns, index = split["data"], split.get("columns"), split.get("index")
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise PayloadError(f"{what}.data must be a list of rows, each a list of values; it is {_kind(data)}.")
    width = len(columns) if isinstance(columns, list) else (len(data[0]) if data else 0)
    for position, row in enumerate(data):
        if len(row) != width:
            raise PayloadError(f"{what}.data row {position} has {len(row)} values and there are {width} columns.")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        count = len(index) if isinstance(index, list) else _kind(index)
        raise PayloadError(f"{what}.index must list one label per row: {len(data)} rows, index {count}.")
    return data, columns, index


def _all_floats(data: list[list[Any]]) -> bool:
    """Whether every value of the (shape-checked) rows is a float: none when there are no values."""
    return set(map(type, itertools.chain.from_iterable(data))) == {float}


@dataclass(frozen=True)
class Matrix:
    """A split-orient body whose every value is a float, read into one float64 matrix ahead of the worker (by
    the online front, while the request waits for one): what ``split_frame`` would make of it, in parts that
    travel to the worker as a JSON header (``header``) and the matrix's bytes."""

    values: Any  # float64, C order, rows x columns
    columns: Any
    index: Any
    params: Any

    def header(self) -> dict[str, Any]:
        rows, width = self.values.shape
        return {"rows": rows, "width": width, "columns": self.columns, "index": self.index, "params": self.params}


def read_matrix(body: bytes, content_type: str, score: bool) -> Matrix | None:
    """``body`` as a ``Matrix`` when the worker would read it as an all-float split DataFrame: Azure's
    ``{"input_data": {split}, "params"?}`` (``score``; for a model without named tensors) or MLflow's
    ``{"dataframe_split": {split}, "params"?}`` as JSON; None for every other body, which the worker then reads
    (and refuses) itself."""
    if not score:
        mime, options = _content_type(content_type or JSON)
        if mime != JSON or options.get("charset", "utf-8").lower() != "utf-8" or set(options) - {"charset"}:
            return None
    try:
        document = read_json(body, content_type)
    except PayloadError:
        return None
    key = "input_data" if score else "dataframe_split"
    if not isinstance(document, dict) or set(document) - {key, "params"} or not isinstance(document.get(key), dict):
        return None
    try:
        data, columns, index = _split_parts(document[key], key)
    except PayloadError:
        return None
    if not _all_floats(data):
        return None
    np = importlib.import_module("numpy")
    return Matrix(np.array(data, dtype=np.float64), columns, index, document.get("params"))


def matrix_frame(header: dict[str, Any], body: bytes) -> RawInput:
    """A ``Matrix`` sent ahead (its ``header`` and bytes) as the DataFrame ``split_frame`` makes of the body."""
    np = importlib.import_module("numpy")
    pd = importlib.import_module("pandas")
    values = np.frombuffer(body, dtype=np.float64).reshape(int(header["rows"]), int(header["width"])).copy()
    frame = pd.DataFrame(values, columns=header.get("columns"), index=header.get("index"), copy=False)
    return RawInput(FRAME, frame, header.get("params"))


def records_frame(records: Any, what: str) -> Any:
    """A list of ``{column: value}`` records as a DataFrame."""
    pd = importlib.import_module("pandas")
    if not _records(records):
        raise PayloadError(f"{what} must be a list of records ({{column: value}} objects); it is {_kind(records)}.")
    return pd.DataFrame(records)


def jsonable(predictions: Any) -> Any:
    """Predictions as JSON values, as MLflow writes them: a DataFrame (or Series) as records, arrays as lists."""
    pd = importlib.import_module("pandas")
    np = importlib.import_module("numpy")
    if isinstance(predictions, np.ndarray):
        return predictions.tolist()
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return pd.DataFrame(predictions).to_dict(orient="records")
    return predictions


def encode_predictions(predictions: Any, key: str | None = None) -> bytes:
    """The predictions as JSON (under ``key`` when given): ``encode(jsonable(...))``, with orjson writing a
    finite float64 (or integer, or boolean) array straight from its memory, 10 times faster, to the same values."""
    if orjson is not None and _plain_array(predictions):
        with contextlib.suppress(orjson.JSONEncodeError):
            return orjson.dumps(predictions if key is None else {key: predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
    value = jsonable(predictions)
    return encode(value if key is None else {key: value})


def _plain_array(value: Any) -> bool:
    """An array whose JSON is the same from orjson and ``json.dumps(value.tolist())`` (no NaN, no float32)."""
    if type(value).__name__ != "ndarray" or not value.ndim or not value.flags.c_contiguous:
        return False
    if value.dtype.kind in "iub":
        return True
    np = importlib.import_module("numpy")
    return bool(value.dtype == np.float64 and np.isfinite(value).all())


def encode(document: Any) -> bytes:
    """``document`` as compact JSON (numpy values, dates and bytes included, as MLflow's encoder writes them)."""
    return json.dumps(document, separators=(",", ":"), default=_default).encode()


def _default(value: Any) -> Any:
    np = importlib.import_module("numpy")
    if isinstance(value, np.ndarray):
        return [_default(item) for item in value.tolist()] if value.dtype == object else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return base64.encodebytes(value).decode("ascii")
    if isinstance(value, (datetime.date, datetime.time)):  # pandas Timestamps are datetimes
        return value.isoformat()
    return str(value)


def _csv(body: bytes, text_columns: dict[str, Any], headerless: bool) -> Any:
    pd = importlib.import_module("pandas")
    first = body.split(b"\n", 1)[0].strip().split(b",")
    options: dict[str, Any] = {"dtype": text_columns or None}
    if headerless and first and all(_number(field) for field in first):
        options["header"] = None
    try:
        return pd.read_csv(io.BytesIO(body), **options)
    except (ValueError, pd.errors.ParserError) as exc:  # EmptyDataError is a ValueError
        raise PayloadError(f"The body is not a CSV table with a header row ({type(exc).__name__}: {exc}).") from None


def _parquet(body: bytes) -> Any:
    pd = importlib.import_module("pandas")
    try:
        frame = _numeric_parquet(body)
        return frame if frame is not None else pd.read_parquet(io.BytesIO(body))
    except ImportError as exc:
        message = f"Reading Parquet needs pyarrow in the model's environment ({exc}); add it."
        raise PayloadError(message, 415, UNSUPPORTED) from None
    except Exception as exc:  # pyarrow raises its own error types for a broken file
        raise PayloadError(f"The body is not a Parquet file ({type(exc).__name__}).") from None


def _numeric_parquet(body: bytes) -> Any:
    """A Parquet body whose columns are all numbers or booleans, as ``pandas.read_parquet`` reads it, twice as
    fast on small bodies (no dataset layer, no thread pool); None for any other schema. For these types
    pandas' reader adds nothing to ``Table.to_pandas`` but the attrs it keeps in the file."""
    pa = importlib.import_module("pyarrow")
    pq = importlib.import_module("pyarrow.parquet")
    file = pq.ParquetFile(pa.BufferReader(body))
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    if not all(any(kind(field.type) for kind in numeric) for field in file.schema_arrow):
        return None
    table = file.read(use_threads=False, use_pandas_metadata=True)
    frame = table.to_pandas(use_threads=False)
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    return frame


def _number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _records(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and all(isinstance(item, dict) for item in data)


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    mime, *rest = [part.strip() for part in value.split(";")]
    options = {}
    for part in rest:
        name, _, option = part.partition("=")
        options[name.strip().lower()] = option.strip().strip('"')
    return mime.lower(), options


def _kind(value: Any) -> str:
    """What a JSON value is, without its content."""
    names = {dict: "a JSON object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
