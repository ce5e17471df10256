"""Front matter at the top of Markdown files: YAML between ``---`` lines, or Pelican's ``key: value`` header."""

from __future__ import annotations

import re

import yaml

_PELICAN_LINE = re.compile(r"^[A-Za-z][\w-]*:\s?.*$")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Return (metadata, body) where the body keeps its line numbers (front matter lines are blanked)."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                try:
                    data = yaml.safe_load("\n".join(lines[1:end])) or {}
                except Exception:  # YAMLError, but also ValueError (date: 2020-13-45), RecursionError...
                    return {}, text
                if isinstance(data, dict):
                    return _as_strings(data), "\n" * (end + 1) + "\n".join(lines[end + 1 :])
                return {}, text
        return {}, text
    end = 0
    while end < len(lines) and lines[end].strip() and _PELICAN_LINE.match(lines[end]):
        end += 1
    # A Pelican header ends at a blank line and names a title (so "Note: ..." prose is not taken).
    if end and (end == len(lines) or not lines[end].strip()):
        meta = {}
        for line in lines[:end]:
            key, _, value = line.partition(":")
            meta[key.strip().lower()] = value.strip()
        if "title" in meta:
            return meta, "\n" * end + "\n".join(lines[end:])
    return {}, text


MAX_VALUE_ITEMS = 10_000  # a value holding more (e.g. YAML aliases nested: "billion laughs") is dropped


def _as_strings(data: dict) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in data.items() if v is not None and _small(k) and _small(v)}


def _small(value: object) -> bool:
    """Whether ``value`` unfolds into at most MAX_VALUE_ITEMS items: str() of nested aliases grows exponentially."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_VALUE_ITEMS:
            return False
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return True
