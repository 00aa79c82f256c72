"""Which code is running: the package version and the source revision it was built from.

An image gets its revision from ``APP_GIT_REVISION`` (a build argument turned into an environment
variable); a checkout reads it from its own ``.git`` directory. Reading the files is enough: the
``git`` program may be absent, and running it on every start would cost more than it tells.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

UNKNOWN_REVISION = "unknown"

# src/cv_evaluator/observability/build_info.py → the checkout that holds src/.
_CHECKOUT = Path(__file__).resolve().parents[3]
_OBJECT_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _object_name(text: str) -> str | None:
    value = text.strip()
    return value if _OBJECT_NAME.fullmatch(value) else None


def _git_directory(checkout: Path) -> Path | None:
    dot_git = checkout / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        # A linked worktree or a submodule: ".git" is a file that names the real directory.
        pointer = dot_git.read_text(encoding="utf-8").strip()
        if pointer.startswith("gitdir:"):
            return (checkout / pointer.removeprefix("gitdir:").strip()).resolve()
    return None


def _resolve_ref(git: Path, ref: str) -> str | None:
    common = git
    commondir = git / "commondir"
    if commondir.is_file():
        # Branches of a linked worktree live in the main repository's directory.
        common = (git / commondir.read_text(encoding="utf-8").strip()).resolve()
    for base in dict.fromkeys((git, common)):
        loose = base / ref
        if loose.is_file():
            return _object_name(loose.read_text(encoding="utf-8"))
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            if line.startswith(("#", "^")):
                continue
            name, _, packed_ref = line.partition(" ")
            if packed_ref.strip() == ref:
                return _object_name(name)
    return None


def git_revision(checkout: Path) -> str | None:
    """The commit ``HEAD`` points at in ``checkout``, or None when there is no readable one."""
    try:
        git = _git_directory(checkout)
        if git is None:
            return None
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if head.startswith("ref:"):
            ref = head.removeprefix("ref:").strip()
            if ".." in Path(ref).parts:
                return None
            return _resolve_ref(git, ref)
        return _object_name(head)  # a detached HEAD holds the commit itself
    except (OSError, UnicodeDecodeError):
        return None


@functools.cache
def build_revision(configured: str | None = None, checkout: Path = _CHECKOUT) -> str:
    """The configured revision, else the checkout's ``HEAD``, else ``"unknown"``; computed once."""
    if configured is not None and configured.strip():
        return configured.strip()
    return git_revision(checkout) or UNKNOWN_REVISION
