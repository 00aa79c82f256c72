"""The Prometheus alert rules and configuration under deploy/prometheus, checked by promtool.

promtool comes from Debian's `prometheus` package (scripts/ensure-test-services installs it);
without it these tests fail, they never skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
OBSERVABILITY = ROOT / "docs" / "observability.md"
SEVERITIES = {"critical", "warning"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing: run scripts/ensure-test-services (Debian package 'prometheus')",
            pytrace=False,
        )
    return path


def run_promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (code blocks ignored)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6}\s+(.*)", line)
        if fenced or match is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_github_anchors_follow_githubs_rules() -> None:
    text = "\n".join(
        [
            "# Operations",
            "### Alert: HighDiskUsage",
            "```",
            "# not a heading",
            "```",
            "## `maint run`",
            "## Alert: X",
            "## Alert: X",
        ]
    )
    assert github_anchors(text) == {
        "operations",
        "alert-highdiskusage",
        "maint-run",
        "alert-x",
        "alert-x-1",
    }


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_accepts_the_configuration(tmp_path: Path) -> None:
    # The configuration names its rule file relatively, as it is mounted next to it.
    for source in (CONFIG, ALERTS):
        shutil.copy(source, tmp_path / source.name)
    result = run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert "is valid prometheus config file syntax" in result.stdout


def test_every_rule_unit_test_passes() -> None:
    result = run_promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    # The unit tests must be able to fail: a threshold moved by a little is caught.
    rules = ALERTS.read_text()
    assert "> 26 * 3600" in rules
    (tmp_path / "alerts.yml").write_text(rules.replace("> 26 * 3600", "> 25 * 3600"))
    document = yaml.safe_load(ALERTS_TEST.read_text())
    document["tests"] = [
        test for test in document["tests"] if test["name"].startswith("CvEvaluatorBackupTooOld")
    ]
    assert len(document["tests"]) == 2
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(document))
    result = run_promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "CvEvaluatorBackupTooOld" in result.stdout + result.stderr


def test_every_alert_is_labelled_and_annotated() -> None:
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) >= 12
    for rule in rules:
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook", "command"):
            assert annotations.get(key), f"{name} has no {key}"
        assert "$value" in annotations["description"] or "$labels" in annotations["description"], (
            f"{name}: the description should say what was measured"
        )
        assert annotations["command"].startswith("cv-evaluator maint "), name


def test_every_runbook_link_points_at_an_existing_section() -> None:
    anchors = github_anchors(OPERATIONS.read_text())
    for rule in alert_rules():
        link = rule["annotations"]["runbook"]
        document, _, anchor = link.partition("#")
        assert document == "docs/operations.md", link
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/operations.md"
        assert anchor == "alert-" + rule["alert"].lower(), link


def test_every_runbook_section_names_its_command() -> None:
    text = OPERATIONS.read_text()
    for rule in alert_rules():
        heading = f"Alert: {rule['alert']}"
        assert heading in text, heading
        section = text.split(heading, 1)[1].split("\n#", 1)[0]
        # The section names the maint subcommand (check selectors may differ in detail).
        subcommand = " ".join(rule["annotations"]["command"].split()[:3])
        assert subcommand in section, f"{heading} does not name `{subcommand}`"


def test_every_alert_has_a_firing_test_and_a_silent_test() -> None:
    document = yaml.safe_load(ALERTS_TEST.read_text())
    assert document["rule_files"] == ["alerts.yml"]
    fires: set[str] = set()
    silent: set[str] = set()
    for test in document["tests"]:
        for case in test.get("alert_rule_test", []):
            expected = case.get("exp_alerts") or []
            (fires if expected else silent).add(case["alertname"])
            for alert in expected:
                assert alert.get("exp_labels", {}).get("severity"), case["alertname"]
                assert alert.get("exp_annotations"), f"{case['alertname']}: annotations untested"
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fires == set(), "alerts without a test that they fire"
    assert names - silent == set(), "alerts without a test that they stay silent"


def test_the_scrape_jobs_are_the_ones_the_rules_select() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    selector = re.search(r'job=~"([^"]+)"', ALERTS.read_text())
    assert selector is not None
    service_jobs = {name for name in jobs if re.fullmatch(selector.group(1), name)}
    assert service_jobs == {"cv-evaluator-api", "cv-evaluator-worker"}
    targets = {
        name: [f"{sd['names'][0]}:{sd['port']}" for sd in job.get("dns_sd_configs", [])]
        + [t for static in job.get("static_configs", []) for t in static["targets"]]
        for name, job in jobs.items()
    }
    assert targets["cv-evaluator-api"] == ["api:8000"]
    assert targets["cv-evaluator-worker"] == ["worker:9100"]
    assert targets["node-exporter"] == ["node-exporter:9100"]
    assert targets["postgres-exporter"] == ["postgres-exporter:9187"]
    assert targets["cadvisor"] == ["cadvisor:8080"]


def test_the_observability_docs_list_every_alert() -> None:
    text = OBSERVABILITY.read_text()
    assert "## Alerts" in text
    section = text.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    for rule in alert_rules():
        assert f"`{rule['alert']}`" in section, rule["alert"]
        assert f"operations.md#alert-{rule['alert'].lower()}" in section, rule["alert"]
