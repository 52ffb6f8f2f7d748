"""Command-line flags made from the settings models: one flag per setting, defaults shown
from the model, ``None`` meaning "not given" so the environment and defaults apply."""

from __future__ import annotations

import argparse
import typing
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from index.config import FlatField, flat_fields, load_settings


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where the options are listed."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _base_type(annotation: Any) -> Any:
    if get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if args else str
    return annotation


def _add_field(parser: argparse.ArgumentParser, f: FlatField) -> None:
    base = _base_type(f.annotation)
    default = "the bundled model" if f.name == "model_path" else (
        f.default.value if isinstance(f.default, Enum) else f.default)
    from pydantic_core import PydanticUndefined

    given = "required" if default is PydanticUndefined else f"default: {default}"
    help_text = f"{f.description} ({given}; env {f.env})" if f.description else argparse.SUPPRESS
    names = [f.flag, *f.aliases]
    kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": help_text}
    if base is bool:
        parser.add_argument(*names, action=argparse.BooleanOptionalAction, **kwargs)
        return
    if get_origin(base) is list:
        parser.add_argument(*names, nargs="+", metavar="ITEM", **kwargs)
        return
    choices = f.choices()
    if choices:
        kwargs["choices"] = choices
        kwargs["metavar"] = "{" + ",".join(choices) + "}"
    elif base in (int, float):
        kwargs["type"] = base
        kwargs["metavar"] = "N" if base is int else "X"
    elif base is Path:
        kwargs["type"] = Path
        kwargs["metavar"] = "DIR" if "dir" in f.name or f.name in ("out", "beir") else "PATH"
    parser.add_argument(*names, **kwargs)


def add_settings_flags(parser: argparse.ArgumentParser, *models: type[BaseModel]) -> None:
    seen: set[str] = set()
    for model in models:
        group = parser.add_argument_group(model.__name__)
        for f in flat_fields(model):
            if f.name not in seen:
                seen.add(f.name)
                _add_field(group, f)  # type: ignore[arg-type]


def settings_from_args(model: type[BaseModel], args: argparse.Namespace,
                       defaults: dict[str, Any] | None = None) -> Any:
    names = {f.name for f in flat_fields(model)}
    flags = {k: v for k, v in vars(args).items() if k in names}
    return load_settings(model, flags, defaults=defaults)
