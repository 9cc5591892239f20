"""The README's shell commands, as a newcomer would copy them: one entry per command, in order,
grouped by the section that shows them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Command:
    section: str
    text: str  # exactly as written (comments included; bash ignores them)

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def make_target(self) -> str | None:
        """`run-all` for `make run-all DAYS=3` (also after VAR=value prefixes)."""
        words = [w for w in self.words if not re.match(r"^[A-Z_]+=", w)]
        return words[1] if words[:1] == ["make"] and len(words) > 1 else None


def _section_of(text: str, offset: int) -> str:
    headings = re.findall(r"^## (.+)$", text[:offset], re.MULTILINE)
    return headings[-1] if headings else ""


def readme_commands(path: Path) -> list[Command]:
    """Every command in the README's ```bash blocks. A command may span lines inside quotes
    (the query example); lines holding only a comment are skipped."""
    text = path.read_text()
    commands: list[Command] = []
    for block in FENCE.finditer(text):
        section = _section_of(text, block.start())
        pending = ""
        for line in block.group(1).splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on on the next line
                continue
            if words:
                commands.append(Command(section, pending.strip()))
            pending = ""
        assert not pending, f"unterminated command in README section {section!r}: {pending!r}"
    return commands
