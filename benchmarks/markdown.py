"""BENCHMARKS.md is written by several benchmarks, each owning one section: the text from its
``## heading`` to the next one. The ingestion benchmark owns the part before the first heading."""

from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def _sections(text: str) -> tuple[str, dict[str, str]]:
    head, *parts = text.split("\n## ")
    return head, {part.split("\n", 1)[0].strip(): "## " + part for part in parts}


def write_section(heading: str, lines: list[str], path: Path = PATH) -> None:
    """Replace the section ``## heading`` (added at the end if new); the others stay as they are."""
    head, sections = _sections(path.read_text() if path.exists() else "# Benchmarks\n")
    sections[heading] = "\n".join([f"## {heading}", *lines]).rstrip() + "\n"
    path.write_text(head.rstrip() + "\n\n" + "\n".join(sections.values()))


def write_head(lines: list[str], path: Path = PATH) -> None:
    """Replace the part before the first section."""
    _, sections = _sections(path.read_text() if path.exists() else "")
    path.write_text("\n".join(lines).rstrip() + "\n\n" + "\n".join(sections.values()))


def read_section(heading: str, path: Path = PATH) -> list[str]:
    """The lines of the section ``## heading`` below its heading (empty when there is none)."""
    _, sections = _sections(path.read_text() if path.exists() else "")
    return sections.get(heading, "\n").split("\n", 1)[1].strip().splitlines()
