"""Which versions of the instrumented libraries are installed, read fast.

Every instrumentor checks its library's version before it instruments. ``importlib.metadata.version`` (what
OpenTelemetry's dependency check calls) parses the distribution's whole METADATA file, long description
included, with the email parser: with dozens of libraries installed that was most of ``instrument()``'s
start-up time (issue 17). Installers name a distribution's metadata directory ``{name}-{version}.dist-info``
(``{name}-{version}-py{X.Y}.egg-info`` for legacy installs), so one directory listing per ``sys.path`` entry
tells every version. Anything that listing cannot answer exactly as importlib.metadata would -- another
distribution finder, a zip or egg on the path, two candidates in one directory, a name without a version --
is left to importlib.metadata.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.instrumentation.dependencies import DependencyConflict

_logger = logging.getLogger(__name__)

#: path entry -> (its mtime, normalized name -> the versions named in that directory)
_listings: dict[str, tuple[int, dict[str, list[str]]]] = {}


def _normalize(name: str) -> str:
    """importlib.metadata's normalization (``Prepared.normalize``), for requirement and directory names."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _listing(entry: str) -> dict[str, list[str]] | None:
    """The versions named by ``entry``'s metadata directories; ``None`` when only importlib.metadata can
    read the entry (a zip or egg); empty when it does not exist."""
    path = entry or "."
    try:
        status = os.stat(path)
    except OSError:
        return {}  # absent: importlib.metadata finds nothing there either
    if path.endswith(".egg") or not stat.S_ISDIR(status.st_mode):
        return None
    cached = _listings.get(entry)
    if cached is not None and cached[0] == status.st_mtime_ns:
        return cached[1]
    versions: dict[str, list[str]] = {}
    try:
        children = os.listdir(path)
    except OSError:
        return {}
    for child in children:
        stem, _, suffix = child.rpartition(".")
        suffix = suffix.lower()
        if suffix not in ("dist-info", "egg-info"):
            continue
        name, _, version = stem.partition("-")
        if suffix == "egg-info":
            version = version.partition("-")[0]  # name-version-pyX.Y
        elif "-" in version:
            version = ""  # not an installer's name: left to importlib.metadata
        versions.setdefault(_normalize(name), []).append(version)
    _listings[entry] = (status.st_mtime_ns, versions)
    return versions


def _only_the_path_finder_has_distributions() -> bool:
    from importlib.machinery import PathFinder

    return all(finder is PathFinder for finder in sys.meta_path if hasattr(finder, "find_distributions"))


def _listed_version(name: str) -> str | None:
    """The version importlib.metadata would report for ``name``, if the directory listings tell it."""
    if not _only_the_path_finder_has_distributions():
        return None
    normalized = _normalize(name)
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        listing = _listing(entry)
        if listing is None:
            return None
        found = listing.get(normalized)
        if found:
            return found[0] if len(found) == 1 and found[0] else None
    return None


def installed_version(name: str) -> str:
    """The installed version of distribution ``name``, as ``importlib.metadata.version`` reports it
    (raises its ``PackageNotFoundError`` when none is installed)."""
    listed = _listed_version(name)
    if listed is not None:
        return listed
    from importlib.metadata import version

    return version(name)


def dependency_conflicts(dependencies: Collection[str]) -> DependencyConflict | None:
    """OpenTelemetry's ``get_dependency_conflicts`` for requirement strings all of which must hold (the
    same conflicts, with the same messages), reading versions with :func:`installed_version`."""
    from importlib.metadata import PackageNotFoundError

    from opentelemetry.instrumentation.dependencies import DependencyConflict
    from packaging.requirements import InvalidRequirement, Requirement

    for dependency in dependencies:
        try:
            requirement = Requirement(dependency)
        except InvalidRequirement as error:
            _logger.warning('error parsing dependency, reporting as a conflict: "%s" - %s', dependency, error)
            return DependencyConflict(dependency)
        try:
            version = installed_version(requirement.name)
        except PackageNotFoundError:
            return DependencyConflict(dependency)
        if not requirement.specifier.contains(version):
            return DependencyConflict(dependency, f"{requirement.name} {version}")
    return None
