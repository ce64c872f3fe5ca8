"""Zip archives written the same way every time, so the same model gives the same bytes.

skops and torch.save both write zip files, and both put something of the moment into them:
skops the time of writing in every entry's header and the memory address (`id()`) of every
object it saved as that object's `__id__` and file name; torch a random `serialization_id`
record. Two identical trainings then store different bytes (and a different sha256), so
identical models are never deduplicated. `canonical_zip` rewrites an archive entry by entry,
in its own order, with its own compression, under a fixed date and with the named records
replaced; `canonical_skops` also numbers skops' ids and files in the order the schema first
names them. What the libraries read back is unchanged: ids only pair up references to one
object, file names only point from the schema to an entry.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

# The earliest date a zip header can hold: no moment of writing in the artifact.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def canonical_zip(data: bytes, *, replace: Mapping[str, bytes] | None = None) -> bytes:
    """`data` (a zip archive) rewritten with fixed entry dates and no per-write metadata;
    entries whose name ends with a key of `replace` get that key's contents instead."""
    replace = replace or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            contents = next(
                (value for suffix, value in replace.items() if entry.filename.endswith(suffix)),
                None,
            )
            if contents is None:
                contents = source.read(entry)
            _write(target, entry.filename, contents, entry.compress_type)
    return buffer.getvalue()


def canonical_skops(data: bytes) -> bytes:
    """A skops archive with its ids and file names numbered in schema order, entries dated
    FIXED_DATE_TIME; the object skops.io.loads rebuilds from it is the same."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, list):
            return [renumber(item) for item in node]
        if not isinstance(node, dict):
            return node
        renamed = {}
        is_node = "__loader__" in node  # a user's dict key named "file" is left alone
        for key, value in node.items():
            if is_node and key == "__id__" and isinstance(value, int):
                value = ids.setdefault(value, len(ids) + 1)
            elif is_node and key == "file" and isinstance(value, str):
                value = files.setdefault(value, f"{len(files) + 1}{PurePosixPath(value).suffix}")
            else:
                value = renumber(value)
            renamed[key] = value
        return renamed

    # skops writes schema.json with json.dumps(state, indent=2): the same layout, new numbers.
    canonical_schema = json.dumps(renumber(schema), indent=2).encode()
    compression = {entry.filename: entry.compress_type for entry in source.infolist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for old_name, new_name in files.items():
            _write(target, new_name, source.read(old_name), compression[old_name])
        _write(target, "schema.json", canonical_schema, compression["schema.json"])
    return buffer.getvalue()


def _write(target: zipfile.ZipFile, name: str, contents: bytes, compress_type: int) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16  # a plain file, whatever the writer's umask was
    target.writestr(info, contents)
