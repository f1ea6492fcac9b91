"""Live settings of the debug mail server: delay, injected faults, connection limit, inbox bound."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from .store import DEFAULT_MAX_MESSAGES

STAGES = ("MAIL", "RCPT", "DATA")


class SettingsError(ValueError):
    """A settings change that names an unknown key or an impossible value."""


def _number(name: str, value: Any, *, low: float = 0.0, high: float = 3600.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingsError(f"'{name}' must be a number of seconds, got {value!r}")
    if not low <= value <= high:
        raise SettingsError(f"'{name}' must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Fault:
    """What the server does wrong at one SMTP stage, and how often."""

    code: int | None = None
    drop: bool = False
    probability: float = 1.0
    message: str = ""
    recipients: tuple[str, ...] = ()  # RCPT only: the fault fires for these addresses alone (all when empty)

    @classmethod
    def from_data(cls, stage: str, data: Any) -> Fault:
        """Validate a fault given as JSON data, e.g. {"code": 451, "probability": 0.5}."""
        if isinstance(data, Fault):
            return data
        where = f"faults.{stage}"
        if not isinstance(data, Mapping):
            raise SettingsError(f"'{where}' must be an object like {{\"code\": 451}}")
        unknown = set(data) - {"code", "drop", "probability", "message", "recipients"}
        if unknown:
            raise SettingsError(f"'{where}' has unknown key(s): {', '.join(sorted(unknown))}")
        code, drop = data.get("code"), data.get("drop", False)
        if not isinstance(drop, bool):
            raise SettingsError(f"'{where}.drop' must be true or false")
        if drop == (code is not None):
            raise SettingsError(f"'{where}' needs exactly one of 'code' (an SMTP reply) or 'drop': true")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599):
            raise SettingsError(f"'{where}.code' must be an SMTP error code from 400 to 599, got {code!r}")
        probability = _number(f"{where}.probability", data.get("probability", 1.0), high=1.0)
        message = data.get("message", "")
        if not isinstance(message, str) or "\r" in message or "\n" in message:
            raise SettingsError(f"'{where}.message' must be one line of text")
        recipients = data.get("recipients", [])
        if not isinstance(recipients, (list, tuple)) or not all(isinstance(r, str) and r for r in recipients):
            raise SettingsError(f"'{where}.recipients' must be a list of addresses")
        if recipients and stage != "RCPT":
            raise SettingsError(f"'{where}.recipients' applies to RCPT faults only")
        return cls(code, drop, probability, message, tuple(address.lower() for address in recipients))

    def applies_to(self, address: str | None) -> bool:
        """Whether the fault concerns this recipient (every one, unless the fault names some)."""
        return not self.recipients or (address or "").lower() in self.recipients

    def reply(self, stage: str) -> str:
        """The SMTP reply line this fault answers with."""
        text = self.message or f"Sandbox fault injected at {stage}"
        return f"{self.code} {text}"

    def to_dict(self) -> dict:
        """The fault as JSON-ready data."""
        data: dict[str, Any] = {"drop": True} if self.drop else {"code": self.code}
        data["probability"] = self.probability
        if self.message:
            data["message"] = self.message
        if self.recipients:
            data["recipients"] = list(self.recipients)
        return data


@dataclass(frozen=True)
class MailServerSettings:
    """A snapshot of the settings; change them with `updated`, which validates."""

    delay: float = 0.0
    delay_range: tuple[float, float] | None = None
    connect_delay: float = 0.0
    reply_delay: float = 0.0  # before each reply: the round trip every SMTP command costs a client far away
    faults: Mapping[str, Fault] = field(default_factory=lambda: MappingProxyType({}))
    seed: int | None = None
    max_connections: int | None = None
    max_messages: int = DEFAULT_MAX_MESSAGES
    starttls: bool = False  # offer STARTTLS (a self-signed certificate) and require it before MAIL

    def updated(self, changes: Mapping[str, Any]) -> MailServerSettings:
        """A copy with `changes` applied; raises SettingsError naming the bad key."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            clean[name] = getattr(self, f"_check_{name}")(value)
        return replace(self, **clean)

    @staticmethod
    def _check_delay(value: Any) -> float:
        return _number("delay", value)

    @staticmethod
    def _check_connect_delay(value: Any) -> float:
        return _number("connect_delay", value)

    @staticmethod
    def _check_reply_delay(value: Any) -> float:
        return _number("reply_delay", value, high=10.0)

    @staticmethod
    def _check_delay_range(value: Any) -> tuple[float, float] | None:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise SettingsError("'delay_range' must be [low, high] in seconds, or null")
        low, high = (_number("delay_range", v) for v in value)
        if low > high:
            raise SettingsError(f"'delay_range' low must not exceed high, got [{low:g}, {high:g}]")
        return (low, high)

    @staticmethod
    def _check_faults(value: Any) -> Mapping[str, Fault]:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise SettingsError("'faults' must be an object keyed by stage: MAIL, RCPT or DATA")
        faults = {}
        for stage, data in value.items():
            if stage not in STAGES:
                raise SettingsError(f"'faults' stage must be one of {', '.join(STAGES)}, got {stage!r}")
            if data is not None:
                faults[stage] = Fault.from_data(stage, data)
        return MappingProxyType(faults)

    @staticmethod
    def _check_seed(value: Any) -> int | None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise SettingsError(f"'seed' must be a whole number or null, got {value!r}")
        return value

    @staticmethod
    def _check_max_connections(value: Any) -> int | None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SettingsError(f"'max_connections' must be a positive whole number or null, got {value!r}")
        return value

    @staticmethod
    def _check_starttls(value: Any) -> bool:
        if not isinstance(value, bool):
            raise SettingsError(f"'starttls' must be true or false, got {value!r}")
        return value

    @staticmethod
    def _check_max_messages(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"'max_messages' must be a whole number of at least 1, got {value!r}")
        return value

    def to_dict(self) -> dict:
        """The settings as JSON-ready data (the shape PUT /api/smtp accepts)."""
        return {
            "delay": self.delay,
            "delay_range": list(self.delay_range) if self.delay_range else None,
            "connect_delay": self.connect_delay,
            "reply_delay": self.reply_delay,
            "faults": {stage: fault.to_dict() for stage, fault in self.faults.items()},
            "seed": self.seed,
            "max_connections": self.max_connections,
            "max_messages": self.max_messages,
            "starttls": self.starttls,
        }
