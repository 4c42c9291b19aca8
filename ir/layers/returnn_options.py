"""RETURNN layer options that netc knows by name but does not implement, with what each one means.

An option of a layer dict that netc's layer class lacks is reported as "unknown option" with a did-you-mean,
unless RETURNN has it: then the error says that it is RETURNN's option, what it does, and what to do. The names
and meanings come from RETURNN TF's `LayerBase.__init__` (every layer) and the `__init__` of the layer classes
netc implements (returnn/tf/layers/basic.py, rec.py).
"""

from __future__ import annotations

from typing import Any

REMOVE = "remove it; training (and a trained model's numbers) will differ from RETURNN's with it"
NO_NUMBER = "remove it: it changes no number"
NO_DIM_TAGS = "remove it: netc infers every layer's type and names its dims itself (netc check prints them)"
INIT = ("netc initialises as RETURNN's defaults do (glorot-uniform weights, zero biases): a training from scratch "
        "starts elsewhere than RETURNN's; a model whose parameters are loaded (netc compile --params, "
        "import_model_train_epoch1) is unaffected")
REC_UNIT = "remove it: it is an option of layers inside a rec subnetwork unit, which netc does not support"

# option -> (meaning, hint); options of every layer (LayerBase.__init__)
EVERY_LAYER: dict[str, tuple[str, str]] = {
    "out_shape": ("a check of the output's dims", NO_DIM_TAGS),
    "out_dim": ("a dim tag for the output feature dim", "remove it and give the size as n_out"),
    "in_dim": ("a dim tag for the input feature dim", NO_DIM_TAGS),
    "size_target": ("in training, the output's sequence lengths are taken from this target",
                    "remove it: netc's output lengths come from the layer's input"),
    "name_scope": ("a custom TF name scope, which renames or shares the layer's parameters",
                   "remove it: netc names parameters as RETURNN's default scope (layer/W)"),
    "param_device": ("the TF device that holds the layer's parameters", NO_NUMBER),
    "only_on_search": ("the layer is computed only in search, i.e. beam decoding", REMOVE),
    "copy_output_loss_from_source_idx": ("the layer reports the loss of one of its sources as its own", REMOVE),
    "updater_opts": ("optimizer options, such as the learning rate, for this layer's parameters",
                     "remove it: netc trains every parameter with the config's optimizer"),
    "custom_param_importer": ("a custom way of loading the layer's parameters from a checkpoint",
                              "remove it: netc loads parameters by RETURNN's names"),
    "register_as_extern_data": ("registers the layer's output as a data key for other layers' targets", NO_NUMBER),
    "control_dependencies_on_output": ("TF ops that run after the layer's output", NO_NUMBER),
    "debug_print_layer_output": ("prints the layer's output in every step", NO_NUMBER),
    "initial_output": ("the layer's value before the first frame, inside a rec unit", REC_UNIT),
    "state": ("the layer's explicit state inside a rec unit", REC_UNIT),
    "need_last": ("keeps the last frame of a layer inside a rec unit", REC_UNIT),
    "encapsulate": ("builds all sublayers of a subnetwork at once", NO_NUMBER),
    "collocate_with": ("moves a layer inside a rec unit together with others", REC_UNIT),
}
THEANO_SEQ = ("remove it: it is an option of RETURNN Theano's sequence-training output layer (losses sprint, "
              "fast_bw), which netc does not implement")
PRIORS = ("netc's model gives the posteriors; compute the priors with `netc prior` and apply them with "
          "`netc compile --prior P --prior-scale a`")
