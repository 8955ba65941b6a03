"""Experiment config: the schema checks, the profiles (config files and how they combine) and the
run matrix, one module each.

Data flows one way: config file(s) -> ``profiles`` (``inherits``, several files, ``--config``) ->
``schema`` (checked against ssl_core/config.schema.yaml, defaults filled) -> ``runs`` (one spec per
run, every spec built by ``run_spec``) -> ``pretrain`` -> evaluations.

- :mod:`ssl_core.config.errors`    ConfigError, whose message names the offending key;
- :mod:`ssl_core.config.schema`    validate_config, validate_spec, validate_pretrain_data;
- :mod:`ssl_core.config.profiles`  read_profile(s), load_config, typed_overrides, name_sources;
- :mod:`ssl_core.config.runs`      run_spec, run_id, run_matrix, the sweeps, floors and ceilings.

Which of our architectures a table's row of a paper architecture reads is the evaluations' rule
(``evaluations.arch_stand_ins``).
"""
from ssl_core.config.errors import ConfigError
from ssl_core.config.profiles import (INHERITS, load_config, merge_over, name_sources, profile_chain, read_profile,
                                      read_profiles, typed_overrides)
from ssl_core.config.runs import (BOOKKEEPING, MAIN_GROUP, RESCUE_RULE, VARIANTS, arch_family, experiment_runs,
                                  linear_settings, reference_runs, run_groups, run_id, run_matrix, run_spec,
                                  sweep_figure, sweep_runs, training_spec)
from ssl_core.config.schema import SCHEMA_PATH, SPEC_KEYS, validate_config, validate_pretrain_data, validate_spec

__all__ = [
    "BOOKKEEPING", "INHERITS", "MAIN_GROUP", "RESCUE_RULE", "SCHEMA_PATH", "SPEC_KEYS", "VARIANTS", "ConfigError",
    "arch_family", "experiment_runs", "linear_settings", "load_config", "merge_over", "name_sources", "profile_chain",
    "read_profile", "read_profiles", "reference_runs", "run_groups", "run_id", "run_matrix", "run_spec", "sweep_figure",
    "sweep_runs", "training_spec", "typed_overrides", "validate_config", "validate_pretrain_data", "validate_spec",
]
