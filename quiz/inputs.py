"""The answer widgets the kinds use: radio buttons, checkboxes, or a number box with its unit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from .model import Option, parse_number


class ChoiceInput:
    """One of several options, as radio buttons; the value is the option key (None: nothing chosen)."""

    def __init__(self, options: Sequence[Option]):
        # Values are option keys, so what is recorded never depends on the shown order.
        self.widget = widgets.RadioButtons(
            options=[(option.text, option.key) for option in options], value=None, layout=widgets.Layout(width="auto")
        )

    def value(self) -> str | None:
        """The chosen key."""
        return self.widget.value

    def set(self, value: Any) -> None:
        """Choose a key (None clears), as a click does."""
        self.widget.value = value

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call callback() whenever the learner changes the answer."""
        self.widget.observe(lambda _change: callback(), names="value")

    def disable(self, disabled: bool = True) -> None:
        """Freeze (or free) the input."""
        self.widget.disabled = disabled


class MultiInput:
    """All that apply, as one checkbox per option; the value is the tuple of checked keys in shown order."""

    def __init__(self, options: Sequence[Option]):
        self.keys = [option.key for option in options]
        self.boxes = [
            widgets.Checkbox(value=False, description=option.text, indent=False, layout=widgets.Layout(width="auto"))
            for option in options
        ]
        self.widget = widgets.VBox(self.boxes)
        self.widget.add_class("fmq-checkboxes")

    def value(self) -> tuple[str, ...]:
        """The checked keys."""
        return tuple(key for key, box in zip(self.keys, self.boxes, strict=True) if box.value)

    def set(self, value: Any) -> None:
        """Check exactly these keys (None or () clears)."""
        chosen = set(value or ())
        unknown = chosen - set(self.keys)
        if unknown:
            raise ValueError(f"no option {sorted(unknown)[0]!r}; choose from: {', '.join(self.keys)}")
        for key, box in zip(self.keys, self.boxes, strict=True):
            box.value = key in chosen

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call callback() whenever a box is ticked or cleared."""
        for box in self.boxes:
            box.observe(lambda _change: callback(), names="value")

    def disable(self, disabled: bool = True) -> None:
        """Freeze (or free) every box."""
        for box in self.boxes:
            box.disabled = disabled


class NumberInput:
    """A number, typed in a text box with the unit beside it; the value is the text as typed."""

    def __init__(self, unit: str | None, placeholder: str = "a number"):
        self.unit = unit
        # Text, not FloatText: an empty box must mean "nothing typed", not 0.
        self.box = widgets.Text(value="", placeholder=placeholder, layout=widgets.Layout(width="10rem"))
        parts = [self.box] + ([widgets.HTML(unit)] if unit else [])
        self.widget = widgets.HBox(parts)
        self.widget.add_class("fmq-number-input")

    def value(self) -> str:
        """What is typed."""
        return self.box.value

    def number(self) -> float | None:
        """The typed number (None when empty); ValueError for text that is not a number."""
        return parse_number(self.box.value, self.unit)

    def set(self, value: Any) -> None:
        """Type a value (a number or text; None clears)."""
        self.box.value = "" if value is None else str(value)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call callback() whenever the typed value changes."""
        self.box.observe(lambda _change: callback(), names="value")

    def disable(self, disabled: bool = True) -> None:
        """Freeze (or free) the box."""
        self.box.disabled = disabled
