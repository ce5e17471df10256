"""Find the files to ingest under a root: supported types, no hidden folders, symlinks kept inside."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docchat.ingest.loaders import is_supported


@dataclass(frozen=True)
class Found:
    """A candidate file: its path, its source name (relative to the root), or why it is skipped."""

    path: Path
    source: str
    skip_reason: str | None = None


def discover(root: Path, pattern: str | None, follow_symlinks: bool) -> Iterator[Found]:
    """Files under ``root`` (or ``root`` itself if it is a file), sorted, matching ``pattern``."""
    root = root.absolute()
    if root.is_file():
        yield _checked_name(root, root.name)
        return
    real_root = root.resolve()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            source = path.relative_to(root).as_posix()
            if name.startswith(".") or not is_supported(path):
                continue
            if pattern and not fnmatch.fnmatch(source, pattern) and not fnmatch.fnmatch(name, pattern):
                continue
            named = _checked_name(path, source)
            if named.skip_reason:
                yield named
                continue
            if path.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    yield Found(path, source, "broken or looping symlink")
                    continue
                if not follow_symlinks and not target.is_relative_to(real_root):
                    yield Found(path, source, "symlink points outside the folder (set DOCCHAT_FOLLOW_SYMLINKS=true)")
                    continue
            yield Found(path, source)


def _checked_name(path: Path, source: str) -> Found:
    """``path`` as found, or skipped if its name has undecodable bytes (the store only holds UTF-8 text)."""
    if _is_utf8(source):
        return Found(path, source)
    shown = os.fsencode(source).decode("utf-8", "backslashreplace")
    return Found(path, shown, "file name is not valid UTF-8; rename the file")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def matches(source: str, pattern: str | None) -> bool:
    """Whether a stored source is in scope of ``pattern`` (so only those are swept when deleted)."""
    return not pattern or fnmatch.fnmatch(source, pattern) or fnmatch.fnmatch(source.rsplit("/", 1)[-1], pattern)
