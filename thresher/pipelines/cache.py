"""A step's cache key: everything that decides its outputs, as readable JSON, and its SHA-256.

A step is reused when a Completed step job anywhere in the workspace has the same key (the digest is
an indexed column) and its outputs still exist. The key names inputs by identity (an asset's
name:version; a local path with a cheap fingerprint of what it holds) or, for an upstream step's
output and for inputs that ask for it (``fingerprint: content``), by the SHA-256 of their bytes: so a
step that reran and wrote the same bytes leaves the steps after it reusable (early cutoff).

``explain`` turns the difference between two keys into sentences a user reads:
``code snapshot changed: src/prep.py``, ``parameter score_mode: 'append' -> 'overwrite'``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from thresher.pipelines.model import Binding, Step
from thresher.storage.fingerprint import content_hash, fingerprint

KEY_VERSION = 1


def input_identity(binding: Binding, upstream: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """How an input is named in the key. ``upstream`` is the producing step's recorded output."""
    if binding.kind == "literal":
        return {"value": binding.value}
    if binding.kind == "step_output":
        assert upstream is not None
        return {"from": f"{binding.step}.{binding.output}", "content": upstream.get("hash")}
    if binding.asset:
        identity: dict[str, Any] = {"asset": binding.asset}
    else:
        identity = {"path": binding.path}
    if binding.path and "://" not in binding.path and Path(binding.path).exists():
        local = Path(binding.path)
        if binding.fingerprint == "content":  # its bytes, wherever they are (an upload moves with each copy)
            identity = {"asset": binding.asset} if binding.asset else {"name": local.name}
            identity["content"] = content_hash(local)
        elif not binding.asset:  # a plain path: what it holds now, cheaply (sizes and change times)
            identity["fingerprint"] = fingerprint(local).hash
    if binding.mode:
        identity["mode"] = binding.mode
    return identity


def cache_key(step: Step, inputs: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The readable key of ``step`` given its inputs' identities (``input_identity``)."""
    parameters = {name: identity["value"] for name, identity in inputs.items() if "value" in identity}
    data = {name: identity for name, identity in inputs.items() if "value" not in identity}
    task = step.parallel
    run_settings: dict[str, Any] = {"environment_variables": dict(sorted(step.environment_variables.items()))}
    if task is not None:
        run_settings.update(
            mini_batch_size=task.mini_batch_size,
            error_threshold=task.error_threshold,
            mini_batch_error_threshold=task.mini_batch_error_threshold,
            logging_level=task.logging_level,
            append_row_to=task.append_row_to,
            partition_keys=list(task.partition_keys) if task.partition_keys else None,
        )
    return {
        "version": KEY_VERSION,
        "kind": step.type,
        "command": step.command if task is None else f"{task.entry_script} {task.program_arguments or ''}".strip(),
        "code": {"hash": step.code_hash, "files": dict(sorted(step.code_files.items()))},
        "environment": {"name": step.environment, "hash": step.environment_hash},
        "inputs": data,
        "parameters": parameters,
        "outputs": {name: {"type": o.type, "mode": o.mode, "path": o.path} for name, o in sorted(step.outputs.items())},
        "run_settings": run_settings,
        "is_deterministic": step.is_deterministic,
    }


def digest(key: Mapping[str, Any]) -> str:
    """The SHA-256 of a key (canonical JSON). An upstream output counts by its bytes only: which step wrote
    them (``from``, kept in the key for explanations) does not stop reuse."""
    hashed = dict(key)
    hashed["inputs"] = {
        name: {k: v for k, v in identity.items() if k != "from"} if "content" in identity else identity
        for name, identity in (key.get("inputs") or {}).items()
    }
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()


def explain(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why ``new`` differs from ``old``, one sentence per difference; empty when they are equal."""
    reasons: list[str] = []
    if old.get("kind") != new.get("kind"):
        reasons.append(f"step type changed: {old.get('kind')} -> {new.get('kind')}")
    if old.get("command") != new.get("command"):
        reasons.append(f"command changed: {old.get('command')!r} -> {new.get('command')!r}")
    reasons += _code(old.get("code") or {}, new.get("code") or {})
    old_env, new_env = old.get("environment") or {}, new.get("environment") or {}
    if old_env.get("name") != new_env.get("name"):
        reasons.append(
            f"environment changed: {old_env.get('name') or 'thresher own'} -> {new_env.get('name') or 'thresher own'}"
        )
    elif old_env.get("hash") != new_env.get("hash"):
        reasons.append(f"environment {new_env.get('name')} changed content")
    for name in sorted(set(old.get("parameters", {})) | set(new.get("parameters", {}))):
        before, after = old.get("parameters", {}).get(name, "<unset>"), new.get("parameters", {}).get(name, "<unset>")
        if before != after:
            reasons.append(f"parameter {name}: {before!r} -> {after!r}")
    for name in sorted(set(old.get("inputs", {})) | set(new.get("inputs", {}))):
        before, after = old.get("inputs", {}).get(name), new.get("inputs", {}).get(name)
        if before != after:
            reasons.append(_input_change(name, before, after))
    if old.get("outputs") != new.get("outputs"):
        reasons.append(f"output settings changed: {_changed(old.get('outputs'), new.get('outputs'))}")
    if old.get("run_settings") != new.get("run_settings"):
        reasons.append(f"run settings changed: {_changed(old.get('run_settings'), new.get('run_settings'))}")
    if old.get("is_deterministic") != new.get("is_deterministic"):
        reasons.append(f"is_deterministic changed: {old.get('is_deterministic')} -> {new.get('is_deterministic')}")
    if not reasons and old.get("version") != new.get("version"):
        reasons.append("the cache key's format changed (a newer thresher)")
    return reasons


def _code(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    if old.get("hash") == new.get("hash"):
        return []
    before, after = old.get("files") or {}, new.get("files") or {}
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    parts = [f"code snapshot changed: {', '.join(changed)}"] if changed else []
    if added:
        parts.append(f"code snapshot changed: added {', '.join(added)}")
    if removed:
        parts.append(f"code snapshot changed: removed {', '.join(removed)}")
    return parts or ["code snapshot changed"]


def _input_change(name: str, before: Any, after: Any) -> str:
    if before is None:
        return f"input {name} added: {_identity(after)}"
    if after is None:
        return f"input {name} removed (was {_identity(before)})"
    if before.get("from") and after.get("from") and before.get("content") != after.get("content"):
        return (
            f"input {name}: output {after['from']} of the step before holds other bytes "
            f"({str(before.get('content'))[:12]} -> {str(after.get('content'))[:12]})"
        )
    if _identity(before) == _identity(after):
        return f"input {name}: {_identity(after)} holds other files than before"
    return f"input {name}: {_identity(before)} -> {_identity(after)}"


def _identity(identity: Mapping[str, Any]) -> str:
    if "asset" in identity:
        return f"azureml:{identity['asset']}"
    if "from" in identity:
        return f"output {identity['from']}"
    return str(identity.get("path") or identity.get("name"))


def _changed(before: Any, after: Any) -> str:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return ", ".join(f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in keys)
    return f"{before!r} -> {after!r}"
