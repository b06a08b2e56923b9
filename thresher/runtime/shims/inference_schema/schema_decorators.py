"""``@input_schema`` and ``@output_schema``, as Azure scoring scripts use them::

    @input_schema("data", NumpyParameterType(np.array([[0.1, 1.2, 2.3, 3.4]])))
    @input_schema("threshold", StandardPythonParameterType(0.5), optional=True)
    @output_schema(StandardPythonParameterType([1]))
    def run(data, threshold=0.5):
        return (model.predict_proba(data)[:, 1] > threshold).astype(int).tolist()

A served request fills each parameter from the JSON body's key of the same name, converted to its
type. A decorated ``run`` also stays a plain function: called directly (as a script's own tests do),
each argument given for a decorated parameter is converted first (``convert_to_provided_type``), and
values already of the type pass unchanged. The decorators record what they were given on the
function, under the attributes named below; thresher's online worker reads them
(``thresher.runtime.online_call``, which uses the same literal names).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

__all__ = ["input_schema", "output_schema"]

INPUTS_ATTR = "__thresher_input_schema__"  # {param_name: {"type", "convert", "optional"}}
OUTPUT_ATTR = "__thresher_output_schema__"  # the output parameter type

F = TypeVar("F", bound=Callable[..., Any])


def _check_type(param_type: Any, decorator: str) -> None:
    if not (callable(getattr(param_type, "deserialize_input", None)) and hasattr(param_type, "input_to_swagger")):
        raise TypeError(
            f"{decorator}: {type(param_type).__name__} is not a parameter type; pass one of "
            "StandardPythonParameterType, NumpyParameterType or PandasParameterType (from "
            "inference_schema.parameter_types) built on a sample value."
        )


def input_schema(
    param_name: str, param_type: Any, convert_to_provided_type: bool = True, optional: bool = False
) -> Callable[[F], F]:
    """Declare the type of ``run``'s parameter ``param_name`` (its JSON key in the request body).

    ``convert_to_provided_type=False`` passes the JSON value as it is; ``optional=True`` lets the
    request leave the key out (or send null): the parameter then gets its default, or None.
    """
    _check_type(param_type, f"@input_schema({param_name!r}, ...)")

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def converting(*args: Any, **kwargs: Any) -> Any:
            if not args:  # all by name (as the server calls): no binding needed
                value = kwargs.get(param_name)
                if param_name in kwargs and not (value is None and optional):
                    kwargs[param_name] = param_type.deserialize_input(value)
                return func(**kwargs)
            try:
                bound = signature.bind_partial(*args, **kwargs)
            except TypeError:
                return func(*args, **kwargs)  # the call is wrong anyway: let Python say how
            value = bound.arguments.get(param_name)
            if param_name in bound.arguments and not (value is None and optional):
                bound.arguments[param_name] = param_type.deserialize_input(value)
            return func(*bound.args, **bound.kwargs)

        wrapper: Any = converting if convert_to_provided_type else func
        inputs = dict(getattr(func, INPUTS_ATTR, {}))
        inputs[param_name] = {"type": param_type, "convert": bool(convert_to_provided_type), "optional": optional}
        setattr(wrapper, INPUTS_ATTR, inputs)
        return wrapper  # type: ignore[no-any-return]

    return decorate


def output_schema(output_type: Any) -> Callable[[F], F]:
    """Declare the type of ``run``'s return value (for the Swagger document; the value is not converted)."""
    _check_type(output_type, "@output_schema(...)")

    def decorate(func: F) -> F:
        setattr(func, OUTPUT_ATTR, output_type)
        return func

    return decorate
