"""Profile inheritance (`inherits`): the merge rules, the chain, its errors, and that the library
(load_config) and the workflow (the Snakefile's read_profiles) resolve a profile the same way."""
import copy
from pathlib import Path

import pytest
import yaml

from ssl_core.config import ConfigError, load_config, merge_over, profile_chain, read_profile, read_profiles

ROOT = Path(__file__).resolve().parents[2]


def test_merge_rules():
    parent = {"a": {"x": 1, "y": [1, 2], "z": {"p": 1, "q": 2}}, "b": [1, 2, 3], "c": "s", "d": {"e": 1}}
    child = {"a": {"y": [9], "z": {"q": 5, "r": 6}}, "b": [4], "c": {"now": "a mapping"}, "d": None, "f": 0}
    kept = copy.deepcopy(parent)
    merged = merge_over(parent, child)
    assert merged == {"a": {"x": 1, "y": [9], "z": {"p": 1, "q": 5, "r": 6}}, "b": [4], "c": {"now": "a mapping"},
                      "f": 0}
    assert parent == kept  # neither input is changed
    merged["a"]["z"]["p"] = 7
    assert parent["a"]["z"]["p"] == 1 and child["a"]["z"] == {"q": 5, "r": 6}  # no shared sub-dicts


def test_a_mapping_over_a_scalar_and_a_null_of_a_missing_key():
    assert merge_over({"a": 1}, {"a": {"b": 2}, "gone": None}) == {"a": {"b": 2}}


def _write(path: Path, tree: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tree))
    return path


def test_chain_resolves_relative_to_each_file(tmp_path):
    _write(tmp_path / "base.yaml", {"profile": "base", "train": {"device": "cpu", "ckpt_every_steps": 5}, "x": [1]})
    _write(tmp_path / "sub" / "mid.yaml", {"inherits": "../base.yaml", "profile": "mid", "train": {"ckpt_every_steps": 7}})
    leaf = _write(tmp_path / "sub" / "leaf.yaml", {"inherits": "mid.yaml", "x": [2, 3]})
    assert profile_chain(leaf) == [tmp_path / "sub" / ".." / "base.yaml", tmp_path / "sub" / "mid.yaml", leaf]
    assert read_profile(leaf) == {"profile": "mid", "train": {"device": "cpu", "ckpt_every_steps": 7}, "x": [2, 3]}


def test_a_file_without_inherits_is_read_as_it_is(tmp_path):
    tree = {"profile": "p", "keep": None, "m": {"n": 1}}
    assert read_profile(_write(tmp_path / "p.yaml", tree)) == tree


def test_cycle_is_an_error_naming_the_files(tmp_path):
    _write(tmp_path / "a.yaml", {"inherits": "b.yaml", "profile": "a"})
    _write(tmp_path / "b.yaml", {"inherits": "a.yaml", "profile": "b"})
    with pytest.raises(ConfigError, match=r"b\.yaml: inherits makes a cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        read_profile(tmp_path / "a.yaml")
    _write(tmp_path / "self.yaml", {"inherits": "self.yaml"})
    with pytest.raises(ConfigError, match="cycle"):
        read_profile(tmp_path / "self.yaml")


def test_missing_parent_is_an_error_naming_the_file(tmp_path):
    child = _write(tmp_path / "child.yaml", {"inherits": "nowhere.yaml", "profile": "c"})
    with pytest.raises(ConfigError, match=r"child\.yaml: inherits: .*nowhere\.yaml: no such config file"):
        load_config(child)
    _write(tmp_path / "bad.yaml", {"inherits": ["a.yaml"]})
    with pytest.raises(ConfigError, match=r"bad\.yaml: inherits names one config file"):
        read_profile(tmp_path / "bad.yaml")


def test_schema_is_checked_after_merging(tmp_path):
    """A child that sets only a few keys is valid (its parent gives the rest); a bad key it adds is
    reported once merged, naming the child file."""
    tiny = ROOT / "config" / "config.yaml"
    ok = _write(tmp_path / "ok.yaml", {"inherits": str(tiny), "profile": "mine", "train": {"ckpt_every_steps": 3}})
    config = load_config(ok)
    assert config["profile"] == "mine" and config["train"]["ckpt_every_steps"] == 3
    assert config["methods"] == load_config(tiny)["methods"]
    bad = _write(tmp_path / "bad.yaml", {"inherits": str(tiny), "train": {"ckpt_every_step": 3}})
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid config:\n.*train: unknown key\(s\) 'ckpt_every_step'"):
        load_config(bad)
    removed = _write(tmp_path / "removed.yaml", {"inherits": str(tiny), "methods": {"simclr": None}})
    with pytest.raises(ConfigError, match="method 'simclr' has no recipe"):
        load_config(removed)


def test_workflow_and_library_agree(tmp_path):
    """The Snakefile resolves its config files with read_profiles: one file gives what load_config
    validates; a second file (e.g. cluster settings) is merged over it as Snakemake merges."""
    for name in ("config.yaml", "small.yaml", "verdict.yaml"):
        path = ROOT / "config" / name
        assert read_profiles([path]) == read_profile(path)
    extra = _write(tmp_path / "extra.yaml", {"train": {"device": "cpu"}})
    both = read_profiles([ROOT / "config" / "small.yaml", extra])
    assert both["train"]["device"] == "cpu" and both["profile"] == "small"
    assert "inherits" not in both
    snakefile = (ROOT / "Snakefile").read_text()
    assert "read_profiles(CONFIG_FILES)" in snakefile


def test_shipped_profiles_inherit():
    assert [p.name for p in profile_chain(ROOT / "config" / "verdict.yaml")] == ["config.yaml", "small.yaml",
                                                                                "verdict.yaml"]


def test_a_bad_inherited_key_names_the_file_that_sets_it(tmp_path):
    """The workflow's error names, per bad key, the file of the chain that sets it (name_sources)."""
    from ssl_core.config import name_sources, validate_config

    parent = _write(tmp_path / "parent.yaml", {**yaml.safe_load((ROOT / "config" / "config.yaml").read_text()),
                                               "train": {"device": "auto", "ckpt_every_steps": "often"}})
    child = _write(tmp_path / "child.yaml", {"inherits": "parent.yaml", "profile": "child"})
    with pytest.raises(ConfigError) as e:
        validate_config(read_profiles([child]))
    assert f"train.ckpt_every_steps: set in {parent}" in str(name_sources(e.value, [str(child)]))
