"""The worker-side handler of no-code MLflow online deployments (``online_protocol.Handler``).

``MlflowHandler`` loads the pyfunc model once and answers each request by its dialect (Azure's /score
``input_data``, MLflow's /invocations, Open Inference Protocol V2; bodies in ``online_payloads`` and
``online_v2``), with the batch signature policy (``online_inputs``). Status codes::

    200  the predictions: bare JSON (score), {"predictions": ...} (invocations), an inference response (v2)
    400  a body that cannot be read, or data that does not fit the signature (the message names the
         column, the expected and found type, never the data); params outside the params schema
    415  a content type that is not accepted
    424  predict() raised: {"message": "<ExcType>: <message>"}; the traceback goes to the error log
    500  a fault of thresher's own (the traceback goes to the error log)

Error bodies are ``{"message"}`` (score), ``{"error_code", "message"}`` (invocations) and ``{"error"}`` (v2).
A batch of requests that the front formed is predicted at once where the inputs line up (same columns
and dtypes, or the same tensor item shape, and the same params), and each request gets the part of the
predictions for its rows; the others, and every request of a batch whose predictions cannot be cut back
by rows (or whose prediction failed), are predicted alone. Each reply's ``timing`` holds ``parse``,
``predict`` (the batch's, for a batched request) and ``encode``, in ms.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from thresher.runtime import mlflow_driver, online_examples, online_openapi, online_protocol, online_v2
from thresher.runtime.entry import UserCodeError, describe, error_boundary
from thresher.runtime.online_inputs import ModelInput, concat, described, fit, split
from thresher.runtime.online_payloads import (
    PayloadError,
    RawInput,
    encode,
    encode_predictions,
    matrix_frame,
    read_invocations,
    read_score,
)
from thresher.runtime.online_predict import fitted_predictor
from thresher.runtime.signature import InputSignature, SignatureError

COST_SIZES = (1, 2, 4, 8, 16, 32, 64)
COST_REPEATS = 3
JSON_HEADERS = {"content-type": "application/json"}
# MLflow's own schema check (after thresher's) then says what failed without printing the whole input
QUIET_SCHEMA = {"MLFLOW_DISABLE_SCHEMA_DETAILS": "true"}


@dataclass
class _Slot:
    """One request on its way through ``handle``."""

    request: online_protocol.OnlineRequest
    input: ModelInput | None = None
    predictions: Any = None
    status: int = 200
    code: str = ""
    message: str = ""
    v2: tuple[tuple[str, str | None], Any, list[str] | None] | None = None
    timing: dict[str, float] = field(default_factory=lambda: {"parse": 0.0, "predict": 0.0, "encode": 0.0})

    def fail(self, status: int, code: str, message: str) -> None:
        self.input, self.status, self.code, self.message = None, status, code, message


class MlflowHandler:
    """An MLflow model served online; see the module docstring.

    Example::

        handler = MlflowHandler(os.environ["AZUREML_MODEL_DIR"], "logs/user/error/worker-0.txt")
        handler.init()
        handler.warmup()                       # {"ms": 3.1, "rows": 1, "source": "input_example"}
        [(reply, body)] = handler.handle([({"dialect": "score", "id": "r-1"}, b'{"input_data": [[1, 2]]}')])
    """

    def __init__(self, model_dir: str, error_log: str, *, name: str | None = None) -> None:
        self.model_dir = model_dir
        self.error_log = error_log
        self.name = name
        self.model: Any = None
        self._predictor: tuple[Any, Any] = (None, None)  # (the model, its fitted_predictor)
        self.folder = ""
        self.signature = InputSignature(None)
        self.outputs: list[dict[str, Any]] = []
        self.param_specs: list[dict[str, Any]] | None = None
        self._known: tuple[ModelInput | None, str] | None = None

    def init(self) -> None:
        """Load the model; raises ``UserCodeError`` (traceback in the error log) when it cannot be loaded."""
        for key, value in QUIET_SCHEMA.items():
            os.environ.setdefault(key, value)
        with error_boundary(self.error_log, f"Loading the MLflow model in {self.model_dir} failed"):
            self.model = mlflow_driver.load_model(self.model_dir)
            self.folder = os.path.realpath(mlflow_driver.model_folder(self.model_dir))
            metadata = self.model.metadata
            inputs, outputs = metadata.get_input_schema(), metadata.get_output_schema()
            self.signature = InputSignature(inputs.to_dict() if inputs is not None else None, named_tensors=True)
            self.outputs = outputs.to_dict() if outputs is not None else []
            params = metadata.get_params_schema() if hasattr(metadata, "get_params_schema") else None
            self.param_specs = params.to_dict() if params is not None else None

    def warmup(self) -> dict[str, Any]:
        """Predict once on the input example (or a row made from the signature); ``{"ms", "rows", "source"}``.

        Returns ``{}`` when there is no known input (no example, no signature). A failing prediction on the
        saved example raises ``UserCodeError``; on a made-up row it is only reported (``"failed"``), since
        the model may rightly refuse zeros and empty text."""
        known, source = self._known_input()
        if known is None:
            return {}
        start = time.perf_counter()
        try:
            with error_boundary(self.error_log, f"The warm-up prediction on the model's {source} failed"):
                self._predict(known.data, known.params)
        except UserCodeError as exc:
            if source == online_examples.INPUT_EXAMPLE:
                raise
            self._known = (None, source)
            return {"source": source, "failed": f"{exc.error['type']}: {exc.error['message']}"}
        return {"ms": _ms(start), "rows": known.rows, "source": source}

    def cost_curve(self, sizes: tuple[int, ...] = COST_SIZES) -> dict[int, float]:
        """Median ms of ``predict`` on the known input repeated to each size (``COST_REPEATS`` runs each), for
        tuning adaptive batching; ``{}`` when there is no known input or it cannot be batched. A size whose
        prediction fails ends the curve there (the traceback goes to the error log)."""
        known, _ = self._known_input()
        curve: dict[int, float] = {}
        if known is None or known.key is None:
            return curve
        for size in sorted(set(sizes)):
            data = online_examples.replicated(known.data, known.rows, size)
            runs = []
            try:
                for _ in range(COST_REPEATS):
                    start = time.perf_counter()
                    self._predict(data, known.params)
                    runs.append(_ms(start))
            except (Exception, SystemExit) as exc:
                describe(
                    exc, f"predict() failed on {size} rows of the known input while timing batches", self.error_log
                )
                break
            curve[size] = statistics.median(runs)
        return curve

    def document(self, op: dict[str, Any]) -> dict[str, Any]:
        """V2 model metadata (``{"op": "metadata"}``) or the OpenAPI document (``{"op": "swagger", "version"}``)."""
        name = str(op.get("name") or self.name or os.path.basename(self.folder) or "model")
        if op.get("op") == "metadata":
            return online_v2.metadata(name, self.signature.inputs, self.outputs)
        if op.get("op") == "swagger":
            known, _ = self._known_input()
            data = known.data if known is not None else None
            if isinstance(data, dict) and self.signature.tensor is not None:
                data = next(iter(data.values()))  # one named tensor: input_data is the tensor itself
            example = online_examples.json_example(data) if data is not None else None
            return online_openapi.document(
                name, str(op.get("version") or "3"), self.signature, self.outputs, self.param_specs, example
            )
        return {"error": f"Unknown document op '{op.get('op')}'; the ops are metadata and swagger."}

    def handle(self, exchanges: list[online_protocol.Exchange]) -> list[online_protocol.Answer]:
        """Answer each request (see the module docstring); never raises for the model's code."""
        slots = [self._parse(request, body) for request, body in exchanges]
        groups: dict[Any, list[_Slot]] = {}
        for position, slot in enumerate(slots):
            if slot.input is not None:
                key = slot.input.key if slot.input.key is not None else ("alone", position)
                groups.setdefault(key, []).append(slot)
        for group in groups.values():
            self._predict_group(group)
        return [self._answer(slot) for slot in slots]

    def _parse(self, request: online_protocol.OnlineRequest, body: bytes) -> _Slot:
        slot = _Slot(request)
        start = time.perf_counter()
        content_type = (request.get("headers") or {}).get("content-type", "")
        dialect = request.get("dialect")
        try:
            if request.get("matrix") is not None:  # the front read it ahead: read_matrix()
                raw = matrix_frame(request["matrix"], body)
            elif dialect == online_protocol.SCORE:
                raw = read_score(body, content_type, self._tensor_names())
            elif dialect == online_protocol.INVOCATIONS:
                raw = read_invocations(
                    body, content_type, self.signature.text_columns(), self.signature.tensor is not None
                )
            elif dialect == online_protocol.V2:
                raw, ident, wanted = online_v2.read_infer(body, content_type)
                slot.v2 = (online_v2.model_of(str(request.get("path") or "")), ident, wanted)
            else:
                raise PayloadError(f"An MLflow model does not answer '{dialect}' requests.", 404, "NOT_FOUND")
            slot.input = fit(raw, self.signature, self.param_specs)
        except PayloadError as exc:
            slot.fail(exc.status, exc.code, str(exc))
        except SignatureError as exc:
            slot.fail(400, "INVALID_PARAMETER_VALUE", str(exc))
        except Exception as exc:  # a fault of thresher's own: the details go to the error log only
            error = describe(exc, f"Reading request {request.get('id')} failed", self.error_log)
            message = f"thresher could not read the request ({error['type']}); the traceback is in the error log."
            slot.fail(500, "INTERNAL_ERROR", message)
        slot.timing["parse"] = _ms(start)
        return slot

    @property
    def reads_matrices(self) -> bool:
        """Whether the front may read all-float split bodies ahead (``online_payloads.read_matrix``): always, but
        for a model with named tensors, whose names may be those of a split body's keys."""
        return not self._tensor_names()

    def _tensor_names(self) -> set[str]:
        return {str(spec.get("name")) for spec in self.signature.tensors if spec.get("name") is not None}

    def _predict_group(self, group: list[_Slot]) -> None:
        inputs = [slot.input for slot in group if slot.input is not None]
        start = time.perf_counter()
        parts = None
        if len(inputs) > 1:
            try:
                parts = split(self._predict(concat(inputs), inputs[0].params), [item.rows for item in inputs])
            except (Exception, SystemExit):
                parts = None  # predicted one by one below, so that the failing request fails alone
        batch_ms = _ms(start)
        for position, slot in enumerate(group):
            slot.timing["predict"] = batch_ms
            if parts is not None:
                slot.predictions = parts[position]
            else:
                self._predict_one(slot)

    def _predict_one(self, slot: _Slot) -> None:
        assert slot.input is not None
        start = time.perf_counter()
        try:
            slot.predictions = self._predict(slot.input.data, slot.input.params)
        except (Exception, SystemExit) as exc:
            if type(exc).__name__ == "MlflowException" and getattr(exc, "error_code", "") == "INVALID_PARAMETER_VALUE":
                slot.fail(
                    400,
                    "INVALID_PARAMETER_VALUE",
                    f"The request does not fit the model: {getattr(exc, 'message', exc)}",
                )
            else:
                error = describe(exc, f"predict() failed on request {slot.request.get('id')}", self.error_log)
                slot.fail(424, error["type"], f"{error['type']}: {error['message']}")
        slot.timing["predict"] += _ms(start)

    def _predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        model, predict = self._predictor
        if model is not self.model:  # made for the model loaded (once per worker)
            model, predict = self._predictor = (self.model, fitted_predictor(self.model))
        return predict(data, params)

    def _answer(self, slot: _Slot) -> online_protocol.Answer:
        start = time.perf_counter()
        dialect = slot.request.get("dialect")
        body = b""
        if slot.status == 200:
            try:
                if slot.v2 is not None:
                    model, ident, wanted = slot.v2
                    body = encode(online_v2.response(slot.predictions, model, ident or slot.request.get("id"), wanted))
                elif dialect == online_protocol.INVOCATIONS:
                    body = encode_predictions(slot.predictions, "predictions")
                else:
                    body = encode_predictions(slot.predictions)
            except PayloadError as exc:
                slot.fail(exc.status, exc.code, str(exc))
            except Exception as exc:
                error = describe(
                    exc, f"Writing the predictions of request {slot.request.get('id')} failed", self.error_log
                )
                slot.fail(500, "INTERNAL_ERROR", f"The predictions could not be written as JSON ({error['type']}).")
        reply: online_protocol.OnlineReply = {"status": slot.status, "headers": dict(JSON_HEADERS), "error": None}
        if slot.status != 200:
            reply["error"] = {"type": slot.code, "message": slot.message}
            if dialect == online_protocol.V2:
                body = encode({"error": slot.message})
            elif dialect == online_protocol.INVOCATIONS:
                body = encode({"error_code": slot.code, "message": slot.message})
            else:
                body = encode({"message": slot.message})
        slot.timing["encode"] = _ms(start)
        reply["length"] = len(body)
        reply["timing"] = slot.timing
        return reply, body

    def _known_input(self) -> tuple[ModelInput | None, str]:
        """The saved input example fitted to the signature, or a row made from the signature (cached)."""
        if self._known is None:
            source = online_examples.INPUT_EXAMPLE
            try:
                example = online_examples.saved_example(self.model.metadata, self.folder)
            except Exception as exc:  # a missing or unreadable example file: fall back to the signature
                describe(exc, f"Reading the input example of {self.folder} failed", self.error_log)
                example = None
            if example is None:
                example, source = online_examples.synthesized(self.signature), online_examples.SIGNATURE
            known = None
            if example is not None:
                try:
                    known = fit(example, self.signature, self.param_specs)
                except Exception:  # MLflow saved it, so MLflow's own check passes it
                    known = _as_sent(example)
            self._known = (known, source)
        return self._known


def _as_sent(example: RawInput) -> ModelInput:
    try:
        return described(example.data, example.params)
    except PayloadError:
        return ModelInput(example.data, 1, example.params, None)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
