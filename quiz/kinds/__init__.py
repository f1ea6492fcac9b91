"""The kinds of question, one class each: a new kind is one module and one line in REGISTRY."""

from __future__ import annotations

from ..model import Question
from .base import Kind
from .multiple import MultipleChoice
from .numeric import Numeric
from .single import SingleChoice

REGISTRY: dict[str, Kind] = {kind.name: kind for kind in (SingleChoice(), MultipleChoice(), Numeric())}
KINDS = tuple(REGISTRY)


def kind_of(item: Question | str) -> Kind:
    """The kind of a question (or a kind's name); ValueError naming the kinds for an unknown one."""
    name = item if isinstance(item, str) else item.kind
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"'{name}' must be one of: {', '.join(KINDS)}") from None


__all__ = ["KINDS", "REGISTRY", "Kind", "kind_of"]