# RETURNN Theano's OutputLayer and SequenceOutputLayer (NetworkOutputLayer.py)
THEANO_OUTPUT: dict[str, tuple[str, str]] = {
    "compute_priors": ("RETURNN Theano: a running average of the posteriors kept as a parameter 'priors'", PRIORS),
    "compute_priors_exp_average": ("RETURNN Theano: the decay of compute_priors' average", PRIORS),
    "compute_priors_accumulate_batches": ("RETURNN Theano: batches compute_priors accumulates", PRIORS),
    "prior_scale": ("RETURNN Theano: the scale of the log prior a sequence loss subtracts", PRIORS),
    "ce_smoothing": ("RETURNN Theano: cross-entropy mixed into a sequence-training loss", THEANO_SEQ),
    "ce_target_layer_align": ("RETURNN Theano: the layer whose alignment ce_smoothing uses", THEANO_SEQ),
    "sprint_opts": ("RETURNN Theano: how the sequence loss starts RASR (Sprint)", THEANO_SEQ),
    "loss_like_ce": ("RETURNN Theano: a sequence loss scored like cross-entropy", THEANO_SEQ),
    "substract_prior_from_output": ("RETURNN Theano: the output divided by the priors", "remove it and compile "
                                    "with `netc compile --prior P` (the scaled log-likelihoods)"),
}
THEANO = "RETURNN Theano"  # its Layer.__init__ (NetworkBaseLayer.py): options RETURNN TF no longer has
EVERY_LAYER |= {
    "device": (f"{THEANO}: the device that computes the layer", NO_NUMBER),
    "L1": (f"{THEANO}: L1 * sum |p| of the layer's parameters added to the cost", REMOVE),
    "varreg": (f"{THEANO}: a variance regularizer of the output added to the cost", REMOVE),
    "cost_scale": (f"{THEANO}: the factor of the layer's cost", 'write it as "loss_scale" (RETURNN TF\'s name)'),
    "input_scale": (f"{THEANO}: a factor on the layer's input", REMOVE),
    "gradient_scale": (f"{THEANO}: a factor on the gradient through the layer", REMOVE),
    "sparse_filtering": (f"{THEANO}: sparse filtering of the output", REMOVE),
    "residual": (f"{THEANO}: the input added to the output", "write the sum as a combine layer"),
    "carry": (f"{THEANO}: a highway carry gate (Theano itself asserts it is unset)", "remove it"),
    "batch_drop": (f"{THEANO}: dropout of whole sequences", REMOVE),
    "layer_drop": (f"{THEANO}: the layer skipped at random in training", REMOVE),
    "consensus": (f"{THEANO}: how several sources are combined", REMOVE),
    "weight_clip": (f"{THEANO}: the parameters clipped after each update", REMOVE),
}
LINEAR: dict[str, tuple[str, str]] = {
    "forward_weights_init": ("the initializer of W", INIT),
    "bias_init": ("the initializer of b", INIT),
}
CONV: dict[str, tuple[str, str]] = {
    "forward_weights_init": ("the initializer of W", INIT),
    "bias_init": ("the initializer of the bias", INIT),
    "filter": ("the filter taken from another layer", REMOVE),
    "bias": ("the bias taken from another layer", REMOVE),
    "filter_perm": ("a permutation of the filter's axes", REMOVE),
    "out_spatial_dims": ("dim tags of the output's spatial axes", NO_DIM_TAGS),
    "auto_use_channel_first": ("computes in NCHW layout on a GPU", NO_NUMBER),
    "pad_seq_len_to_power": ("pads each batch's time axis to a power of this number", REMOVE),
    "use_time_mask": ("zeros the frames beyond each sequence's end before convolving; netc always computes each "
                      "sequence alone, as with it", NO_NUMBER),
}
EXTRA_DEPS = ("layers computed before this one, without using their values", NO_NUMBER)
REC: dict[str, tuple[str, str]] = {
    "initial_state": ("the LSTM's state before the first frame; netc starts from zeros", REMOVE),
    "input_projection": ("false: the native LSTM reads its 4 * n_out inputs without W", REMOVE),
    "forward_weights_init": ("the initializer of the input weights", INIT),
    "recurrent_weights_init": ("the initializer of the recurrent weights", INIT),
    "bias_init": ("the initializer of the bias", INIT),
    "max_seq_len_via": ("max_seq_len taken from another layer, for subnetwork units", REC_UNIT),
    "back_prop": ("false: no gradient through the recurrence", REMOVE),
    "include_eos": ("the loop also runs on the end-of-sequence frame, for subnetwork units", REC_UNIT),
    "optimize_move_layers_out": ("moves layers of a subnetwork unit out of its loop", REC_UNIT),
    "cheating": ("search keeps the reference target in the beam, for subnetwork units", REC_UNIT),
    "use_global_rec_step_offset": ("counts frames from a global step offset, for subnetwork units", REC_UNIT),
    "axis": ("the axis to iterate over, as a dim tag", "remove it: netc runs over the time axis"),
    "debug": ("debug output of the native LSTM kernel", NO_NUMBER),
    # RETURNN Theano's RecurrentUnitLayer (NetworkRecurrentLayer.py)
    "truncation": ("RETURNN Theano: backpropagation truncated after this many frames", REMOVE),
    "n_dec": ("RETURNN Theano: the decoder's number of steps", REMOVE),
    "lm": ("RETURNN Theano: the decoder feeds back its own output (an RNN language model)", REMOVE),
    "context": ("RETURNN Theano: a context window of the recurrence", REMOVE),
    "bias_random_init_forget_shift": ("RETURNN Theano: a shift of the forget gate's initial bias", INIT),
    "n_units": ("RETURNN Theano: the cell count of a model read from HDF (n_out)", 'write it as "n_out"'),
}
# class -> its own options (RETURNN's LinearLayer, RecLayer, ConvLayer, ... __init__)
BY_CLASS: dict[str, dict[str, tuple[str, str]]] = {
    "linear": LINEAR,
    "softmax": LINEAR | THEANO_OUTPUT,
    "conv": CONV,
    "pool": {
        "out_spatial_dims": ("dim tags of the output's spatial axes", NO_DIM_TAGS),
        "use_channel_first": ("computes in NCHW layout", NO_NUMBER),
    },
    "combine": {
        "eval_locals": ("names bound for the eval string", "write the values into the eval string"),
        "eval_for_output_loss": ("the eval is applied to the output loss", REMOVE),
        "allow_broadcast_all_sources": ("allows an output that no single source has", REMOVE),
    },
    "eval": {"eval_locals": ("names bound for the eval string", "write the values into the eval string"),
             "eval_for_output_loss": ("the eval is applied to the output loss", REMOVE),
             "allow_broadcast_all_sources": ("allows an output that no single source has", REMOVE),
             "kind": ("combine's kind; an eval layer's kind is always eval", "remove it")},
    "rec": REC,
    "batch_norm": {
        "extra_deps": EXTRA_DEPS,
        "force_sample": ("uses the running statistics also in training", REMOVE),
        "gamma_init": ("the initializer of gamma", INIT),
        "beta_init": ("the initializer of beta", INIT),
    },
    "reduce": {"enforce_batch_dim_axis": ("moves the batch axis of the output", REMOVE)},
    "reinterpret_data": {
        "set_dim_tags": ("gives axes new dim tags (Python Dim objects)", NO_DIM_TAGS),
        "switch_axes": ("exchanges the roles of two axes (e.g. batch and time)",
                        "remove it, or move the axes with swap_axes: netc's dims keep their roles"),
        "batch_dim_base": ("takes the batch dim from another layer", "remove it: netc has one batch"),
    },
    "window": {"window": ("RETURNN Theano's window size; its output merges the window into the features",
                          'write "window_size" (RETURNN TF: [B, T, window, F]) and a merge_dims "except_time" after '
                          "it for Theano's [B, T, window * F]"),
               "window_dim": ("a dim tag for the window axis", NO_DIM_TAGS),
               "out_spatial_dim": ("a dim tag for the output's time axis", NO_DIM_TAGS)},
    "activation": {"opts": ("options of the activation function", REMOVE)},
    "copy": {"extra_deps": EXTRA_DEPS},
    "dropout": {"extra_deps": EXTRA_DEPS},
    "transposed_conv": {key: value for key, value in CONV.items() if key not in ("groups", "auto_use_channel_first",
                                                                                 "pad_seq_len_to_power")},
    "downsample": {
        "sample_target": (f"{THEANO}: the targets downsampled with the input, for a loss on the short time axis",
                          "remove it: netc's losses read the targets of the data's time axis"),
        "fit_target": (f"{THEANO}: the targets cut to the downsampled length", "remove it"),
        "base": (f"{THEANO}: the targets taken from another downsample layer", "remove it"),
    },
    "subnetwork": {"load_on_init": ("the subnetwork's parameters loaded from a checkpoint when training starts",
                                    INIT)},
    "variable": {"init_by_layer": ("the initial value taken from another layer's output", INIT),
                 "non_critical_for_restore": ("a missing value in a checkpoint is not an error", NO_NUMBER),
                 "saveable": ("false: the value is not stored in checkpoints", REMOVE)},
}
TRAFO_REC = "remove it: it is an option of the per-step form inside a rec subnetwork unit"
BY_CLASS |= {  # returnn/tf/layers/rec.py SelfAttentionLayer, PositionalEncodingLayer, RelativePositionalEncodingLayer
    "self_attention": {
        "forward_weights_init": ("the initializer of QKV", INIT),
        "initial_state": ("keys and values before the first frame, for the per-step form", TRAFO_REC),
        "restrict_state_to_last_seq": ("keeps only the last sequence's keys and values as state", TRAFO_REC),
        "state_var_lengths": ("the number of keys in the state, for decoding in RASR", TRAFO_REC),
    },
    "positional_encoding": {"axis": ("the axis whose positions are encoded", 'remove it: netc encodes "T"')},
    "relative_positional_encoding": {
        "forward_weights_init": ("the initializer of encoding_matrix", INIT),
        "query_spatial_dim": ("the axis of the queries", "remove it: netc relates the input's time axis to itself"),
        "key_value_spatial_dim": ("the axis of the keys", "remove it: netc relates the input's time axis to itself"),
        "query_offset": ("an offset of the query positions", "remove it: netc's queries start at position 0"),
    },
}


