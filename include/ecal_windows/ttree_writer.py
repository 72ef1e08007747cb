"""Write dumper branches as a real ROOT ``TTree`` (``recosimdumper/caloTree``) with ROOT itself.

What the CMS dumper writes is a TTree whose per-cluster hit and score branches are
``std::vector<std::vector<T>>``; uproot cannot write those into a TTree, so the generator's default
output is an RNTuple (:func:`include.ecal_windows.generator.write_dumper_file`). This module writes
the same branches into a TTree with ROOT, for tests, benchmarks and the demo: ROOT comes from the
``root`` wheel of ``requirements-test.txt`` and is **not** a dependency of the package or of the
deployment image. Without it, :func:`write_dumper_ttree` raises :class:`RootUnavailable`.

Branch types follow the arrays: a flat numpy array is a scalar leaf (``float``, ``double``, ``int``,
``Long64_t``), one list level a ``std::vector<T>``, two a ``std::vector<std::vector<T>>``. The
events are filled by a small C++ loop (cling) over the flat contents and offsets, not per value in
Python.

ROOT runs in a child process (``python -m include.ecal_windows.ttree_writer BRANCHES.parquet OUT``):
loaded into a process, it interposes C++ runtime symbols that other libraries use. With ROOT
imported in the test process, numpy's hash-based ``unique`` (called by matplotlib's ``savefig``)
never returned. The caller's process never imports ROOT.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from include.core import atomic
from include.core.steps import unit_lock
from include.ecal_windows import TREE_PATH

CXX_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double", np.dtype(np.int32): "int"}
CXX_TYPES[np.dtype(np.int64)] = "Long64_t"

_FILLER = r"""
#include <vector>
#include "TTree.h"
#ifdef __ROOTCLING__
#pragma link C++ class std::vector<std::vector<int> >+;
#pragma link C++ class std::vector<std::vector<Long64_t> >+;
#endif
namespace hep_dumper {
struct Column { virtual ~Column() {} virtual void load(Long64_t i) = 0; };
template <typename T> struct Scalar : Column {
  T value{}; const T* data;
  Scalar(TTree* t, const char* name, ULong64_t d) : data(reinterpret_cast<const T*>(d)) { t->Branch(name, &value); }
  void load(Long64_t i) override { value = data[i]; }
};
template <typename T> struct Vector : Column {
  std::vector<T> value; const T* data; const Long64_t* off;
  Vector(TTree* t, const char* name, ULong64_t d, ULong64_t o)
      : data(reinterpret_cast<const T*>(d)), off(reinterpret_cast<const Long64_t*>(o)) { t->Branch(name, &value); }
  void load(Long64_t i) override { value.assign(data + off[i], data + off[i + 1]); }
};
template <typename T> struct Vector2 : Column {
  std::vector<std::vector<T>> value; const T* data; const Long64_t* outer; const Long64_t* inner;
  Vector2(TTree* t, const char* name, ULong64_t d, ULong64_t o, ULong64_t in)
      : data(reinterpret_cast<const T*>(d)), outer(reinterpret_cast<const Long64_t*>(o)),
        inner(reinterpret_cast<const Long64_t*>(in)) { t->Branch(name, &value); }
  void load(Long64_t i) override {
    value.clear();
    for (Long64_t j = outer[i]; j < outer[i + 1]; ++j) value.emplace_back(data + inner[j], data + inner[j + 1]);
  }
};
inline void fill(TTree* t, std::vector<Column*>& columns, Long64_t n) {
  for (Long64_t i = 0; i < n; ++i) {
    for (auto* c : columns) c->load(i);
    t->Fill();
  }
}
}
"""


class RootUnavailable(RuntimeError):
    """ROOT (the ``root`` wheel of requirements-test.txt) is not installed here."""


def _build_dir(root: Any) -> Path:
    """Per ROOT version and filler source: ACLiC compiles the filler there once and reuses it."""
    key = hashlib.sha256(f"{root.gROOT.GetVersion()}\n{_FILLER}".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hep-productions" / "root-filler" / key


@lru_cache(maxsize=1)
def _root() -> Any:
    """ROOT with the filler compiled (ACLiC), which brings the vector<vector<int>> dictionary the
    TTree needs: ROOT ships compiled collection proxies for vector<vector<float|double>> only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the wheel warns that it is an alpha distribution
            import ROOT
    except ImportError as exc:
        raise RootUnavailable(
            "writing a TTree needs ROOT: pip install -r requirements-test.txt -c constraints-3.11.txt"
        ) from exc
    ROOT.gROOT.SetBatch(True)
    folder = _build_dir(ROOT)
    folder.mkdir(parents=True, exist_ok=True)
    with unit_lock(folder):  # concurrent processes compile it once
        source = folder / "hep_dumper_filler.cxx"
        if not source.exists():
            atomic.write_text(source, _FILLER)
        ROOT.gSystem.SetBuildDir(str(folder), True)
        if ROOT.gSystem.CompileMacro(str(source), "kO") != 1:
            raise RootUnavailable(f"ROOT could not compile the TTree filler {source} (is a C++ compiler installed?)")
    return ROOT


