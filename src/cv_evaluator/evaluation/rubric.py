"""Rubric loading and validation.

A rubric is data sent by callers, so every problem becomes an ``InvalidRubric`` with a precise
message and machine-readable ``details`` — a raw parser exception never escapes. The content hash
is taken over a canonical JSON form of the *parsed* rubric, so the same rubric written in YAML or
JSON (or with different comments and spacing) hashes the same.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from cv_evaluator.domain.errors import InvalidRubric
from cv_evaluator.domain.evaluation import Rubric, RubricGroup, RubricParameter

__all__ = [
    "MAX_PARAMETERS_PER_GROUP",
    "MAX_RUBRIC_CHARS",
    "canonical_rubric",
    "default_rubric",
    "default_rubric_text",
    "load_rubric",
]

MAX_RUBRIC_CHARS = 64_000
MAX_PARAMETERS_PER_GROUP = 20
_MAX_NAME = 100
_MAX_VERSION = 50
_MAX_KEY = 64
_MAX_LABEL = 120
_MAX_DESCRIPTION = 2_000
_MAX_GUIDANCE = 1_000
_SCALE = (1, 5)
_WEIGHT_TOLERANCE = 1e-6
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM_FIELDS = frozenset({"key", "label", "weight", "description", "guidance"})
_TOP_FIELDS = frozenset({"name", "version", "scale", "description", "cv", "project"})


def _fail(message: str, **details: Any) -> InvalidRubric:
    return InvalidRubric(message, details=details)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no expansion bombs) and without silent duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _fail(
                "YAML aliases are not allowed in a rubric",
                line=event.start_mark.line + 1,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise _fail("mapping keys must be scalars", line=key_node.start_mark.line + 1)
            if key in seen:
                raise _fail(
                    f"duplicate key {key!r}",
                    key=str(key),
                    line=key_node.start_mark.line + 1,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f"duplicate key {key!r}", key=key)
        out[key] = value
    return out


def _reject_constant(token: str) -> float:
    raise _fail(f"{token} is not a valid number in a rubric", value=token)


def _parse(text: str) -> Any:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(
                stripped, object_pairs_hook=_json_pairs, parse_constant=_reject_constant
            )
        except json.JSONDecodeError as exc:
            raise _fail(
                f"rubric is not valid JSON: {exc.msg}", line=exc.lineno, column=exc.colno
            ) from None
        except RecursionError:
            raise _fail("rubric JSON is nested too deeply") from None
    try:
        return yaml.load(stripped, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except InvalidRubric:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        details: dict[str, Any] = {}
        if mark is not None:
            details = {"line": mark.line + 1, "column": mark.column + 1}
        raise _fail(f"rubric is not valid YAML: {exc.problem or exc}", **details) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise _fail(f"rubric is not valid YAML: {type(exc).__name__}") from None


def _text(value: Any, field: str, limit: int, *, required: bool, default: str = "") -> str:
    if value is None:
        if required:
            raise _fail(f"{field} is required", field=field)
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(f"{field} must be a string", field=field, type=type(value).__name__)
    result = str(value).strip()
    if required and not result:
        raise _fail(f"{field} must not be empty", field=field)
    if len(result) > limit:
        raise _fail(f"{field} is longer than {limit} characters", field=field, length=len(result))
    return result


def _scale(raw: Any) -> tuple[int, int]:
    if raw is None:
        return _SCALE
    low: Any
    high: Any
    if isinstance(raw, Mapping):
        low, high = raw.get("min"), raw.get("max")
    elif isinstance(raw, list) and len(raw) == 2:
        low, high = raw
    elif isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*[-–]\s*\d+\s*", raw):
        low, high = (int(part) for part in re.split(r"[-–]", raw))
    else:
        raise _fail("scale must be {min: 1, max: 5}", field="scale")
    if (low, high) != _SCALE or isinstance(low, bool) or isinstance(high, bool):
        raise _fail("scale must be 1 to 5", field="scale", min=_jsonable(low), max=_jsonable(high))
    return _SCALE


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _weight(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _fail(
            f"{where}.weight must be a number", field=f"{where}.weight", value=_jsonable(raw)
        )
    weight = float(raw)
    if not math.isfinite(weight) or not 0.0 < weight <= 1.0:
        raise _fail(
            f"{where}.weight must be in (0, 1]", field=f"{where}.weight", value=_jsonable(raw)
        )
    return weight


def _guidance(raw: Any, where: str) -> dict[int, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _fail(
            f"{where}.guidance must be a mapping of score to text", field=f"{where}.guidance"
        )
    out: dict[int, str] = {}
    for level, text in raw.items():
        try:
            number = int(level) if not isinstance(level, bool) else -1
        except (TypeError, ValueError):
            number = -1
        if str(number) != str(level).strip() or not _SCALE[0] <= number <= _SCALE[1]:
            raise _fail(
                f"{where}.guidance has level {level!r} outside the scale 1-5",
                field=f"{where}.guidance",
                level=_jsonable(level),
            )
        if number in out:
            raise _fail(f"{where}.guidance repeats level {number}", field=f"{where}.guidance")
        out[number] = _text(text, f"{where}.guidance.{number}", _MAX_GUIDANCE, required=True)
    return dict(sorted(out.items()))


def _entries(raw: Any, group: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Accept a group as a mapping ``key -> spec`` or as a list of specs carrying ``key``."""
    if raw is None:
        raise _fail(f"the {group} group is missing", field=group)
    entries: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(raw, Mapping):
        for key, spec in raw.items():
            if not isinstance(spec, Mapping):
                raise _fail(f"{group}.{key} must be a mapping", field=f"{group}.{key}")
            if "key" in spec and str(spec["key"]) != str(key):
                raise _fail(f"{group}.{key} has a different key inside", field=f"{group}.{key}")
            entries.append((str(key), spec))
    elif isinstance(raw, list):
        for index, spec in enumerate(raw):
            if not isinstance(spec, Mapping) or "key" not in spec:
                raise _fail(
                    f"{group}[{index}] must be a mapping with a key", field=f"{group}[{index}]"
                )
            entries.append((str(spec["key"]), spec))
    else:
        raise _fail(f"the {group} group must be a mapping or a list", field=group)
    if not entries:
        raise _fail(f"the {group} group has no parameters", field=group)
    if len(entries) > MAX_PARAMETERS_PER_GROUP:
        raise _fail(
            f"the {group} group has more than {MAX_PARAMETERS_PER_GROUP} parameters",
            field=group,
            count=len(entries),
        )
    return entries


