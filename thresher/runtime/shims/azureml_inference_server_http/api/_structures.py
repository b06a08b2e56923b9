"""Flask-like data structures for ``AMLRequest``: case-insensitive headers, multi-value dicts, uploaded files."""

from __future__ import annotations

import io
import shutil
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Tuple, Union

Pairs = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]


def _pairs(data: Pairs | None) -> list[tuple[str, Any]]:
    if data is None:
        return []
    if isinstance(data, Mapping):
        return list(data.items())
    return list(data)


def _typed(value: Any, type: Callable[[Any], Any] | None, default: Any) -> Any:
    if type is None:
        return value
    try:
        return type(value)
    except (TypeError, ValueError):
        return default


class MultiDict(Mapping[str, Any]):
    """Keys with one or more values (a query string, a form): ``d[key]`` and ``get`` give the first
    value, ``getlist`` all of them, in order."""

    def __init__(self, data: Pairs | None = None) -> None:
        self._lists: dict[str, list[Any]] = {}
        for key, value in _pairs(data):
            self._lists.setdefault(self._key(key), []).append(value)

    def _key(self, key: str) -> str:
        return key

    def __getitem__(self, key: str) -> Any:
        values = self._lists.get(self._key(key))
        if not values:
            raise KeyError(key)
        return values[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._key(key) in self._lists

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        """The first value of ``key`` (converted by ``type`` when given; ``default`` when it fails)."""
        return _typed(self[key], type, default) if key in self else default

    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]:
        """Every value of ``key``, in order (those ``type`` cannot convert are left out)."""
        values = self._lists.get(self._key(key), [])
        if type is None:
            return list(values)
        missing = object()
        return [v for v in (_typed(value, type, missing) for value in values) if v is not missing]

    def items(self, multi: bool = False) -> list[tuple[str, Any]]:  # type: ignore[override]
        """(key, first value) pairs; with ``multi=True``, one pair per value."""
        if multi:
            return [(key, value) for key, values in self._lists.items() for value in values]
        return [(key, values[0]) for key, values in self._lists.items()]

    def lists(self) -> list[tuple[str, list[Any]]]:
        """(key, all values) pairs."""
        return [(key, list(values)) for key, values in self._lists.items()]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """A plain dict: the first value of each key, or (``flat=False``) the lists."""
        return dict(self.items()) if flat else dict(self.lists())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items(multi=True)!r})"


class Headers(MultiDict):
    """HTTP headers: names compared without case (``headers["Content-Type"]`` finds ``content-type``)."""

    def __init__(self, data: Pairs | None = None) -> None:
        self._names: dict[str, str] = {}
        super().__init__(data)
        for key, _ in _pairs(data):
            self._names.setdefault(key.lower(), key)

    def _key(self, key: str) -> str:
        return key.lower()

    def __iter__(self) -> Iterator[str]:
        return (self._names.get(key, key) for key in self._lists)

    def items(self, multi: bool = False) -> list[tuple[str, Any]]:  # type: ignore[override]
        """(name, value) pairs, names as they were given."""
        return [(self._names.get(key, key), value) for key, value in super().items(multi)]

    def __setitem__(self, key: str, value: Any) -> None:
        self._lists[self._key(key)] = [value]
        self._names[key.lower()] = key


class FileStorage:
    """An uploaded file of a ``multipart/form-data`` body (``request.files["image"]``)."""

    def __init__(self, data: bytes, filename: str | None, name: str | None, content_type: str | None) -> None:
        self.stream: BinaryIO = io.BytesIO(data)
        self.filename = filename
        self.name = name
        self.content_type = content_type
        self.mimetype = (content_type or "").split(";")[0].strip().lower()
        self.headers = Headers({"Content-Type": content_type} if content_type else None)

    def read(self, size: int = -1) -> bytes:
        """Read from the file's content."""
        return self.stream.read(size)

    def save(self, dst: str | BinaryIO) -> None:
        """Write the content to the path or open binary file ``dst``."""
        self.stream.seek(0)
        if isinstance(dst, str):
            with open(dst, "wb") as out:
                shutil.copyfileobj(self.stream, out)
        else:
            shutil.copyfileobj(self.stream, dst)

    def __repr__(self) -> str:
        return f"<FileStorage: {self.filename!r} ({self.content_type!r})>"
