"""Every RETURNN config key netc knows, and what each command does with it (training.md, "Config keys").

A key is exactly one of:
- `Used`: read by the named commands (`check` stands for `check` and `compile`); a command reads only its
  own keys, so an opaque value (`read.Opaque`) of another command's key never stops it;
- `Ignored`: RETURNN reads it, but it only steers RETURNN itself; reported once with the reason;
- `Differs`: changes training in RETURNN and netc does not implement it: "not implemented: training will
  differ from RETURNN", unless the value is one of `neutral` (RETURNN's no-op values);
- `Refused`: an error for the named commands unless the value is one of `accepted`.
A name the registry does not list is reported as one RETURNN does not read either (configs keep helper
variables at the top level); a close registry name is offered as a typo fix.

The key lists come from RETURNN's own reads (`config.value(`, `.bool(`, `.int(`, `.typed_value(` ... in
returnn 1.20261022 and in the Theano-era returnn 1.20190515).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import NetcError, Where
from .read import Document, Opaque

CHECK, TRAIN, DUMP = "check", "train", "dump-dataset"
COMMANDS = (CHECK, TRAIN, DUMP)


@dataclass(frozen=True)
class Used:
    """Read by these commands."""

    commands: frozenset[str]


@dataclass(frozen=True)
class Ignored:
    """Read by RETURNN only to steer itself; netc reports it once with `reason`."""

    reason: str


@dataclass(frozen=True)
class Differs:
    """RETURNN semantics netc lacks: training differs unless the value is one of `neutral`."""

    neutral: tuple[Any, ...] = (None,)


@dataclass(frozen=True)
class Refused:
    """An error for `commands` unless the value is one of `accepted`."""

    reason: str
    hint: str
    commands: frozenset[str] = frozenset({CHECK, TRAIN})
    accepted: tuple[Any, ...] = (None,)


Rule = Used | Ignored | Differs | Refused


def rules(rule: Rule, names: str) -> dict[str, Rule]:
    """One rule for several whitespace-separated key names."""
    return {name: rule for name in names.split()}


NETWORK = Used(frozenset({CHECK, TRAIN}))
DATA_ORDER = Used(frozenset({TRAIN, DUMP}))
TRAINING = Used(frozenset({TRAIN}))
RETURNN_ONLY = "they steer only RETURNN itself: back end, processes, caches"
CODE_NET = "a network or training step built by code (RETURNN's PyTorch/returnn.frontend API) is not a net dict"
LOGGING = "RETURNN's own logging, debugging and profiling"
OTHER_TASKS = "options of RETURNN's forward/search/eval tasks (netc: compile, then netc run)"
THEANO_NET = "network description of RETURNN's line format; `network` replaces it"

KEYS: dict[str, Rule] = {
    **rules(NETWORK, "network num_inputs num_outputs extern_data target sparse_input"),
    "train": Used(frozenset({CHECK, TRAIN, DUMP})),  # check: the dims when the config has none
    **rules(DATA_ORDER, "dev eval batching seq_ordering max_seq_length"),
    **rules(TRAINING, """task num_epochs batch_size max_seqs model save_interval start_epoch random_seed device
        use_normalized_loss log log_verbosity learning_rate learning_rates learning_rate_control
        learning_rate_decay newbob_learning_rate_decay newbob_relative_error_threshold newbob_error_threshold
        newbob_multi_num_epochs newbob_multi_update_interval min_learning_rate learning_rate_file optimizer
        optimizer_epsilon adam nadam adagrad adadelta rmsprop momentum gradient_clip gradient_clip_global_norm
        gradient_noise accum_grad_multiple_step learning_rate_control_error_measure
        adasecant smorms3 mean_normalized_sgd update_multiple_models
        import_model_train_epoch1 preload_from_files load_ignore_missing_vars
        chunking min_chunk_size chunking_variance window pretrain pretrain_learning_rate pretrain_repetitions
        pretrain_construction_algo pretrain_copy_output_layer pretrain_greedy"""),
    # returnn/tf/updater.py: _create_default_optimizer builds AdadeltaOptimizer without a rho
    "adadelta_decay": Ignored("RETURNN TF ignores it (Adadelta's rho stays 0.95), so does netc; set "
                              "optimizer = {'class': 'adadelta', 'rho': ...} to change it"),
    # never read by RETURNN TF (a Theano-era key)
    "nesterov_momentum": Ignored("RETURNN TF ignores it (no Nesterov momentum from this key), so does netc; set "
                                 "optimizer = {'class': 'momentum', 'momentum': ..., 'use_nesterov': True}"),
    **rules(Differs((None, -1)), "truncation"),
    **rules(Differs((None, 0, 0.0, False)), """L1_reg L2_reg
        gradient_clip_norm gradient_clip_avg_norm grad_norm_to_clip_to_zero decouple_constraints
        min_seq_length seq_drop shuffle_frames_of_nseqs max_pad_size
        learning_rate_control_relative_error_relative_lr learning_rate_control_min_num_epochs_per_new_lr
        newbob_relative_error_div_by_old use_learning_rate_control_always reinit_network_each_epoch
        inc_seq_length use_last_best_model reset_updater_vars_mod_step gradient_nan_inf_filter grad_clip
        maximize_grad_norm enforce_min_len1 shuffle_batches chunk_eval train_in_eval use_dummy_datasets
        dataset_random_seed_offset update_batch_size dry_run"""),
    # LayerBase's default for layers that do not set it (netc implements the layer options, not these)
    **rules(Differs((None, 0, 0.0)), "param_variational_noise param_dropout param_dropout_min_ndim"),
    **rules(Differs((None, 1, 1.0)), "newbob_learning_rate_growth learning_rate_growth"),
    **rules(Differs((None, 0, -1)), "load_epoch"),
    **rules(Differs((None,)), """decouple_constraints_factor global_norm_tag gradient_clip_global_norm_tag
        seq_drop_freq online_shuffle_batches reduction_rate reinit context_window start_batch on_size_limit
        packed_tensors packed_batch_size packed_batch_cost packed_fallback_allowed substitute_param_expr
        dataset_pipeline init_new_network_callback init_train_epoch_posthook startup_callback
        load_model_post_hooks train_dummy_dataset_num_seqs dummy_dataset_num_seqs
        num_allowed_consec_invalid_gradient_steps"""),
    **rules(Refused(CODE_NET, "write the network as a `network` dict"), "get_model get_network train_step"),
    **rules(Differs((None,)), """newbob_relative_error_grow_threshold
        dynamic_learning_rate extra_updates torch_optimizer_step"""),
    "default_input": Refused("netc's network input is always the data key 'data'", "rename the data key to 'data'",
                             accepted=(None, "data")),
    **rules(Refused("netc starts training from import_model_train_epoch1 or preload_from_files, not from "
                    "RETURNN's other loading keys", "use import_model_train_epoch1 PATH; to continue a netc run "
                    "use start_epoch auto", frozenset({TRAIN})),
            "load initialize_from_model initialize_from_json load_graph"),
    **rules(Ignored(RETURNN_ONLY), """use_tensorflow use_theano backend behavior_version multiprocessing
        update_on_device device_timeout max_engines cache_size compression patch_atfork tf_session_opts
        tf_cudnn_autotune tf_jit tf_amp tf_static_shapes tf_data_provider_capacity tf_run_options
        tf_native_ctc_zero_infinity torch_amp torch_dataloader_opts torch_dataloader_shard_workers
        torch_cuda_graph torch_batching jax_jit jax_amp jax_static_shapes jax_time_buckets jax_data_prefetch
        jax_compilation_cache_dir jax_default_matmul_precision PYTORCH_CUDA_ALLOC_CONF
        EnableAutoNumpySharedMemPickling propagate_behavior_version_to_subprocs use_train_proc_manager
        use_hot_reloading gpu_local_cpu_affinity file_cache_opts reset_dev_memory_caches default_float_dtype
        optimizer_use_locking check_unsupported_device use_horovod horovod_reduce_type horovod_avg_grad
        horovod_param_sync_step horovod_param_sync_time_diff horovod_scale_lr horovod_dataset_distribution
        distributed_tf torch_distributed share_batches stop_for_resubmission_safety_factor
        stop_for_resubmission_when_low_time_left theano_on_unused_input seq_train_parallel
        deterministic_train apply_cleanup_old_models_to_optim_states grad_scaler need_data testnet_share_params
        stream port blocks_mt_model batch_pruning custom_dev_init_code inf_value
        __debug_dummy_distributed_rank_and_size"""),
    **rules(Ignored("options of returnn.frontend, which netc does not use"), """rf_att_dropout_broadcast
        rf_batch_norm_distributed rf_conformer_conv_norm_use_mask rf_dropout_broadcast
        rf_module_output_keep_dtype rf_moments_float32 rf_moments_use_fixed_masking rf_native_opt
        rf_packed_att_fast_paths rf_packed_warn_regap rf_scatter_use_fixed_masking
        rf_specaugment_num_masks_per_seq rf_use_consistent_same_padding"""),
    **rules(Ignored("RASR (Sprint) only"), """sprint_trainer_exec_path sprint_interface_dataset_opts
        sprint_interface_custom_dataset SprintInterfacePythonFeatureScorer sil_label_idx"""),
    **rules(Ignored(LOGGING), """log_format log_batch_size log_grad_norm tf_log_memory_usage tf_log_dir
        torch_log_memory_usage tf_profile_step tf_profiler_logdir store_tf_profile torch_profile
        torch_watch_stall use_tensorboard tensorboard_opts wandb_opts watch_memory statistics statistics_dtype
        statistics_save_prefix store_metadata_mod_step debug_add_check_numerics_ops debug_grad_summaries
        debug_save_updater_vars debug_shell_before_train_loop debug_shell_in_runner
        debug_shell_in_runner_step debug_shell_first_compute debug_shell_model_broken debug_batch_compute_time
        debug_gradient_norm debug_output_constraints debug_SprintErrorSigOp_perform_time
        dump_model_broken_info use_lovely_tensors ipython web_server_port calculate_exp_loss
        check_learning_rates pause_after_first_seq analyze_dataset blocks_debug_dump_output dump_data dump_json
        save_graph lm_dataset_debug_limit_line_count"""),
    **rules(Ignored(OTHER_TASKS), """forward_batch_size forward_output_layer forward_use_search forward_data
        forward_override_hdf_output forward_auto_split_batch_on_oom forward_step forward_callback output_file
        output_per_seq_file_format output_per_seq_format eval_output_file eval_output_file_per_seq
        eval_use_train_flag eval_datasets eval_batch_size extract extract_output_layer_name search_data
        search_do_eval search_output_file search_output_file_format search_output_layer
        search_train_network_layers search_server output_precision prior_scale posterior_scale
        subtract_priors ctc_prior_file onnx_export allow_skipping_seqs_in_forward hyper_param_tuning
        batch_size_eval max_seqs_eval max_seq_length_eval model_outputs loss_name epoch epoch_start epoch_end
        sort_dataset data_key exclude combine_labels label_file wer_data eval_learning_rate"""),
    **rules(Ignored("netc keeps every checkpoint it writes"), "cleanup_old_models save_epoch1_initial_model"),
    **rules(Ignored("netc always stops on a non-finite score"), "stop_on_nonfinite_train_score"),
    **rules(Ignored("netc initializes the model itself"), "allow_random_model_init"),
    **rules(Ignored(THEANO_NET), """hidden_size hidden_type hidden_name activation bidirectional dropout loss
        bias_init forward_weights_init recurrent sharpgates entropy"""),
}


# ---------------------------------------------------------------- `++key value` and reading needed values


def parse_overrides(args: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """RETURNN's `++key value` command-line pairs (values read as literals; a bare word is a string)."""
    if len(args) % 2 or not all(a.startswith("++") for a in args[::2]):
        raise NetcError(f"expected '++key value' pairs, got {' '.join(args)}", hint="e.g. ++num_epochs 3")
    values: dict[str, Any] = {}
    for key, text in zip(args[::2], args[1::2]):
        try:
            values[key[2:]] = ast.literal_eval(text)
        except (ValueError, SyntaxError, RecursionError, MemoryError):  # deep brackets: RecursionError
            values[key[2:]] = text
    return values


