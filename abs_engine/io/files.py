"""Reading spec files: YAML or JSON in, one validated (frozen) spec out. Imports no kernel.

A file is refused (one :class:`SpecError` naming it) when it is not UTF-8, is larger than
:data:`MAX_SPEC_BYTES`, does not parse, or repeats a key in one mapping: YAML and JSON parsers
keep the last of two equal keys, so ``decimals: 6`` followed by ``decimals: 18`` would silently
mean 18. The error names the key's path and both line numbers.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel

from ..errors import SpecError
from ..spec.base import validate_spec

__all__ = ["read_structured_file", "parse_structured_text", "load_spec", "read_table", "read_arrow_table",
           "unique_columns", "MAX_SPEC_BYTES", "write_atomic", "write_file_set", "file_mode", "fsync_dir"]

M = TypeVar("M", bound=BaseModel)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

MAX_SPEC_BYTES = 16 * 2**20
"""Largest deal, scenario, deck, collections or settlement file read (16 MiB): a spec is a page
of YAML; tapes and holder lists are separate CSV/Parquet files."""


class _DuplicateKey(Exception):
    def __init__(self, path: str, key: object, first: int, second: int):
        self.path, self.key, self.first, self.second = path, key, first, second


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (on libyaml's parser where PyYAML has it: a deck of a few hundred numbers
    reads in about a millisecond instead of ten); mappings are checked for repeated keys before
    construction."""


def _key_path(parent: str, key: object) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]" if parent == "" else f"{parent}.{key}"
    return f"{parent}.{key}" if parent else str(key)


