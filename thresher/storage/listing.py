"""Listing one folder level of an object store page by page, so that a flat prefix of a million objects
is never held in memory at once.

S3 (``list_objects_v2`` with a ``/`` delimiter) and Azure Blob (``walk_blobs``) return a folder's
objects and sub-folders in lexicographic order of their names, a page (1,000 names) at a time; this
module asks for the next page only when the previous one has been consumed. Other backends (GCS,
HTTP, local files) are listed whole with ``fs.ls``, as fsspec offers them.

Names are compared as the stores compare them: a sub-folder sorts as its name with a trailing ``/``
(``a-b`` before ``a/``), where a local folder sorts as its name alone; the two orders differ only
for names that continue a folder's name with a character below ``/`` (space, ``!``, ``-``, ``.``...).

Each entry is ``{"name": "bucket/path/x", "type": "file" | "directory", "size": int, "version": str}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

PAGE = 1000


def list_folder(
    fs: Any, protocol: str, folder: str, *, call: Callable[[Callable[[], Any]], Any], page: int | None = None
) -> Iterator[dict[str, Any]]:
    """The entries of ``folder`` (an fsspec path, no protocol), in the store's order, page by page.

    ``call`` runs one request (thresher wraps it in ``retrying``); ``page`` names per request (``PAGE``).
    """
    folder = folder.rstrip("/")
    page = page or PAGE
    if protocol == "s3" and hasattr(fs, "_call_s3"):
        return _s3(fs, folder, call, page)
    if protocol in ("abfs", "az") and hasattr(fs, "service_client"):
        return _azure(fs, folder, call, page)
    return _whole(fs, folder, call)


def _whole(fs: Any, folder: str, call: Callable[[Callable[[], Any]], Any]) -> Iterator[dict[str, Any]]:
    entries = call(lambda: fs.ls(folder, detail=True, refresh=True))
    listed = []
    for entry in entries:
        name = str(entry["name"]).rstrip("/")
        kind = "directory" if entry.get("type") == "directory" else "file"
        listed.append({"name": name, "type": kind, "size": int(entry.get("size") or 0), "version": version_of(entry)})
    listed.sort(key=lambda entry: str(entry["name"]).rsplit("/", 1)[-1])
    return iter(listed)


def version_of(entry: dict[str, Any]) -> str:
    """What changes when an object is rewritten: its ETag, else its modification time."""
    for key in ("ETag", "etag", "md5Hash", "generation", "last_modified", "LastModified", "mtime", "updated"):
        value = entry.get(key)
        if value:
            return str(value)
    return ""


def _s3(fs: Any, folder: str, call: Callable[[Callable[[], Any]], Any], page: int) -> Iterator[dict[str, Any]]:
    from fsspec.asyn import sync

    bucket, _, key = folder.partition("/")
    prefix = f"{key}/" if key else ""
    token: str | None = None
    while True:
        arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": page}
        if token:
            arguments["ContinuationToken"] = token
        answer = call(functools.partial(sync, fs.loop, fs._call_s3, "list_objects_v2", **arguments))
        entries = [
            {
                "name": f"{bucket}/{item['Prefix'].rstrip('/')}",
                "type": "directory",
                "size": 0,
                "version": "",
                "key": item["Prefix"],
            }
            for item in answer.get("CommonPrefixes", [])
        ]
        entries += [
            {
                "name": f"{bucket}/{item['Key']}",
                "type": "file",
                "size": int(item.get("Size", 0)),
                "version": str(item.get("ETag", "")),
                "key": item["Key"],
            }
            for item in answer.get("Contents", [])
            if item["Key"] != prefix  # the folder's own marker object
        ]
        entries.sort(key=lambda entry: entry.pop("key"))
        yield from entries
        token = answer.get("NextContinuationToken")
        if not answer.get("IsTruncated") or not token:
            return


def _azure(fs: Any, folder: str, call: Callable[[Callable[[], Any]], Any], page: int) -> Iterator[dict[str, Any]]:
    from fsspec.asyn import sync

    container, _, path = folder.partition("/")
    prefix = f"{path}/" if path else None

    async def one_page(token: str | None) -> tuple[list[Any], str | None]:
        async with fs.service_client.get_container_client(container) as client:
            pages = client.walk_blobs(name_starts_with=prefix, delimiter="/", results_per_page=page).by_page(
                continuation_token=token
            )
            items = [item async for item in await pages.__anext__()]
            return items, pages.continuation_token

    token: str | None = None
    while True:
        items, token = call(functools.partial(sync, fs.loop, one_page, token))
        items.sort(key=lambda item: str(item.name))  # a page holds its blobs, then its prefixes
        for item in items:
            name = str(item.name)
            if name.endswith("/"):  # a BlobPrefix: a folder
                yield {"name": f"{container}/{name.rstrip('/')}", "type": "directory", "size": 0, "version": ""}
            elif name != prefix:
                version = str(getattr(item, "etag", "") or getattr(item, "last_modified", "") or "")
                yield {"name": f"{container}/{name}", "type": "file", "size": int(item.size or 0), "version": version}
        if not token:
            return
