"""Show the real code of the sandbox's modules and functions in a lesson, never a retyped copy."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


class Source:
    """The source of a module, class or function, shown highlighted with the file it lives in."""

    def __init__(self, *objects: Any) -> None:
        # unwrap: a decorated function (functools.cache) shows its own source, decorator line included
        self.parts = [(_where(inspect.unwrap(obj)), inspect.getsource(inspect.unwrap(obj))) for obj in objects]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"`{where}`\n\n```python\n{code.rstrip()}\n```" for where, code in self.parts)

    def __repr__(self) -> str:
        return "\n\n".join(f"# {where}\n{code.rstrip()}" for where, code in self.parts)


def _where(obj: Any) -> str:
    """Where an object is defined, relative to the repository: 'sandbox_app/send.py: send'."""
    path = Path(inspect.getsourcefile(obj)).resolve()
    try:
        where = path.relative_to(PACKAGE_ROOT).as_posix()
    except ValueError:
        where = inspect.getmodule(obj).__name__
    return where if inspect.ismodule(obj) else f"{where}: {obj.__qualname__}"


def show_source(*objects: Any) -> Source:
    """Show the real code of modules or functions (`inspect.getsource`), never a retyped copy."""
    return Source(*objects)