def needed(doc: Document, key: str, default: Any = None) -> Any:
    """The value of a key a command needs; an opaque value anywhere inside it is a located NetcError.

    The error names the key path, the line of the blocked value, what blocked it (`Opaque.reason`) and the
    fix: `++key VALUE`, or `--exec-config` for a trusted file.
    """
    value = doc.values.get(key, default)
    for path, item in opaque_parts(value, (key,)):
        raise opaque_error(doc, path, item)
    return value


def opaque_parts(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Opaque]]:
    """Every opaque value inside `value`, with its key path, depth first."""
    if isinstance(value, Opaque):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from opaque_parts(v, (*path, str(k)))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from opaque_parts(v, (*path, str(i)))


def opaque_error(doc: Document, path: tuple[str, ...], value: Opaque) -> NetcError:
    """`key` is needed but netc could not compute it without running the config."""
    name = ".".join(path)
    return NetcError(f"{name!r} is needed, but netc cannot compute it without running the config: {value.reason}",
                     Where(doc.path, value.line, value.col, key=path[0]),
                     value.hint or f"pass ++{path[0]} VALUE, or --exec-config for a trusted config")


# ---------------------------------------------------------------- accounting for every key


@dataclass(frozen=True)
class Accounting:
    """What one command does with the keys it does not use: warnings to print, in a stable order."""

    ignored: tuple[tuple[str, tuple[str, ...]], ...]  # (reason, keys)
    differs: tuple[str, ...]  # "key (value)"
    unread: tuple[str, ...]  # names no RETURNN code reads

    def warnings(self) -> list[str]:
        """Compact `netc: warning:` lines: one per reason."""
        lines = [f"ignored config keys ({reason}): {', '.join(keys)}" for reason, keys in self.ignored]
        if self.differs:
            lines.append(f"not implemented, training will differ from RETURNN: {', '.join(self.differs)}")
        if self.unread:
            lines.append(f"config names neither RETURNN nor netc reads: {', '.join(self.unread)}")
        return lines


