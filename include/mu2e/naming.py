"""Mu2e names and the values typed into the trigger form: tags, datasets, files, livetimes, seeds.

Spec §10: file names have six dot-separated fields ``tier.owner.description.configuration.sequencer.format``
(alphanumerics, ``-``, ``_``); a dataset name drops the sequencer. Ensemble tags are
``MDS<generation><letter>`` (MDS1a–g, MDS2a–c, MDS3a–c, ...).
"""

from __future__ import annotations

import hashlib
import math
import re

from include.core.errors import ParamError

TAG_PATTERN = r"^MDS[1-9][0-9]?[a-z]$"
CONFIG_PATTERN = r"^[A-Z]{3}[0-9]{4}[a-z]{1,3}$"
LIVETIME_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\s*(s|min|h|d)\s*$"
TIERS = ("sim", "dts", "dig", "mcs", "nts", "cnf", "etc")
_FIELD = re.compile(r"^[A-Za-z0-9_-]+$")
LIVETIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
MAX_LIVETIME_S = 1.0e8  # ~3 years: longer than the whole run plan, certainly a typo


def check_tag(tag: str) -> str:
    """An ensemble tag ``MDS<generation><letter>`` (e.g. ``MDS3c``)."""
    if not isinstance(tag, str) or not re.match(TAG_PATTERN, tag):
        raise ParamError("tag", f"{tag!r} does not follow the Mu2e naming rule MDS<generation><letter>, e.g. MDS3c")
    return tag


def check_configuration(value: str, param: str) -> str:
    """A dataset configuration ``<campaign><version>``, e.g. ``MDC2025af``."""
    if not isinstance(value, str) or not re.match(CONFIG_PATTERN, value):
        raise ParamError(param, f"{value!r} is not a configuration like MDC2025af")
    return value


def parse_livetime(text: str | float | int) -> float:
    """Seconds from ``"1 h"``, ``"3600 s"``, ``"30 min"``, ``"2 d"`` (a bare number is seconds)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = re.match(LIVETIME_PATTERN, str(text))
        if not match:
            raise ParamError("livetime", f"{text!r} is not a positive number with a unit (s, min, h, d), e.g. '1 h'")
        number = str(text).strip()[: -len(match.group(3))].strip()
        seconds = float(number) * LIVETIME_UNITS[match.group(3)]
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_LIVETIME_S):
        raise ParamError("livetime", f"{seconds} s must be > 0 and at most {MAX_LIVETIME_S:g} s")
    return seconds


def file_name(tier: str, owner: str, description: str, configuration: str, sequencer: str, fmt: str) -> str:
    """A six-field Mu2e file name; each field is checked."""
    fields = (tier, owner, description, configuration, sequencer, fmt)
    if tier not in TIERS:
        raise ParamError("tier", f"{tier!r} is not one of {', '.join(TIERS)}")
    for value in fields:
        if not _FIELD.match(value):
            raise ParamError("file name", f"field {value!r} holds characters other than letters, digits, - and _")
    return ".".join(fields)


def dataset_of(filename: str) -> str:
    """The dataset name of a file: the file name without its sequencer field."""
    parts = filename.split(".")
    if len(parts) != 6 or not all(_FIELD.match(p) for p in parts):
        raise ParamError("file name", f"{filename!r} does not have six fields tier.owner.desc.conf.seq.format")
    return ".".join(parts[:4] + parts[5:])


def sequencer(run: int, subrun: int) -> str:
    """``%06d_%08d`` % (run, subrun)."""
    return f"{run:06d}_{subrun:08d}"


def derive_seed(tag: str, stage: str, index: int, base: int = 0) -> int:
    """A reproducible 31-bit seed from (tag, stage, job index, base seed); never 0."""
    digest = hashlib.sha256(f"{tag}:{stage}:{index}:{base}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2147483646 + 1
