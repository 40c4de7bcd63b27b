"""core.yamlfile reads what yaml.safe_load reads, and fails as it fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core import yamlfile

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", ["pipelines/complaint_taxonomy.yaml", "demo/groundswell.yaml"])
def test_the_shipped_files_read_the_same(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert yamlfile.safe_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", ["a: [1, 2", "a: b\n c: d\n  - e", "\t- x", "x: !!python/object:os.system a",
                                  "k: 1\nk2: [\n"])
def test_errors_are_the_python_parsers(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as got:
        yamlfile.safe_load(text)
    assert str(got.value) == str(expected.value)


def test_scalars_and_anchors_as_safe_load() -> None:
    text = "a: &x {b: 1.5, c: 2026-11-30, d: yes, e: ~, f: 0x1F}\ng: *x\nh: '中文'\n"
    assert yamlfile.safe_load(text) == yaml.safe_load(text)


def test_nesting_beyond_the_recursion_limit_is_invalid_yaml_not_a_crash() -> None:
    with pytest.raises(yaml.YAMLError, match="nested deeper than can be read"):
        yamlfile.safe_load("a: " + "[" * 5000 + "]" * 5000)
