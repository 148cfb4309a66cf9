"""One spec for every parameter a visitor can set (an attribution method's, an augmentation transform's): its
default, its kind and range, and the check that turns a value into a valid one or a one-line reason why not.
Forms draw widgets from these specs, and the library checks values with the same specs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Kind = Literal["int", "float", "bool", "choice", "layer", "pair"]


@dataclass(frozen=True)
class Param:
    """One parameter, with what a form needs to draw it and what a check needs to bound it."""

    name: str
    label: str
    default: Any
    kind: Kind
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    shown: tuple[str, ...] = ()  # the choices as a form shows them, in the same order (the keys where empty)
    step: float | None = None  # the widget's step: 1 for whole numbers, 0.01 for others unless set
    scales_with_input: bool = False  # the default is for a 224-pixel input and scales with its size
    ordered: bool = False  # a pair that is a (from, to) range
    odd: bool = False  # a whole number that must be odd (a blur kernel)

    def caption(self, choice: str) -> str:
        """How a form shows `choice`: its entry in `shown`, else the key itself."""
        return dict(zip(self.choices, self.shown, strict=True)).get(choice, choice) if self.shown else choice

    def __post_init__(self) -> None:
        if self.shown and len(self.shown) != len(self.choices):
            raise ValueError(f"{self.name}: {len(self.shown)} captions for {len(self.choices)} choices")

    @property
    def widget_step(self) -> float:
        return self.step if self.step is not None else (1 if self.kind == "int" else 0.01)

    def on_input(self, size: int) -> Param:
        """This parameter for a square input of `size` pixels: a length in pixels (`scales_with_input`) gets its
        default scaled from 224 px and at most `size` as its top, so a form never offers a window wider than the
        image; other parameters are returned unchanged."""
        if not self.scales_with_input:
            return self
        high = max(self.low, min(self.high, size))
        default = int(min(max(self.low, round(self.default * size / 224)), high))
        where = f"In pixels of the model's {size} x {size} input, not of the picture shown."
        return replace(self, default=default, high=high, help=f"{self.help} {where}".strip())

    def clamp(self, value: float) -> float:
        """`value` moved into [low, high] (a widget's starting value must lie inside its range)."""
        return min(max(value, self.low), self.high)

    def check(self, value: Any, owner: str) -> Any:
        """`value` as this parameter's type, within its range; ValueError, one line naming `owner`, otherwise."""
        where = f"{owner}: {self.name}"
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{where} must be true or false")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{where} must be one of {', '.join(self.choices)}")
            return value
        if self.kind == "layer":
            if not isinstance(value, str) or not value:
                raise ValueError(f"{where} must name a layer")
            return value
        size = len(self.default) if self.kind == "pair" else 1
        values = tuple(value) if self.kind == "pair" and isinstance(value, list | tuple) else (value,)
        if len(values) != size:
            raise ValueError(f"{where} needs {size} numbers")
        whole = self.kind == "int"
        try:  # an infinite whole number, or a whole number too large for a float: OverflowError (a loopback review)
            numbers = tuple(int(v) if whole else float(v) for v in values)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{where} must be a finite number") from exc
        if any(not (self.low <= v <= self.high) for v in numbers):  # also refuses NaN
            shown = ", ".join(_short(v) for v in numbers)
            raise ValueError(f"{where} must be between {self.low:g} and {self.high:g} (got {shown})")
        if whole and any(v != float(x) for v, x in zip(numbers, values, strict=True)):
            raise ValueError(f"{where} must be a whole number")
        if self.odd and numbers[0] % 2 == 0:
            raise ValueError(f"{where} must be odd (got {numbers[0]})")
        if self.ordered and numbers[0] > numbers[1]:
            raise ValueError(f"{where} 'from' must not exceed 'to' (got {numbers[0]:g} > {numbers[1]:g})")
        return numbers if self.kind == "pair" else numbers[0]


def _short(number: float) -> str:
    """A number as a one-line message quotes it: whole, or its first digits and its length when it is long (a loopback
    review sent a 1,900-digit size, and the warning quoted all of it)."""
    text = str(number)
    return text if len(text) <= 24 else f"{text[:8]}… ({len(text)} characters)"
