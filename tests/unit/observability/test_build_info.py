"""The source revision in `cv_evaluator_build_info`: setting, else the checkout's files."""

from __future__ import annotations

from pathlib import Path

from cv_evaluator import __version__
from cv_evaluator.observability.build_info import UNKNOWN_REVISION, build_revision, git_revision
from cv_evaluator.observability.metrics import ServiceMetrics

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def checkout(tmp_path: Path, head: str) -> Path:
    git = tmp_path / "repo" / ".git"
    git.mkdir(parents=True)
    (git / "HEAD").write_text(head)
    return git.parent


def test_a_branch_head_reads_the_loose_ref_file(tmp_path: Path) -> None:
    repo = checkout(tmp_path, "ref: refs/heads/main\n")
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / ".git" / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    assert git_revision(repo) == COMMIT


def test_a_packed_ref_is_found_when_there_is_no_loose_one(tmp_path: Path) -> None:
    repo = checkout(tmp_path, "ref: refs/heads/release\n")
    (repo / ".git" / "packed-refs").write_text(
        "# pack-refs with: peeled fully-peeled sorted\n"
        f"{OTHER} refs/heads/main\n"
        f"{COMMIT} refs/heads/release\n"
        f"^{OTHER}\n"
    )
    assert git_revision(repo) == COMMIT


def test_a_detached_head_is_the_commit_itself(tmp_path: Path) -> None:
    assert git_revision(checkout(tmp_path, COMMIT + "\n")) == COMMIT


def test_a_linked_worktree_follows_gitdir_and_commondir(tmp_path: Path) -> None:
    main_git = tmp_path / "main" / ".git"
    (main_git / "refs" / "heads").mkdir(parents=True)
    (main_git / "refs" / "heads" / "feature").write_text(COMMIT)
    worktree_git = main_git / "worktrees" / "feature"
    worktree_git.mkdir(parents=True)
    (worktree_git / "HEAD").write_text("ref: refs/heads/feature\n")
    (worktree_git / "commondir").write_text("../..\n")
    worktree = tmp_path / "feature"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {worktree_git}\n")
    assert git_revision(worktree) == COMMIT


def test_no_checkout_or_an_unreadable_one_gives_none(tmp_path: Path) -> None:
    assert git_revision(tmp_path) is None
    assert git_revision(checkout(tmp_path, "ref: refs/heads/missing\n")) is None
    assert git_revision(checkout(tmp_path / "b", "not a commit\n")) is None
    assert git_revision(checkout(tmp_path / "c", "ref: ../../../etc/passwd\n")) is None
    unreadable = checkout(tmp_path / "d", "ref: refs/heads/main\n")
    (unreadable / ".git" / "refs" / "heads").mkdir(parents=True)
    (unreadable / ".git" / "refs" / "heads" / "main").write_bytes(b"\xff\xfe\x00")
    assert git_revision(unreadable) is None


def test_a_configured_revision_wins_over_the_checkout(tmp_path: Path) -> None:
    repo = checkout(tmp_path, COMMIT)
    assert build_revision(" abc1234 ", repo) == "abc1234"
    assert build_revision(None, repo) == COMMIT
    assert build_revision("", repo) == COMMIT
    assert build_revision(None, tmp_path / "nowhere") == UNKNOWN_REVISION


def test_build_info_carries_version_and_revision() -> None:
    metrics = ServiceMetrics(revision="abc1234")
    labels = {"version": __version__, "revision": "abc1234"}
    assert metrics.registry.get_sample_value("cv_evaluator_build_info", labels) == 1.0


def test_a_process_without_the_api_exports_no_request_figures() -> None:
    metrics = ServiceMetrics(revision="r")
    metrics.without_api()
    names = {family.name for family in metrics.registry.collect()}
    assert not {"http_requests", "http_request_duration_seconds", "jobs_enqueued"} & names
    assert {"jobs_completed", "jobs_failed", "evaluation_duration_seconds"} <= names
    # The objects stay usable: code shared with the API may still touch them.
    metrics.jobs_enqueued.inc()
