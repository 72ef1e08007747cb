"""Readers of the four JSON files (runner, settings, fileset, binning) with the reference schema.

Each reader takes a path (inside the data root), a parsed ``dict`` or an inline JSON string and
returns validated plain data; any problem raises :class:`~include.core.errors.ConfigError` (or
``ParamError`` for a path) naming the file and the key. Precedence (spec §1.2): the workflow's
constructor arguments are ``workflow_args`` overlaid with the settings keys the workflow accepts;
settings win; unknown settings keys are ignored with a warning.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from include.core.errors import ConfigError
from include.core.paths import reject_shell_metacharacters, resolve_inside
from include.tnp import expressions
from include.tnp.options import (
    NANOAOD_WORKFLOWS,
    PHOTON_WORKFLOWS,
    WORKFLOWS,
    TnPOptions,
    find_pt_threshold,
)

log = logging.getLogger(__name__)

REQUIRED = object()
_COMMON = {"cut_and_count": True, "mass_range": None, "vars": None, "uproot_options": None}
METHODS: dict[str, dict[str, Any]] = {
    "get_tnp_arrays": {**_COMMON, "flat": False},
    "get_passing_and_failing_probes": {"filter": REQUIRED, **_COMMON, "flat": False},
    "get_1d_pt_eta_phi_tnp_histograms": {
        "filter": REQUIRED,
        **_COMMON,
        "plateau_cut": None,
        "eta_regions_pt": None,
        "phi_regions_eta": None,
        "eta_regions_phi": None,
        "weight": "weight",
    },
    "get_nd_tnp_histograms": {"filter": REQUIRED, **_COMMON, "weight": "weight"},
}
REJECTED_METHOD_ARGS = ("compute", "scheduler", "progress")
RUNNER_KEYS = ("workflow", "workflow_args", "methods")

SETTINGS_TYPES: dict[str, tuple[type, ...]] = {
    "tags_pt_cut": (int, float),
    "probes_pt_cut": (int, float, type(None)),
    "tags_abseta_cut": (int, float),
    "probes_abseta_cut": (int, float),
    "cutbased_id": (str, type(None)),
    "extra_zcands_mask": (str, type(None)),
    "extra_filter": (str, type(None)),
    "extra_filter_args": (dict, type(None)),
    "use_sc_eta": (bool,),
    "use_sc_phi": (bool,),
    "avoid_ecal_transition_tags": (bool,),
    "avoid_ecal_transition_probes": (bool,),
    "require_event_to_pass_hlt_filter": (bool,),
    "start_from_diphotons": (bool,),
}
_PER_FILTER = ("trigger_pt", "filterbit", "is_photon_filter", "is_electron_filter")
_NTUPLE_SETTINGS = {k for k in SETTINGS_TYPES if k not in ("use_sc_phi", "require_event_to_pass_hlt_filter")}


def accepted_args(workflow: str) -> set[str]:
    """The constructor arguments a workflow accepts (what ``workflow_args`` and settings may set)."""
    if workflow in NANOAOD_WORKFLOWS:
        names = set(SETTINGS_TYPES) | {"filters", "trigger_pt", "filterbit", "goldenjson"}
        names |= {"is_electron_filter"} if workflow in PHOTON_WORKFLOWS else {"is_photon_filter"}
        if workflow not in PHOTON_WORKFLOWS:
            names.discard("start_from_diphotons")
        return names
    return (_NTUPLE_SETTINGS - {"start_from_diphotons"}) | {"filters", "goldenjson"}


# -- JSON sources -------------------------------------------------------------------------------


def read_json_source(source: Any, what: str, data_root: Path | None = None) -> tuple[Any, str]:
    """Parse ``source`` (dict, inline JSON text or a path inside ``data_root``); return (data, label)."""
    if isinstance(source, dict | list):
        return source, f"inline {what}"
    if not isinstance(source, str | Path) or not str(source).strip():
        raise ConfigError(f"{what}: expected a path, inline JSON or an object, got {source!r}")
    text = str(source).strip()
    if text.startswith(("{", "[")):
        try:
            return json.loads(text), f"inline {what}"
        except json.JSONDecodeError as exc:
            raise ConfigError(f"inline {what}: not valid JSON ({exc})") from exc
    reject_shell_metacharacters(text, what)
    path = resolve_inside(text, [data_root], what, must_exist=True) if data_root else Path(text)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw), str(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path}: file not found") from exc
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{what} {path}: not readable JSON ({exc})") from exc


# -- runner -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodCall:
    """One method to run for one filter: ``<method>_<k>`` in the output layout."""

    name: str
    k: int
    filter: str | None
    args: dict[str, Any]

    @property
    def folder(self) -> str:
        return f"{self.name}_{self.k}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "filter": self.filter, "args": self.args}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodCall:
        return cls(data["name"], int(data["k"]), data.get("filter"), dict(data.get("args", {})))


@dataclass
class Runner:
    """The runner file: workflow, its arguments and the methods (expanded per filter)."""

    workflow: str
    workflow_args: dict[str, Any]
    methods: list[MethodCall] = field(default_factory=list)
    source: str = ""


def _filters_dict(value: Any, label: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):
        value = {v: v for v in value}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{label}: workflow_args.filters must map names to expression strings")
    return dict(value)


def load_runner(source: Any, data_root: Path | None = None) -> Runner:
    """Read and validate the runner configuration."""
    data, label = read_json_source(source, "runner", data_root)
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: the runner must be a JSON object")
    unknown = sorted(set(data) - set(RUNNER_KEYS))
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {unknown}; allowed: {list(RUNNER_KEYS)}")
    workflow = data.get("workflow")
    if workflow not in WORKFLOWS:
        raise ConfigError(f"{label}: workflow {workflow!r} is not one of {', '.join(WORKFLOWS)}")
    wargs = data.get("workflow_args") or {}
    if not isinstance(wargs, dict):
        raise ConfigError(f"{label}: workflow_args must be an object")
    bad = sorted(set(wargs) - accepted_args(workflow))
    if bad:
        raise ConfigError(f"{label}: workflow_args key(s) {bad} not accepted by {workflow}")
    filters = _filters_dict(wargs.get("filters"), label)
    for name, expr in filters.items():
        if not expr.startswith("HLT_") and workflow in NANOAOD_WORKFLOWS:
            expressions.parse(expr, f"{label}: filter {name!r}")
    methods_raw = data.get("methods")
    if not isinstance(methods_raw, list) or not methods_raw:
        raise ConfigError(f"{label}: methods must be a non-empty list")
    counters: dict[str, int] = {}
    methods: list[MethodCall] = []
    for i, m in enumerate(methods_raw):
        if not isinstance(m, dict) or set(m) - {"name", "args"} or "name" not in m:
            raise ConfigError(f"{label}: methods[{i}] must be {{'name': ..., 'args': {{...}}}}")
        name, args = m["name"], m.get("args") or {}
        if name == "get_tnp_histograms":
            raise ConfigError(
                f"{label}: methods[{i}]: get_tnp_histograms does not exist; use get_1d_pt_eta_phi_tnp_histograms "
                "or get_nd_tnp_histograms"
            )
        if name not in METHODS:
            raise ConfigError(f"{label}: methods[{i}]: unknown method {name!r}; known: {', '.join(METHODS)}")
        if not isinstance(args, dict):
            raise ConfigError(f"{label}: methods[{i}].args must be an object")
        rejected = sorted(set(args) & set(REJECTED_METHOD_ARGS))
        if rejected:
            raise ConfigError(f"{label}: methods[{i}] ({name}): {rejected} may not be set in the runner file")
        unknown_args = sorted(set(args) - set(METHODS[name]))
        if unknown_args:
            raise ConfigError(f"{label}: methods[{i}] ({name}): unknown argument(s) {unknown_args}")
        full = {k: args.get(k, v) for k, v in METHODS[name].items() if k != "filter"}
        _check_method_args(full, f"{label}: methods[{i}] ({name})")
        counters[name] = counters.get(name, 0) + 1
        if "filter" in METHODS[name]:
            chosen = args.get("filter")
            if chosen is None:
                raise ConfigError(f"{label}: methods[{i}] ({name}): 'filter' is required")
            chosen = [chosen] if isinstance(chosen, str) else chosen
            if not isinstance(chosen, list) or not chosen:
                raise ConfigError(f"{label}: methods[{i}] ({name}): 'filter' must be a string or a list")
            for f in chosen:
                if f not in filters:
                    raise ConfigError(
                        f"{label}: methods[{i}] ({name}): unknown filter {f!r}; defined: {sorted(filters)}"
                    )
                methods.append(MethodCall(name, counters[name], f, full))
        else:
            methods.append(MethodCall(name, counters[name], None, full))
    return Runner(workflow, dict(wargs), methods, label)


def _check_method_args(args: dict[str, Any], label: str) -> None:
    vars_ = args.get("vars")
    if (
        vars_ is not None
        and vars_ != "all"
        and not (isinstance(vars_, list) and all(isinstance(v, str) for v in vars_))
    ):
        raise ConfigError(f"{label}: vars must be a list of names or 'all'")
    mr = args.get("mass_range")
    if mr is not None and not (
        isinstance(mr, int | float)
        or (isinstance(mr, list) and len(mr) == 2 and all(isinstance(x, int | float) for x in mr))
    ):
        raise ConfigError(f"{label}: mass_range must be a number or [lo, hi]")
    if not isinstance(args.get("cut_and_count"), bool):
        raise ConfigError(f"{label}: cut_and_count must be true or false")
    uo = args.get("uproot_options") or {}
    if not isinstance(uo, dict):
        raise ConfigError(f"{label}: uproot_options must be an object")
    report = uo.get("allow_read_errors_with_report", False)
    if not (isinstance(report, bool) or (isinstance(report, list) and all(isinstance(x, str) for x in report))):
        raise ConfigError(f"{label}: allow_read_errors_with_report must be true/false or a list of exception names")
    if isinstance(report, list):
        import builtins

        bad = [x for x in report if not isinstance(getattr(builtins, x, None), type)]
        if bad:
            raise ConfigError(f"{label}: allow_read_errors_with_report: {bad} are not builtin exceptions")


# -- settings -----------------------------------------------------------------------------------


def default_settings() -> dict[str, Any]:
    """The packaged default settings."""
    return json.loads(resources.files("include.tnp").joinpath("data/default_settings.json").read_text())


def load_settings_file(source: Any | None, data_root: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """Read a settings file (``None``: the packaged defaults); return (known settings, warnings)."""
    if source is None or source == "":
        return default_settings(), []
    data, label = read_json_source(source, "settings", data_root)
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: settings must be a JSON object")
    warnings = []
    settings = {}
    for key, value in data.items():
        if key not in SETTINGS_TYPES:
            warnings.append(f"{label}: unknown settings key {key!r} ignored")
            continue
        if not isinstance(value, SETTINGS_TYPES[key]) or (isinstance(value, bool) and bool not in SETTINGS_TYPES[key]):
            raise ConfigError(f"{label}: settings key {key!r} has the wrong type ({type(value).__name__})")
        settings[key] = value
    for message in warnings:
        log.warning(message)
    return settings, warnings


def _per_filter(value: Any, filters: dict[str, str], key: str) -> dict[str, Any]:
    if value is None:
        return {}
    names = list(filters)
    if isinstance(value, list):
        if len(value) != len(names):
            raise ConfigError(f"workflow_args.{key}: {len(value)} values for {len(names)} filters")
        return dict(zip(names, value, strict=True))
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConfigError(f"workflow_args.{key}: unknown filter name(s) {unknown}")
        return dict(value)
    raise ConfigError(f"workflow_args.{key}: expected a list or an object keyed by filter name")


def build_options(runner: Runner, settings: dict[str, Any], goldenjson: str | None = None) -> TnPOptions:
    """Constructor arguments: ``workflow_args`` overlaid with the accepted settings (settings win)."""
    accepted = accepted_args(runner.workflow)
    merged = dict(runner.workflow_args)
    for key, value in settings.items():
        if key in accepted:
            merged[key] = value
        else:
            log.warning("settings key %r is not used by %s; ignored", key, runner.workflow)
    filters = _filters_dict(merged.pop("filters", None), runner.source)
    kwargs: dict[str, Any] = {"workflow": runner.workflow, "filters": filters}
    for key in _PER_FILTER:
        kwargs[key] = _per_filter(merged.pop(key, None), filters, key)
    for name, expr in filters.items():
        if kwargs["trigger_pt"].get(name) is None and expr.startswith("HLT_"):
            kwargs["trigger_pt"][name] = find_pt_threshold(expr)
        if runner.workflow in NANOAOD_WORKFLOWS and expr.startswith("HLT_"):
            if kwargs["filterbit"].get(name) is None:
                raise ConfigError(f"workflow_args.filterbit: trigger filter {name!r} needs a TrigObj filter bit")
            if not kwargs["trigger_pt"].get(name):
                raise ConfigError(f"workflow_args.trigger_pt: trigger filter {name!r} needs a pt threshold")
    merged.pop("goldenjson", None)
    if merged.get("extra_filter_args") is None:
        merged["extra_filter_args"] = {}
    for key in ("cutbased_id", "extra_zcands_mask"):
        if merged.get(key) and runner.workflow in NANOAOD_WORKFLOWS:
            expressions.parse(merged[key], key)
    if merged.get("extra_filter") is not None and not re.match(r"^[^:]+\.py::[A-Za-z_]\w*$", merged["extra_filter"]):
        raise ConfigError(f"extra_filter {merged['extra_filter']!r} must be 'path/file.py::function'")
    return TnPOptions(**kwargs, **merged, goldenjson=goldenjson)


# -- fileset ------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """One dataset of the fileset."""

    name: str
    files: dict[str, str]  # resolved path or URL -> tree name
    metadata: dict[str, Any]

    @property
    def folder(self) -> str:
        return sanitise_dataset(self.name)


def sanitise_dataset(name: str) -> str:
    """Output folder name of a dataset: drop a leading ``/``, then ``/`` -> ``_``."""
    return name.removeprefix("/").replace("/", "_")


def load_fileset(source: Any, data_root: Path, limit: int | None = None) -> list[Dataset]:
    """Read the fileset; local paths are resolved (relative to the fileset's folder) inside the data root."""
    data, label = read_json_source(source, "fileset", data_root)
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{label}: the fileset must be a non-empty object of datasets")
    if limit is not None and limit == 0:
        raise ConfigError("limit: 0 files per dataset makes no sense (use -1 or null for no limit)")
    base = Path(label).parent if not label.startswith("inline") else data_root
    datasets = []
    for name, body in data.items():
        reject_shell_metacharacters(name, "fileset dataset name")
        if not isinstance(body, dict) or set(body) - {"files", "metadata"} or "files" not in body:
            raise ConfigError(f"{label}: dataset {name!r} must be {{'files': {{path: tree}}, 'metadata': {{...}}}}")
        files = body["files"]
        if not isinstance(files, dict) or not files:
            raise ConfigError(f"{label}: dataset {name!r}: files must be a non-empty object path -> tree name")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ConfigError(f"{label}: dataset {name!r}: metadata must be an object")
        if "isMC" in metadata and not isinstance(metadata["isMC"], bool):
            raise ConfigError(f"{label}: dataset {name!r}: metadata.isMC must be true or false")
        if "label" in metadata and not (isinstance(metadata["label"], str) and metadata["label"].strip()):
            raise ConfigError(
                f"{label}: dataset {name!r}: metadata.label (the plots' legend) must be a non-empty string"
            )
        resolved: dict[str, str] = {}
        for path, tree in files.items():
            if not isinstance(tree, str) or not tree:
                raise ConfigError(f"{label}: dataset {name!r}: tree name for {path!r} must be a string")
            reject_shell_metacharacters(tree, f"tree name of {path}")
            if "://" in path:
                reject_shell_metacharacters(path.replace("://", "", 1), "fileset file")
                resolved[path] = tree
            else:
                p = Path(path) if Path(path).is_absolute() else base / path
                resolved[str(resolve_inside(p, [data_root], f"fileset file of {name}"))] = tree
        if limit is not None and limit > 0:
            resolved = dict(list(resolved.items())[:limit])
        for key in ("goldenJSON", "pileupJSON"):
            if metadata.get(key):
                metadata[key] = str(
                    resolve_inside(Path(base, metadata[key]), [data_root], f"metadata.{key}", must_exist=True)
                )
        datasets.append(Dataset(name, resolved, metadata))
    return datasets


# -- binning ------------------------------------------------------------------------------------


def default_binning() -> dict[str, list[float]]:
    """The packaged default binning (a fresh copy: nothing global is ever modified)."""
    return json.loads(resources.files("include.tnp").joinpath("data/default_binning.json").read_text())


def load_binning(source: Any | None, data_root: Path | None = None) -> dict[str, list[float]]:
    """Defaults overlaid with a user binning file for this run only."""
    binning = default_binning()
    if source is None or source == "":
        return binning
    data, label = read_json_source(source, "binning", data_root)
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: binning must be an object of '<var>_bins': [edges]")
    for key, edges in data.items():
        if not key.endswith("_bins"):
            raise ConfigError(f"{label}: binning key {key!r} must end with '_bins'")
        if (
            not isinstance(edges, list)
            or len(edges) < 2
            or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges)
            or any(b <= a for a, b in itertools.pairwise(edges))
        ):
            raise ConfigError(f"{label}: {key} must be at least two strictly increasing numbers")
        binning[key] = [float(e) for e in edges]
    return binning


def bins_for(binning: dict[str, list[float]], var: str) -> list[float]:
    """The edges of ``var``; a histogrammed var without ``<var>_bins`` is an error."""
    key = f"{var}_bins"
    if key not in binning:
        raise ConfigError(f"binning: no {key!r} for the histogrammed variable {var!r}")
    return binning[key]