def root_available() -> bool:
    """True when ROOT is installed (tests skip the TTree cases otherwise); does not import it."""
    return importlib.util.find_spec("ROOT") is not None


def _offsets(counts: Any) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)


def _columns(branches: dict[str, Any]) -> list[tuple[str, str, list[np.ndarray]]]:
    """(name, template, [flat contents, outer offsets, inner offsets]) per branch, C-contiguous."""
    out = []
    for name, values in branches.items():
        if isinstance(values, np.ndarray):
            arrays, template = [np.ascontiguousarray(values)], "Scalar"
        else:
            array = ak.Array(values)
            depth = array.ndim - 1
            if depth == 1:
                arrays, template = [ak.to_numpy(ak.flatten(array)), _offsets(ak.num(array, axis=1))], "Vector"
            elif depth == 2:
                inner = ak.flatten(array, axis=1)
                flat = ak.to_numpy(ak.flatten(inner))
                arrays = [flat, _offsets(ak.num(array, axis=1)), _offsets(ak.num(inner, axis=1))]
                template = "Vector2"
            else:
                raise ValueError(f"branch {name!r}: {depth} list levels, a dumper branch has at most 2")
            arrays = [np.ascontiguousarray(a) for a in arrays]
        if arrays[0].dtype not in CXX_TYPES:
            raise ValueError(f"branch {name!r}: no C++ type for {arrays[0].dtype}")
        out.append((name, template, arrays))
    return out


def write_dumper_ttree(path: str | Path, branches: dict[str, Any]) -> Path:
    """Write ``branches`` (as :func:`generate_events` returns them) as the TTree ``recosimdumper/caloTree``.

    The branches go to the child process that runs ROOT as one parquet file. Atomic: the file appears
    complete under ``path`` or not at all.
    """
    if not root_available():
        raise RootUnavailable(
            "writing a TTree needs ROOT: pip install -r requirements-test.txt -c constraints-3.11.txt"
        )
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="hep-ttree-") as tmp:
        staged = Path(tmp) / "branches.parquet"
        ak.to_parquet(ak.zip(dict(branches), depth_limit=1), staged)
        proc = subprocess.run(
            [sys.executable, "-m", "include.ecal_windows.ttree_writer", str(staged), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RootUnavailable(f"writing the TTree {path} failed: {proc.stderr.strip()[-2000:]}")
    return path


def _branches_from_parquet(staged: Path) -> dict[str, Any]:
    events = ak.from_parquet(staged)
    return {name: ak.to_numpy(events[name]) if events[name].ndim == 1 else events[name] for name in events.fields}


def _write_in_this_process(path: Path, branches: dict[str, Any]) -> Path:
    root = _root()
    columns = _columns(branches)
    entries = {len(arrays[1]) - 1 if len(arrays) > 1 else len(arrays[0]) for _, _, arrays in columns}
    if len(entries) != 1:
        raise ValueError(f"branches disagree on the number of events: {sorted(entries)}")
    (n_events,) = entries
    folder, tree_name = TREE_PATH.split("/")
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        handle = root.TFile(str(tmp), "RECREATE")
        try:
            handle.mkdir(folder).cd()
            tree = root.TTree(tree_name, tree_name)
            root.SetOwnership(tree, False)  # the file owns the tree and deletes it on Close, not Python
            fillers = root.std.vector["hep_dumper::Column*"]()
            keep = []  # the C++ columns hold raw pointers into these arrays: keep both alive while filling
            for name, template, arrays in columns:
                cls = getattr(root.hep_dumper, template)[CXX_TYPES[arrays[0].dtype]]
                column = cls(tree, name, *(int(a.ctypes.data) for a in arrays))
                keep.append((column, arrays))
                fillers.push_back(column)
            root.hep_dumper.fill(tree, fillers, n_events)
            tree.Write()
        finally:
            handle.Close()
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m include.ecal_windows.ttree_writer BRANCHES.parquet OUT.root`` (the child process)."""
    staged, out = (argv if argv is not None else sys.argv[1:])[:2]
    _write_in_this_process(Path(out), _branches_from_parquet(Path(staged)))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The file is closed and in place. Leave without the interpreter's teardown: ROOT's and cppyy's
    # finalizers aborted this child with "double free or corruption" in some environments (not in
    # others, with the same wheel), which would turn a written file into a failure.
    os._exit(code)