# option -> the values that are RETURNN's default (its `__init__` signatures): a config that writes them out
# changes nothing, so they are accepted silently whatever netc says of other values
NOT_SET: tuple[Any, ...] = (None,)
DEFAULTS: dict[str, tuple[Any, ...]] = {
    "param_device": NOT_SET,
    "out_shape": NOT_SET, "out_dim": NOT_SET, "in_dim": NOT_SET, "size_target": NOT_SET, "name_scope": NOT_SET,
    "only_on_search": (None, False), "copy_output_loss_from_source_idx": NOT_SET, "updater_opts": (None, {}),
    "custom_param_importer": NOT_SET, "register_as_extern_data": NOT_SET,
    "control_dependencies_on_output": NOT_SET, "debug_print_layer_output": (None, False),
    "initial_output": NOT_SET, "state": NOT_SET, "need_last": (False,), "encapsulate": (False,),
    "collocate_with": (None, []), "forward_weights_init": NOT_SET, "recurrent_weights_init": NOT_SET,
    "bias_init": NOT_SET, "use_transposed_weights": (False,), "initial_state": (None, "zeros"),
    "input_projection": (True,), "back_prop": (None, True), "include_eos": (False,), "cheating": (False,),
    "use_global_rec_step_offset": (False,), "max_seq_len_via": NOT_SET, "axis": NOT_SET,
    "filter": NOT_SET, "bias": NOT_SET, "filter_perm": NOT_SET,
    "out_spatial_dims": NOT_SET, "pad_seq_len_to_power": NOT_SET, "eval_locals": (None, {}),
    "eval_for_output_loss": (False,), "force_sample": (False,), "window_dim": NOT_SET, "out_spatial_dim": NOT_SET,
    "opts": (None, {}), "extra_deps": (None, [], ()), "debug": (None, False), "load_on_init": NOT_SET,
    "init_by_layer": NOT_SET, "saveable": (True,), "non_critical_for_restore": (False,),
    "device": NOT_SET, "L1": (0, 0.0), "varreg": (0, 0.0), "cost_scale": (1, 1.0), "input_scale": (1, 1.0),
    "gradient_scale": (1, 1.0), "sparse_filtering": (False,), "residual": (False,), "carry": (False,),
    "batch_drop": (False,), "layer_drop": (0, 0.0), "consensus": ("flat",), "weight_clip": (0, 0.0),
    "sample_target": (False,), "fit_target": (False,), "base": NOT_SET,
    "truncation": (-1,), "n_dec": (0,), "lm": (False,), "context": (-1,), "bias_random_init_forget_shift": (0, 0.0),
    "n_units": NOT_SET, "restrict_state_to_last_seq": (False,), "state_var_lengths": NOT_SET,
    "query_spatial_dim": NOT_SET, "key_value_spatial_dim": NOT_SET, "query_offset": NOT_SET,
}


