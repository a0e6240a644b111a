"""One Arrow table in one Parquet file, written atomically and read back only when whole.

The store's month files (:mod:`csframe.store`) and the frame cache's window files
(:mod:`csframe.framecache`) are both written here. A file is written under a dot-name
in its folder (readers such as pyarrow, DuckDB and Spark skip those), flushed to disk,
then renamed over the target, so a reader sees the old file or the new one, never half
of one. Each file records its row count and Arrow schema in the Parquet metadata, with
page checksums: :func:`read_table` raises :class:`DamagedFile` for a truncated, corrupted
or foreign file instead of returning what it could decode.

Example::

    from csframe import partfile
    partfile.write_table(Path("data/sms/month=2026-01/part.parquet"), table)
    table = partfile.read_table(Path("data/sms/month=2026-01/part.parquet"))
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROWS_KEY = b"csframe.rows"
SCHEMA_KEY = b"csframe.schema"

# The process's umask, read once: files that are not private get the mode a plain open()
# would give them (mkstemp creates 0600).
_UMASK = os.umask(0)
os.umask(_UMASK)


class DamagedFile(Exception):
    """A part file that cannot be trusted (truncated, corrupted, or not written here)."""


def write_table(
    path: Path,
    table: pa.Table,
    *,
    metadata: Mapping[str, str] | None = None,
    private: bool = False,
    compression: str = "zstd",
) -> Path:
    """Replace ``path`` atomically with ``table`` (Parquet, page checksums, its row count
    and schema in the file's metadata; ``metadata`` adds string pairs read back by
    :func:`read_table`'s ``expect``). ``private``: folders 0700 and the file 0600.

    Example::

        write_table(Path("/tmp/x/part.parquet"), pa.table({"a": [1, 2]}), private=True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    meta = dict(table.schema.metadata or {})
    meta[ROWS_KEY] = str(table.num_rows).encode()
    meta[SCHEMA_KEY] = base64.b64encode(table.schema.remove_metadata().serialize().to_pybytes())
    for key, value in (metadata or {}).items():
        meta[key.encode()] = value.encode()
    table = table.replace_schema_metadata(meta)
    # written by Arrow's own file (a Python file object would pass every page through
    # Python bytes objects, on the writer thread)
    with _replacing(path, private) as tmp:
        pq.write_table(table, str(tmp), compression=compression, write_page_checksum=True)
    return path


def read_table(
    path: Path,
    *,
    columns: list[str] | None = None,
    expect: Mapping[str, str] | None = None,
) -> pa.Table:
    """The table written to ``path`` by :func:`write_table`, with its Arrow types as
    written (``columns``: only those that exist). Raises :class:`DamagedFile` when the file
    is unreadable, has lost rows, or its ``expect`` metadata differs (another version or
    another server wrote it); FileNotFoundError when there is no file.

    Example::

        read_table(path, expect={"csframe.namespace": "http://127.0.0.1:8765/v3#3f9c"})
    """
    try:
        # one open for metadata and data (pq.read_table would go through the dataset layer)
        with pq.ParquetFile(path, memory_map=True, page_checksum_verification=True) as pf:
            kv = pf.metadata.metadata or {}
            rows = int(kv[ROWS_KEY])
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(kv[SCHEMA_KEY])))
            for key, value in (expect or {}).items():
                if kv.get(key.encode()) != value.encode():
                    found = kv.get(key.encode())
                    raise DamagedFile(f"{path}: {key} is {found!r}, not {value!r}")
            if pf.metadata.num_rows != rows:
                raise DamagedFile(f"{path}: {pf.metadata.num_rows} rows where {rows} were written")
            if columns is not None:
                columns = [c for c in columns if c in schema.names]
                schema = pa.schema([schema.field(c) for c in columns])
            table = pf.read(columns=columns)
        if table.num_rows != rows:
            raise DamagedFile(f"{path}: {table.num_rows} rows read where {rows} were written")
        # Parquet has no seconds unit (timestamps come back in ms): the types as written
        return table.replace_schema_metadata(None).cast(schema)
    except FileNotFoundError:
        raise
    except DamagedFile:
        raise
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException) as exc:
        raise DamagedFile(f"{path}: {type(exc).__name__}: {exc}") from None


def atomic_write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically (a dot-named temporary file, flushed to
    disk, then renamed over it).

    Example::

        atomic_write_bytes(Path("data/sms/_csframe_sync.json"), b"{}")
    """
    with _replacing(Path(path), private) as tmp:
        tmp.write_bytes(data)


@contextmanager
def _replacing(path: Path, private: bool) -> Iterator[Path]:
    """A temporary file next to ``path`` (made 0600) that replaces it, once flushed to
    disk, when the block ends without error."""
    # ".<name>.<random>.<pid>.tmp": a dot file, unique per writer, whose pid lets
    # store.remove_stale_temp_files tell a dead writer's leftovers from a live one's.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".{os.getpid()}.tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if not private:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
