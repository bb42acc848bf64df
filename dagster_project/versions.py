"""The content-hash rule that decides what a build recomputes, shared by every entry point.

Each materializable asset has a *fingerprint*: a hash of its code version, of the raw files it reads
(assets whose metadata names `carbonpanel/source_folder`) and of its parents' fingerprints. A run records
the fingerprint of every asset it materialized in `meta.asset_state` of the warehouse it publishes (the
`Warehouse` resource does this at the end of the run, so assets need no code for it). An asset is stale
when its fingerprint differs from the recorded one: a build with nothing changed selects nothing, and a
change to one source file selects only that source's downstream.

Analyses can also skip at run time when the frame they estimate on did not change although an upstream
table was rebuilt (`input_digest` + `inputs_unchanged`): they yield an observation tagged
`carbonpanel/inputs_unchanged` instead of a materialization.

How an asset takes part: give it a `code_version` (e.g. `code_version_of(module file, design yaml)`);
ingestion assets add `metadata={"carbonpanel/source_folder": "<subdir of the raw folder>"}`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

SOURCE_FOLDER = "carbonpanel/source_folder"
INPUT_DIGEST = "carbonpanel/input_digest"
INPUTS_UNCHANGED = "carbonpanel/inputs_unchanged"
STATE_DDL = """
create table if not exists meta.asset_state (
    asset_key varchar primary key, fingerprint varchar, input_digest varchar, run_id varchar,
    built_at timestamp default current_timestamp
)"""


def code_version_of(*paths: Path | str) -> str:
    """A code version from the content of the files that define an asset (modules, YAML designs)."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digests(folder: Path, *, previous: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """`relative path -> {sha256, sig}` for every file under `folder` (hidden files excluded).

    The stat signature (size, mtime, ctime, inode) only saves re-hashing an untouched file: `cp -p`
    keeps the mtime but changes the ctime, so a copied older file is hashed again and noticed.
    """
    out: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return out
    prev = previous or {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            st = path.stat()
            sig = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            rel = path.relative_to(folder).as_posix()
            old = prev.get(rel)
            out[rel] = {"sha256": old["sha256"] if old and old.get("sig") == sig else file_sha256(path), "sig": sig}
    return out


def folder_digest(digests: dict[str, dict[str, Any]], subdir: str) -> str:
    """The digest of one source folder: names and contents of its files (deletions change it)."""
    prefix = subdir.rstrip("/") + "/"
    h = hashlib.sha256()
    for rel in sorted(r for r in digests if r.startswith(prefix)):
        h.update(f"{rel}\0{digests[rel]['sha256']}\n".encode())
    return h.hexdigest()


def _fingerprint(node: Any, files: dict[str, dict[str, Any]], parent_fp: dict[dg.AssetKey, str]) -> str:
    """Hash of an asset's key, code version, source folder content and its parents' fingerprints."""
    h = hashlib.sha256(node.key.to_user_string().encode())
    h.update(f"\0{node.code_version or ''}".encode())
    folder = (node.metadata or {}).get(SOURCE_FOLDER)
    if folder:
        sub = str(getattr(folder, "value", folder))
        h.update(f"\0{sub}:{folder_digest(files, sub)}".encode())
    for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string()):
        h.update(f"\0{parent.to_user_string()}={parent_fp.get(parent, '')}".encode())
    return h.hexdigest()


def fingerprints(asset_graph: Any, raw_dir: Path, *, digests: dict[str, dict[str, Any]] | None = None,
                 built: set[dg.AssetKey] | None = None, stored: dict[str, tuple[str, str]] | None = None
                 ) -> dict[dg.AssetKey, str]:
    """The fingerprint of every materializable asset, in topological order (a Merkle hash).

    Planning (`built` None): what every asset's fingerprint would be if the whole graph were current.
    Recording (`built` = the assets a run brought up to date): a parent the run did not build contributes
    the fingerprint recorded for it, so a child built on an out-of-date parent stays stale until the parent
    is rebuilt.
    """
    files = digests if digests is not None else file_digests(raw_dir)
    out: dict[dg.AssetKey, str] = {}
    lookup: dict[dg.AssetKey, str] = {}
    for key in asset_graph.toposorted_asset_keys:
        node = asset_graph.get(key)
        if not node.is_materializable:
            continue
        out[key] = _fingerprint(node, files, lookup)
        if built is None or key in built:
            lookup[key] = out[key]
        else:
            lookup[key] = (stored or {}).get(key.to_user_string(), ("", ""))[0]
    return out


def read_state(warehouse: Path, *, conn: duckdb.DuckDBPyConnection | None = None) -> dict[str, tuple[str, str]]:
    """`asset key -> (fingerprint, input digest)` recorded in a warehouse (empty when it has none)."""
    if conn is None and not warehouse.exists():
        return {}
    own = conn is None
    import duckdb  # imported when used: loading the definitions stays light

    c = conn or duckdb.connect(str(warehouse), read_only=True)
    try:
        has = c.execute("select count(*) from information_schema.tables where table_schema = 'meta' "
                        "and table_name = 'asset_state'").fetchone()[0]
        if not has:
            return {}
        return {k: (f, d) for k, f, d in c.execute("select asset_key, fingerprint, input_digest from meta.asset_state")
                .fetchall()}
    finally:
        if own:
            c.close()


def record_state(conn: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, str, str | None]], *, run_id: str) -> None:
    """Upsert `(asset key, fingerprint, input digest)` rows into meta.asset_state."""
    conn.execute("create schema if not exists meta")
    conn.execute(STATE_DDL)
    conn.executemany("insert or replace into meta.asset_state (asset_key, fingerprint, input_digest, run_id) "
                     "values (?, ?, ?, ?)", [(k, f, d, run_id) for k, f, d in rows])


def stale_keys(asset_graph: Any, warehouse: Path, raw_dir: Path) -> list[dg.AssetKey]:
    """Materializable assets whose fingerprint differs from the one the published warehouse recorded."""
    stored = read_state(warehouse)
    current = fingerprints(asset_graph, raw_dir)
    return [k for k, fp in current.items() if stored.get(k.to_user_string(), ("", ""))[0] != fp]


def input_digest(*frames: pd.DataFrame, code_version: str = "") -> str:
    """A hash of the frames an analysis estimates on, robust to float noise below 12 significant digits."""
    import numpy as np
    import pandas as pd

    h = hashlib.sha256(code_version.encode())
    for df in frames:
        h.update("|".join(f"{c}:{t}" for c, t in df.dtypes.astype(str).items()).encode())
        cols = {}
        for c in df.columns:
            s = df[c]
            if pd.api.types.is_float_dtype(s):
                x = s.to_numpy(dtype="float64", na_value=np.nan)
                with np.errstate(divide="ignore", invalid="ignore"):
                    e = np.where(np.isfinite(x) & (x != 0), np.floor(np.log10(np.abs(x))), 0)
                    m = np.where(np.isfinite(x), np.round(x / 10.0 ** e * 1e11), 0)
                cols[c] = pd.Series(m.astype("int64") * 1000 + e.astype("int64") + np.isnan(x) * 7, index=s.index)
            else:
                cols[c] = s
        hashed = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False)
        h.update(hashed.to_numpy().tobytes())
    return h.hexdigest()


def inputs_unchanged(context: dg.AssetExecutionContext, conn: duckdb.DuckDBPyConnection, digest: str) -> bool:
    """Whether this asset's last published build used exactly these inputs (then it need not recompute)."""
    stored = read_state(Path(), conn=conn).get(context.asset_key.to_user_string())
    return stored is not None and stored[1] == digest


def unchanged_observation(context: dg.AssetExecutionContext, digest: str) -> dg.AssetObservation:
    """The event an analysis yields instead of recomputing: its inputs are the ones it was last built on."""
    context.log.info(f"{context.asset_key.to_user_string()}: inputs unchanged since the last build; not recomputed")
    return dg.AssetObservation(asset_key=context.asset_key, metadata={INPUTS_UNCHANGED: True, INPUT_DIGEST: digest})
