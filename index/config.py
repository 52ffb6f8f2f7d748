"""Settings from three sources, in one order: defaults, then environment variables, then flags.

Every package keeps one pydantic settings model. Its fields, with their defaults and
descriptions, are the only place a setting is defined: the command line makes a flag of each
field (``--field-name``) and every field can be set from the environment (``RAG_FIELD_NAME``).
A nested model's fields are flattened, with the nested model's ``prefix`` in front (for
example ``LLMSettings.model`` is ``--llm-model`` and ``RAG_LLM_MODEL``).

A value that does not fit is an ``InvalidSetting`` naming the setting, where it came from and
the allowed values.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from index.errors import InvalidSetting

ENV_PREFIX = "RAG_"
M = TypeVar("M", bound=BaseModel)


class Settings(BaseModel):
    """Base of the settings models: ``prefix`` goes in front of nested fields' flat names."""

    prefix: ClassVar[str] = ""
    # extra spellings of a field's flag, e.g. {"docs_dir": ("--docs",)}
    flag_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}


@dataclass(frozen=True)
class FlatField:
    """One leaf setting: its flat name (flag and environment variable) and its type."""

    name: str
    path: tuple[str, ...]
    annotation: Any
    default: Any
    description: str
    aliases: tuple[str, ...]

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def choices(self) -> list[str] | None:
        return allowed_values(self.annotation)


def _model_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def flat_fields(cls: type[BaseModel], prefix: str | None = None,
                path: tuple[str, ...] = ()) -> Iterator[FlatField]:
    """The leaf fields of a settings model, nested models flattened with their prefix."""
    if prefix is None:
        prefix = getattr(cls, "prefix", "")
    aliases = getattr(cls, "flag_aliases", {})
    for name, info in cls.model_fields.items():
        sub = _model_type(info.annotation)
        if sub is not None:
            yield from flat_fields(sub, prefix + getattr(sub, "prefix", ""), (*path, name))
            continue
        default = None if info.default_factory is not None else info.default
        yield FlatField(prefix + name, (*path, name), info.annotation, default,
                        info.description or "", tuple(aliases.get(name, ())))


def allowed_values(annotation: Any) -> list[str] | None:
    """The allowed values of a Literal or Enum field (also inside Optional), else None."""
    if get_origin(annotation) is Literal:
        return [str(a) for a in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(m.value) for m in annotation]
    if get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in get_args(annotation):
            found = allowed_values(arg)
            if found:
                return found
    return None


def load_settings(cls: type[M], flags: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None,
                  defaults: Mapping[str, Any] | None = None) -> M:
    """Build ``cls`` from defaults < ``defaults`` < environment < ``flags``.

    ``flags`` and ``defaults`` are keyed by flat names (``llm_model``); a ``None`` flag means
    "not given". ``env`` defaults to ``os.environ``; empty variables count as not set.
    """
    env = os.environ if env is None else env
    sources: dict[str, tuple[Any, str]] = {}
    for f in flat_fields(cls):
        if defaults and defaults.get(f.name) is not None:
            sources[f.name] = (defaults[f.name], "default")
        if env.get(f.env):
            sources[f.name] = (env[f.env], f"environment variable {f.env}")
        if flags and flags.get(f.name) is not None:
            sources[f.name] = (flags[f.name], f"flag {f.flag}")
    unknown = set(flags or {}) - {f.name for f in flat_fields(cls)}
    if unknown:
        raise InvalidSetting(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    nested: dict[str, Any] = {}
    paths = {f.name: f.path for f in flat_fields(cls)}
    for name, (value, _) in sources.items():
        node = nested
        *parents, leaf = paths[name]
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return cls.model_validate(nested)
    except ValidationError as exc:
        raise InvalidSetting(_explain(exc, cls, sources)) from None


def _explain(exc: ValidationError, cls: type[BaseModel], sources: dict[str, tuple[Any, str]]) -> str:
    by_path = {f.path: f for f in flat_fields(cls)}
    parts = []
    for err in exc.errors():
        loc = tuple(str(x) for x in err["loc"])
        field = next((f for p, f in by_path.items() if loc[: len(p)] == p), None)
        if field is None:
            parts.append(f"{'.'.join(loc) or 'settings'}: {err['msg']}")
            continue
        if err["type"] == "missing":
            parts.append(f"{field.flag} is required (or set {field.env})")
            continue
        value, origin = sources.get(field.name, (None, "default"))
        allowed = field.choices()
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        parts.append(f"invalid {field.name.replace('_', '-')} {value!r} from {origin}: {err['msg']}{hint}")
    return "; ".join(parts)
