"""Heading paths shared by the structured loaders."""

from __future__ import annotations


class HeadingTracker:
    """Keeps the stack of open headings while a document is walked in order.

    A level-1 heading is title-level: it names the chunks directly under it, but is left out of
    the path of deeper sections, so a page's sections read ``Enterprise Example > Government
    agencies`` rather than repeating the page title in every citation.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, text: str) -> None:
        """Open a heading of ``level`` (1-6), closing any at the same or a deeper level."""
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, " ".join(text.split())))

    @property
    def path(self) -> tuple[str, ...]:
        """The current heading path, outermost first."""
        deeper = tuple(text for level, text in self._stack if level > 1)
        return deeper or tuple(text for _, text in self._stack)
