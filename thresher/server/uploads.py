"""Uploads: files and folders a remote client sends, stored once per content hash.

A client packs a path into a deterministic tar (sorted names, no times or owners: the same content
always packs to the same bytes), names it by its SHA-256, asks whether the server has it, and sends
it only if not. The server streams the body to a scratch file while hashing it, refuses it past the
size limit or when the hash differs from the name, unpacks it (refusing links and names that would
land outside the folder) and renames the folder into place: identical content is stored once, and a
half-received upload is never seen.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from thresher.errors import ConflictError, ResourceError, StorageError

_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: str) -> str:
    """The digest if it is a SHA-256 in hex; ResourceError otherwise."""
    if not _DIGEST.fullmatch(digest):
        raise ResourceError(
            f"Upload name {digest[:80]!r} is not a SHA-256 (64 lowercase hex digits).",
            fix="Name an upload by the SHA-256 of its packed bytes (thresher's client does).",
        )
    return digest


def stored(uploads: Path, digest: str) -> Path | None:
    """The path of the uploaded file or folder, if this content was uploaded."""
    folder = uploads / check_digest(digest)
    if not folder.is_dir():
        return None
    entries = sorted(folder.iterdir())
    return entries[0] if len(entries) == 1 else folder


async def receive(uploads: Path, digest: str, body: AsyncIterator[bytes], *, max_bytes: int) -> Path:
    """Store an upload streamed as ``body``; the path of what it unpacked to."""
    check_digest(digest)
    existing = stored(uploads, digest)
    if existing is not None:
        return existing
    uploads.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".incoming-", dir=uploads))
    try:
        packed = scratch / "upload.tar"
        hasher = hashlib.sha256()
        size = 0
        with open(packed, "wb") as handle:
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise ResourceError(
                        f"The upload is larger than the server's limit of {max_bytes:,} bytes.",
                        fix="Upload less (a .amlignore can leave files out), or raise THRESHER_UPLOAD_MAX_BYTES on "
                        "the server.",
                    )
                hasher.update(chunk)
                handle.write(chunk)
        if hasher.hexdigest() != digest:
            raise ConflictError(
                f"The upload's bytes hash to {hasher.hexdigest()}, not to its name {digest}; it was damaged or "
                "cut short on the way.",
                fix="Send it again.",
            )
        content = scratch / "content"
        content.mkdir()
        _unpack(packed, content)
        try:
            os.rename(content, uploads / digest)
        except OSError:
            if stored(uploads, digest) is None:  # not another upload of the same content winning the race
                raise
    except OSError as error:
        raise StorageError(
            f"The server could not store an upload: {error}", fix="Free space on the server's disk, then retry."
        ) from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = stored(uploads, digest)
    assert result is not None
    return result


def _unpack(packed: Path, into: Path) -> None:
    try:
        with tarfile.open(packed, mode="r:") as archive:
            for member in archive.getmembers():
                if not (member.isfile() or member.isdir()):
                    raise ResourceError(
                        f"The upload holds {member.name!r}, which is not a plain file or folder.",
                        fix="Upload folders of plain files (links are followed by thresher's client).",
                    )
            archive.extractall(into, filter="data")
    except tarfile.FilterError as refused:  # a name outside the folder, an absolute path, odd modes
        raise ResourceError(
            f"The upload holds an entry that would land outside its folder or is not allowed: {refused}",
            fix="Upload a folder packed with names relative to it (thresher's client does).",
        ) from None
    except tarfile.TarError as error:
        raise ResourceError(f"The upload is not a tar archive: {error}", fix="Send it packed as a tar.") from None
