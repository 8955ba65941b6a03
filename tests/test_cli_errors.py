"""Bad input to the command lines and the config gives one clear line naming what and where (issue 23, fault 5)."""
import argparse
import json

import pytest
import yaml

from evaluations.__main__ import main as evaluations_main
from ssl_core.__main__ import main as ssl_core_main
from ssl_core.config import ConfigError, load_config, name_sources, run_matrix, training_spec, typed_overrides, \
    validate_config, validate_spec

from conftest import ROOT


def tiny_spec():
    config = load_config(ROOT / "config" / "config.yaml")
    return training_spec(next(s for s in run_matrix(config).values() if s["variant"] == "rescued"))


def exit_message(main, argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    message = str(e.value.code) + capsys.readouterr().err
    assert "Traceback" not in message
    return message


def test_pretrain_spec_is_checked_with_the_workflows_schema(tmp_path, capsys):
    argv = ["pretrain", "--out", str(tmp_path / "o"), "--ckpt", str(tmp_path / "c"), "--spec"]
    assert "missing key(s) run, arch, variant" in exit_message(ssl_core_main, argv + ['{"method": "simclr"}'], capsys)
    assert "--spec is not valid JSON" in exit_message(ssl_core_main, argv + ['{"method":'], capsys)
    spec = tiny_spec()
    spec["recipe"]["temperature"] = "hot"
    assert "recipe.temperature: 'hot' is not of type 'number'" in exit_message(ssl_core_main, argv + [json.dumps(spec)],
                                                                              capsys)
    spec = tiny_spec()
    spec["rescue"]["bn"] = "nope"
    assert "bn: 'nope' is not one of" in exit_message(ssl_core_main, argv + [json.dumps(spec)], capsys)
    assert not (tmp_path / "c").exists()  # nothing ran


def test_check_images_data_is_checked(tmp_path, capsys):
    message = exit_message(ssl_core_main, ["check-images", "--data", '{"root": "x"}', "--out", str(tmp_path / "m")], capsys)
    assert message == "error: invalid data:\n  data.pretrain: 'name' is a required property"


def test_every_spec_of_every_profile_is_valid():
    for name in ("config", "small", "cifar", "paper"):
        for spec in run_matrix(load_config(ROOT / "config" / f"{name}.yaml")).values():
            assert validate_spec(training_spec(spec)) == training_spec(spec)


def test_evaluations_spec_is_checked(capsys):
    message = exit_message(evaluations_main, ["fig3", "--spec", '{"variant": "rescued"}', "--figure", "x"], capsys)
    assert message.startswith("error: --spec: invalid run spec: missing key(s)")


def parsers(main, monkeypatch):
    """Every (subcommand, parser) of a CLI's main, caught at parse_args."""
    class Caught(Exception):
        pass

    def catch(self, *args, **kwargs):
        raise Caught(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    with pytest.raises(Caught) as e:
        main([])
    top = e.value.args[0]
    return top._subparsers._group_actions[0].choices.items()


@pytest.mark.parametrize("main", [ssl_core_main, evaluations_main], ids=["ssl_core", "evaluations"])
def test_every_option_has_a_help_text(main, monkeypatch):
    missing = [f"{command} {a.option_strings[0]}" for command, sub in parsers(main, monkeypatch)
               for a in sub._actions if a.option_strings and not a.help]
    assert not missing


def metrics_csv(path, value=50.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("run,group,method,arch,variant,s,k,seed,task,dataset,metric,value\n"
                    f"simclr-resnet_tiny-baseline-seed0,main,simclr,resnet_tiny,baseline,,,0,linear,shapes,top1,{value}\n")
    return path


def test_compare_reference_refuses_another_profile(tmp_path, capsys):
    ours = metrics_csv(tmp_path / "results" / "tiny" / "metrics.csv")
    ref = metrics_csv(tmp_path / "results" / "reference" / "small" / "metrics.csv")
    (ref.parent / "MANIFEST.json").write_text(json.dumps({"profile": "small"}))
    argv = ["compare-reference", "--ours", str(ours), "--reference", str(ref)]
    message = exit_message(evaluations_main, argv, capsys)
    assert "of profile 'tiny'" in message and "of profile 'small'" in message and "--any-profile" in message
    assert evaluations_main(argv + ["--any-profile"]) == 0
    assert "WARNING" in capsys.readouterr().out
    same = metrics_csv(tmp_path / "results" / "reference" / "tiny" / "metrics.csv")
    assert evaluations_main(["compare-reference", "--ours", str(ours), "--reference", str(same)]) == 0


def test_compare_reference_bad_input_is_one_line(tmp_path, capsys):
    ours = metrics_csv(tmp_path / "ours.csv")
    missing = exit_message(evaluations_main, ["compare-reference", "--ours", str(ours), "--reference",
                                              str(tmp_path / "nowhere.csv")], capsys)
    assert f"--reference: no file at {tmp_path / 'nowhere.csv'}" in missing and "\n" not in missing.strip()
    other = tmp_path / "other.csv"
    other.write_text("run,value\na,1\n")
    wrong = exit_message(evaluations_main, ["compare-reference", "--ours", str(other), "--reference", str(ours)], capsys)
    assert f"--ours: {other} is not a metrics.csv: no column(s)" in wrong and "\n" not in wrong.strip()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is not a CSV file" in exit_message(evaluations_main, ["compare-reference", "--ours", str(empty),
                                                                  "--reference", str(ours)], capsys)


def test_config_errors_name_their_file(tmp_path):
    bad = tmp_path / "extra.yaml"
    bad.write_text("methods:\n  simclr: {recipe: {temperature: 0.4}\n")
    with pytest.raises(ConfigError, match=f"{bad}: not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match=f"{tmp_path / 'none.yaml'}: no such config file"):
        load_config(tmp_path / "none.yaml")
    # A schema error of a merged config (Snakemake's --configfile A B) names the last file that set the key.
    base = ROOT / "config" / "config.yaml"
    bad.write_text("methods:\n  simclr:\n    recipe: {temperature: -1}\n")
    config = yaml.safe_load(base.read_text())
    config["methods"]["simclr"]["recipe"]["temperature"] = -1
    with pytest.raises(ConfigError) as e:
        validate_config(config)
    assert f"methods.simclr.recipe.temperature: set in {bad}" in str(name_sources(e.value, [base, bad]))
    assert "set by --config" in str(name_sources(e.value, [base], {"methods": {"simclr": {"recipe": {"temperature": "-1"}}}}))


def test_nested_command_line_values_are_typed():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    # What Snakemake hands over for --config methods='{simclr: {rescue: {k: 4}}}' profile=tiny: nested scalars as strings.
    overrides = {"methods": {"simclr": {"rescue": {"k": "4", "s": "0.5"}}}, "profile": "tiny"}
    typed = validate_config(typed_overrides(config, overrides))
    assert typed["methods"]["simclr"]["rescue"]["k"] == 4 and typed["methods"]["simclr"]["rescue"]["s"] == 0.5
    assert typed["methods"]["simclr"]["recipe"] == config["methods"]["simclr"]["recipe"]  # merged, not replaced
    untyped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    untyped["methods"]["simclr"]["rescue"] = overrides["methods"]["simclr"]["rescue"]  # what arrived before
    with pytest.raises(ConfigError, match="'4' is not of type 'integer'"):
        validate_config(untyped)


def test_method_help_lists_the_registered_methods(capsys):
    """`--method`'s help names every method of ssl_core.methods (the list built from the modules)."""
    from ssl_core.methods import method_names

    with pytest.raises(SystemExit):
        evaluations_main(["fig4", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"a method of ssl_core.methods: {', '.join(method_names())}" in text