def _group(raw: Any, group: RubricGroup, seen: set[str]) -> tuple[RubricParameter, ...]:
    params: list[RubricParameter] = []
    for key, spec in _entries(raw, group.value):
        where = f"{group.value}.{key}"
        if len(key) > _MAX_KEY or not _KEY_RE.match(key):
            raise _fail(
                f"parameter key {key!r} must match ^[a-z][a-z0-9_]*$ (at most {_MAX_KEY} chars)",
                field=where,
            )
        if key in seen:
            raise _fail(f"parameter key {key!r} is used more than once", field=where, key=key)
        seen.add(key)
        unknown = sorted(str(name) for name in spec if name not in _PARAM_FIELDS)
        if unknown:
            raise _fail(f"{where} has unknown fields: {', '.join(unknown)}", field=where)
        label = _text(
            spec.get("label"),
            f"{where}.label",
            _MAX_LABEL,
            required=False,
            default=key.replace("_", " ").capitalize(),
        )
        description = _text(
            spec.get("description"), f"{where}.description", _MAX_DESCRIPTION, required=False
        )
        params.append(
            RubricParameter(
                key=key,
                label=label or key.replace("_", " ").capitalize(),
                weight=_weight(spec.get("weight"), where),
                description=description or label,
                group=group,
                guidance=_guidance(spec.get("guidance"), where),
            )
        )
    total = sum(param.weight for param in params)
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        raise _fail(
            f"the {group.value} weights sum to {total:.6f}, not 1",
            field=group.value,
            sum=round(total, 9),
            weights={param.key: param.weight for param in params},
        )
    return tuple(params)


def canonical_rubric(
    name: str,
    version: str,
    cv: tuple[RubricParameter, ...],
    project: tuple[RubricParameter, ...],
) -> dict[str, Any]:
    def group(params: tuple[RubricParameter, ...]) -> list[dict[str, Any]]:
        return [
            {
                "key": p.key,
                "label": p.label,
                "weight": p.weight,
                "description": p.description,
                "guidance": {str(level): text for level, text in sorted(p.guidance.items())},
            }
            for p in params
        ]

    return {
        "name": name,
        "version": version,
        "scale": {"min": _SCALE[0], "max": _SCALE[1]},
        "cv": group(cv),
        "project": group(project),
    }


def load_rubric(text: str) -> Rubric:
    """Parse and validate a rubric given as YAML or JSON text."""
    if not isinstance(text, str):
        raise _fail("rubric must be text", type=type(text).__name__)
    if len(text) > MAX_RUBRIC_CHARS:
        raise _fail(
            f"rubric is longer than {MAX_RUBRIC_CHARS} characters",
            length=len(text),
            limit=MAX_RUBRIC_CHARS,
        )
    if not text.strip():
        raise _fail("rubric is empty")
    data = _parse(text)
    if not isinstance(data, Mapping):
        raise _fail("rubric must be a mapping at the top level", type=type(data).__name__)
    unknown = sorted(str(name) for name in data if name not in _TOP_FIELDS)
    if unknown:
        raise _fail(f"rubric has unknown fields: {', '.join(unknown)}", fields=unknown)
    name = _text(data.get("name"), "name", _MAX_NAME, required=False, default="custom")
    version = _text(data.get("version"), "version", _MAX_VERSION, required=False, default="1")
    scale_min, scale_max = _scale(data.get("scale"))
    seen: set[str] = set()
    cv = _group(data.get("cv"), RubricGroup.CV, seen)
    project = _group(data.get("project"), RubricGroup.PROJECT, seen)
    canonical = canonical_rubric(name or "custom", version or "1", cv, project)
    digest = hashlib.sha256(
        json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()
    return Rubric(
        name=name or "custom",
        version=version or "1",
        cv=cv,
        project=project,
        content_hash=digest,
        scale_min=scale_min,
        scale_max=scale_max,
    )


@lru_cache(maxsize=1)
def default_rubric_text() -> str:
    return (
        resources.files("cv_evaluator.evaluation")
        .joinpath("reference/rubric.yaml")
        .read_text(encoding="utf-8")
    )


@lru_cache(maxsize=1)
def default_rubric() -> Rubric:
    return load_rubric(default_rubric_text())