def account(doc: Document, command: str, extra_ignored: Iterable[tuple[str, str]] = (),
            extra_differs: Iterable[str] = ()) -> Accounting:
    """Classify every top-level key of a config for `command`; a refused key is a located NetcError.

    `extra_ignored` adds (key, reason) pairs found elsewhere (dataset options: `train.cache_byte_size`),
    `extra_differs` such options that change training (`train.partition_epoch (2)`).
    A file that is a bare net dict (no `network` key, every value a dict) has no config keys.
    """
    if "network" not in doc.values and all(isinstance(v, dict) for v in doc.values.values()):
        return Accounting((), (), ())
    by_reason: dict[str, list[str]] = {}
    differs: list[str] = []
    unread: list[str] = []
    for key, value in doc.values.items():
        rule = KEYS.get(key)
        if rule is None:
            if not key.startswith("_"):  # Python's private names: `_`, `__file__`
                unread.append(key + typo_note(key))
        elif isinstance(rule, Ignored):
            by_reason.setdefault(rule.reason, []).append(key)
        elif isinstance(rule, Differs) and not is_one_of(value, rule.neutral):
            differs.append(f"{key} ({'not computed' if isinstance(value, Opaque) else repr(value)})")
        elif isinstance(rule, Differs):
            by_reason.setdefault("their values are RETURNN's no-ops", []).append(key)
        elif isinstance(rule, Refused) and command in rule.commands and not is_one_of(value, rule.accepted):
            shown = f"<not computed: {value.reason}>" if isinstance(value, Opaque) else repr(value)
            raise NetcError(f"{key} = {shown}: {rule.reason}", doc.where(key, key=key), rule.hint)
    for key, reason in extra_ignored:
        by_reason.setdefault(reason, []).append(key)
    differs.extend(extra_differs)
    return Accounting(tuple((r, tuple(k)) for r, k in by_reason.items()), tuple(differs), tuple(unread))


def is_one_of(value: Any, values: tuple[Any, ...]) -> bool:
    """`value in values` without True == 1 and 1 == 1.0 surprises across types."""
    return any(type(value) is type(v) and value == v for v in values)


def typo_note(key: str) -> str:
    close = difflib.get_close_matches(key, list(KEYS), n=1, cutoff=0.85)
    return f" (did you mean {close[0]!r}?)" if close else ""