def _check_duplicates(loader: _Loader, node: yaml.Node, path: str) -> None:
    """Walk the composed document; raise :class:`_DuplicateKey` at the first repeated key."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            same = str(key)   # 1 and "1" are one key to a spec (a chain id, a period)
            if same in seen:
                raise _DuplicateKey(_key_path(path, key), key, seen[same], line)
            seen[same] = line
            _check_duplicates(loader, value_node, _key_path(path, key))
    elif isinstance(node, yaml.SequenceNode):
        for k, item in enumerate(node.value):
            _check_duplicates(loader, item, f"{path}[{k}]")


def _load_yaml(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicates(loader, node, "")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _load_json(text: str) -> Any:
    repeated: list[object] = []

    def pairs(items: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for k, v in items:
            if k in out and not repeated:
                repeated.append(k)
            out[k] = v
        return out

    data = json.loads(text, object_pairs_hook=pairs, parse_constant=_no_constant)
    if repeated:
        try:  # JSON is YAML's flow style: the YAML walk finds the path and both lines
            _load_yaml(text)
        except _DuplicateKey:
            raise
        except Exception:  # noqa: BLE001 - a JSON YAML cannot read: name the key without lines
            pass
        raise _DuplicateKey(str(repeated[0]), repeated[0], 0, 0)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_structured_text(text: str, *, json_format: bool, file: str | None = None) -> Any:
    """Parse YAML (or JSON) ``text``, refusing repeated keys. Errors are :class:`SpecError`."""
    try:
        return _load_json(text) if json_format else _load_yaml(text)
    except _DuplicateKey as dup:
        lines = f" (lines {dup.first} and {dup.second})" if dup.first else ""
        raise SpecError(dup.path, dup.key, f"each key once in a mapping: it is given twice{lines}",
                        file=file) from None
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        detail = " ".join(str(exc).split())
        raise SpecError("", type(exc).__name__, f"valid {'JSON' if json_format else 'YAML'} ({detail})",
                        file=file) from None


def read_structured_file(path: str | os.PathLike[str]) -> Any:
    """Read a YAML or JSON file (see the module doc). Errors are :class:`SpecError`."""
    p = Path(path)
    if not p.is_file():
        raise SpecError("", str(p), "an existing file", file=str(p))
    size = p.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError("", f"{size:,} bytes", f"a spec file of at most {MAX_SPEC_BYTES:,} bytes (loan tapes and "
                        "holder lists go in CSV or Parquet files beside it)", file=str(p))
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError("", f"byte 0x{raw[exc.start]:02x} at offset {exc.start}", "a UTF-8 text file",
                        file=str(p)) from None
    return parse_structured_text(text, json_format=p.suffix.lower() == ".json", file=str(p))


def read_table(path: Path, dtypes: dict[str, type] | type, what: str) -> pd.DataFrame:
    """A CSV or Parquet table (by its extension) as a DataFrame, for tapes of loans and of
    collections. A repeated column name is refused (pandas would rename the second ``rate.1``
    and read the first); so is a file that is not UTF-8 CSV or Parquet."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    file = str(path)
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        if parquet:
            import pyarrow.parquet as pq  # deferred: only Parquet files need pyarrow

            names = list(pq.read_schema(path).names)
        else:
            with open(path, encoding="utf-8", newline="") as f:
                names = next(csv.reader(f), [])
        unique_columns([str(c).strip() for c in names], file)
        if parquet:
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=dtypes, keep_default_na=True, encoding="utf-8")
    except SpecError:
        raise
    except UnicodeDecodeError as exc:
        raise SpecError("", f"byte at offset {exc.start}", f"a UTF-8 CSV {what}", file=file) from None
    except Exception as exc:  # noqa: BLE001 - an unreadable file is bad input
        detail = " ".join(str(exc).split())[:200]
        raise SpecError("", type(exc).__name__, f"a readable CSV or Parquet {what} ({detail})", file=file) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_arrow_table(path: Path, dtypes: dict[str, type], what: str, columns: tuple[str, ...],
                     dictionary: tuple[str, ...] = ()) -> tuple[pa.Table, list[str]]:
    """A CSV or Parquet table as an Arrow table of the ``columns`` it has (names stripped), and
    the names of all its columns, for
    tapes of millions of rows: a Parquet file's columns are read as they are stored, without a
    Python object per cell, the ``dictionary`` columns (few distinct values) dictionary-encoded;
    a CSV file is read as :func:`read_table` reads it. Refused as :func:`read_table` refuses."""
    import pyarrow as pa  # deferred: only tapes need Arrow
    import pyarrow.parquet as pq  # deferred: as pyarrow

    file = str(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        frame = read_table(path, dtypes, what)
        return pa.Table.from_pandas(frame[[c for c in frame.columns if c in columns]], preserve_index=False), list(
            frame.columns)
    try:
        raw = pq.read_schema(path).names
        names = [str(c).strip() for c in raw]
        unique_columns(names, file)
        # pre_buffer=False: column chunks are read as decoded, not all buffered first (-50 MB at 4M loans)
        table = pq.read_table(path, columns=[r for r, c in zip(raw, names, strict=True) if c in columns],
                              pre_buffer=False,
                              read_dictionary=[r for r, c in zip(raw, names, strict=True) if c in dictionary])
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable file is bad input
        detail = " ".join(str(exc).split())[:200]
        raise SpecError("", type(exc).__name__, f"a readable CSV or Parquet {what} ({detail})", file=file) from None
    pa.default_memory_pool().release_unused()  # the decoder's freed buffers back to the system
    return table.rename_columns([str(c).strip() for c in table.column_names]), names


def unique_columns(names: list[str], file: str | None) -> None:
    """Refuse a repeated column name (:class:`SpecError` naming both positions)."""
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name in seen:
            raise SpecError("columns", name, f"each column once (columns {seen[name] + 1} and {k + 1} are both "
                            f"named {name!r})", file=file)
        seen[name] = k


def load_spec(model: type[M], source: str | os.PathLike[str] | Mapping[str, Any] | M,
              data: Any = None) -> tuple[M, Path | None]:
    """Validate ``source`` (a path, a dict or a model) as ``model``; ``data``: a path's content,
    when the caller has already read it.

    Returns the model and the file it came from (``None`` for a dict). Errors are
    :class:`SpecError` naming the file, field path, value and expectation.
    """
    if isinstance(source, model):
        return source, None
    file: Path | None = None
    if isinstance(source, str | os.PathLike):
        file = Path(source)
        data = read_structured_file(file) if data is None else data
    else:
        data = source
    return validate_spec(model, data, str(file) if file else None), file


# ---------------------------------------------------------------- writing files whole


def file_mode(base: int = 0o666) -> int:
    """An ordinary new file's (``0o666``) or folder's (``0o777``) mode under the process umask;
    ``mkstemp`` and ``mkdtemp`` would leave 0600 and 0700."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(out: str, write) -> None:
    """``write(path)`` to a temp file beside ``out``, fsync it, give it an ordinary mode and rename it
    into place: a failed run leaves no partial file."""
    target = Path(out)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".abs-engine-",
                               suffix=target.suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_file_set(out: Path, texts: dict[str, str]) -> None:
    """Write a set of files into folder ``out``: all of them into a temporary folder beside it,
    each fsync'd, with ordinary modes; then a new ``out`` is that folder renamed (the set appears
    at once), and an existing one receives each file by an atomic rename."""
    parent = out.parent if str(out.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.tmp-"))
    try:
        for name, text in texts.items():
            with open(tmp / name, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp / name, file_mode())
        fsync_dir(tmp)
        if not out.exists():
            os.chmod(tmp, file_mode(0o777))
            os.replace(tmp, out)
        else:
            for name in texts:
                os.replace(tmp / name, out / name)
            tmp.rmdir()
        fsync_dir(out)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