def is_default(class_name: str, key: str, value: Any) -> bool:
    """Whether `value` is RETURNN's default of this option (of a class netc implements): setting it changes
    nothing. Compared by type too (`1` is not `True`)."""
    if returnn_option(class_name, key) is None:
        return False
    return any(type(value) is type(d) and value == d for d in DEFAULTS.get(key, ()))


# Layer classes of RETURNN's Theano back end (`Network*Layer.py` of RETURNN 1.2019, e.g. in its demos
# `demo-theano-*.config`) that RETURNN TF does not have: RETURNN itself refuses them today.
THEANO_LAYER_CLASSES = frozenset("""
act_lstm adaptive_depth add_zero_rows align associative_lstm base batch_to_time bin_op blur calc_step calign
chunking chunking_sublayer clip clustersubnet collapse concat_batch conv2 conv_1d conv_base conv_fmp convpool
corruption decoder deep_lstm detection dft_layer_abs dim_to_time dual dump duplicate_index_batch embedding
energy_normalization_layer errors falign frame_concat_zero frame_cutoff fstdalign gaussian_filter_1d generic_code
generic_lstm gru hdf5 hidden_shared ibt idx_to_vec input_base interp invalignsegment invalignsegment2 kernel
length_projection length_unit linear_comb linear_recurrent ln_lstm lstm lstm2 lstm3 lstm_complex lstm_half_gates
lstm_opt lstm_proj_gates lstm_simple mdlstm mfcc_layer native native_lstm polynomial_expansion preemphasis_layer
random_route random_selection rbf recurrent remove_rows rep resnet reverse segfinal signal_router signal_splitter
sra sru state_to_act state_vector time_blur time_concat time_flat time_shift time_to_batch time_warp
time_warp_global torch trunc window_context""".split())


def theano_class_hint(class_name: str) -> str | None:
    """The hint for a layer class only RETURNN's Theano back end had, else None."""
    if class_name not in THEANO_LAYER_CLASSES:
        return None
    return (f"{class_name!r} is a layer class of RETURNN's Theano back end, which RETURNN TF (and netc) do not "
            'read; write the net with RETURNN TF layers, e.g. {"class": "rec", "unit": "nativelstm2", "n_out": 10} '
            "for an LSTM (netc check lists the classes it knows)")


UNIMPLEMENTED_CLASSES = {  # RETURNN TF layer classes netc knows and does not compute (docs/netdict.md)
    "cum_concat": "a growing state inside a rec unit, and moved out of it a dim with lengths per frame, which "
                  "netc's types do not have",
    "masked_computation": "a sub-layer computed only where a bool mask is true, its state kept elsewhere: a nested "
                          "unit that netc's loops do not have",
    "unmask": "the inverse of masked_computation, which netc does not implement",
}


def unimplemented_class_hint(class_name: str) -> str | None:
    """Why netc does not compute a RETURNN TF layer class it knows (`UNIMPLEMENTED_CLASSES`), else None."""
    if class_name not in UNIMPLEMENTED_CLASSES:
        return None
    return (f"{class_name!r} is a RETURNN TF layer class netc does not implement: it needs "
            f"{UNIMPLEMENTED_CLASSES[class_name]} (docs/netdict.md \"Not implemented\")")


def accepted_note(class_name: str, key: str, value: Any) -> str | None:
    """What netc says of a RETURNN option it accepts without implementing it, because it changes no number of a
    model (a layout, a device, a debug print) or only where a training from scratch starts (an initializer);
    None for the options that are errors, and for RETURNN's default values (nothing to say)."""
    if is_default(class_name, key, value):
        return None
    known = returnn_option(class_name, key)
    if known is None or known[1] not in (INIT, NO_NUMBER, PRIORS):
        return None
    meaning, hint = known
    return f"RETURNN's option {key!r} ({meaning}) is ignored: " + ("it changes no number" if hint == NO_NUMBER
                                                                   else hint)


def returnn_option(class_name: str, key: str) -> tuple[str, str] | None:
    """(meaning, hint) of a RETURNN option of this layer class that netc does not implement, else None."""
    return BY_CLASS.get(class_name, {}).get(key) or EVERY_LAYER.get(key)
