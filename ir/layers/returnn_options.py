"""RETURNN layer options that netc knows by name but does not implement, with what each one means.

An option of a layer dict that netc's layer class lacks is reported as "unknown option" with a did-you-mean,
unless RETURNN has it: then the error says that it is RETURNN's option, what it does, and what to do. The names
and meanings come from RETURNN TF's `LayerBase.__init__` (every layer) and the `__init__` of the layer classes
netc implements (returnn/tf/layers/basic.py, rec.py).
"""

from __future__ import annotations

REMOVE = "remove it; training (and a trained model's numbers) will differ from RETURNN's with it"
NO_NUMBER = "remove it: it changes no number"
NO_DIM_TAGS = "remove it: netc infers every layer's type and names its dims itself (netc check prints them)"
INIT = ("netc initialises as RETURNN's defaults do (glorot-uniform weights, zero biases): a training from scratch "
        "starts elsewhere than RETURNN's; a model whose parameters are loaded (netc compile --params, "
        "import_model_train_epoch1) is unaffected")
REC_UNIT = "remove it: it is an option of layers inside a rec subnetwork unit, which netc does not support"

# option -> (meaning, hint); options of every layer (LayerBase.__init__)
EVERY_LAYER: dict[str, tuple[str, str]] = {
    "out_type": ("the output's type, declared instead of inferred", NO_DIM_TAGS),
    "out_shape": ("a check of the output's dims", NO_DIM_TAGS),
    "out_dim": ("a dim tag for the output feature dim", "remove it and give the size as n_out"),
    "in_dim": ("a dim tag for the input feature dim", NO_DIM_TAGS),
    "size_target": ("in training, the output's sequence lengths are taken from this target",
                    "remove it: netc's output lengths come from the layer's input"),
    "reuse_params": ("shares the parameters of another layer", "remove it: each netc layer has its own parameters"),
    "name_scope": ("a custom TF name scope, which renames or shares the layer's parameters",
                   "remove it: netc names parameters as RETURNN's default scope (layer/W)"),
    "param_device": ("the TF device that holds the layer's parameters", NO_NUMBER),
    "only_on_eval": ("the layer is computed only in evaluation, not in training", REMOVE),
    "only_on_search": ("the layer is computed only in search, i.e. beam decoding", REMOVE),
    "copy_output_loss_from_source_idx": ("the layer reports the loss of one of its sources as its own", REMOVE),
    "batch_norm": ("batch normalization of the layer's output", "use a separate batch_norm layer after this one"),
    "darc1": ("the DARC1 regularizer of Kawaguchi et al. 2017 on the output, added to the loss", REMOVE),
    "spatial_smoothing": ("a spatial smoothing energy of the output, added to the loss", REMOVE),
    "param_variational_noise": ("Gaussian noise added to the layer's parameters in training", REMOVE),
    "param_dropout": ("weight dropout: dropout on the layer's parameters in training", REMOVE),
    "param_dropout_min_ndim": ("param_dropout only on parameters of at least this rank", REMOVE),
    "updater_opts": ("optimizer options, such as the learning rate, for this layer's parameters",
                     "remove it: netc trains every parameter with the config's optimizer"),
    "trainable": ("false keeps the layer's parameters fixed in training",
                  "remove it: netc trains every parameter; true, and false on a layer without parameters, are "
                  "accepted"),
    "custom_param_importer": ("a custom way of loading the layer's parameters from a checkpoint",
                              "remove it: netc loads parameters by RETURNN's names"),
    "register_as_extern_data": ("registers the layer's output as a data key", REMOVE),
    "control_dependencies_on_output": ("TF ops that run after the layer's output", NO_NUMBER),
    "debug_print_layer_output": ("prints the layer's output in every step", NO_NUMBER),
    "initial_output": ("the layer's value before the first frame, inside a rec unit", REC_UNIT),
    "state": ("the layer's explicit state inside a rec unit", REC_UNIT),
    "need_last": ("keeps the last frame of a layer inside a rec unit", REC_UNIT),
    "encapsulate": ("builds all sublayers of a subnetwork at once", NO_NUMBER),
    "collocate_with": ("moves a layer inside a rec unit together with others", REC_UNIT),
}
LINEAR: dict[str, tuple[str, str]] = {
    "forward_weights_init": ("the initializer of W", INIT),
    "bias_init": ("the initializer of b", INIT),
    "grad_filter": ("clips the gradient with respect to the input", REMOVE),
}
# class -> its own options (RETURNN's LinearLayer, RecLayer, ConvLayer, ... __init__)
BY_CLASS: dict[str, dict[str, tuple[str, str]]] = {
    "linear": LINEAR,
    "softmax": LINEAR,
    "rec": {
        "unit_opts": ("options of the recurrent cell, e.g. forget_bias", REMOVE),
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
    },
    "conv": {
        "groups": ("grouped convolution: the channels split into this many groups", REMOVE),
        "forward_weights_init": ("the initializer of W", INIT),
        "bias_init": ("the initializer of the bias", INIT),
        "filter": ("the filter taken from another layer", REMOVE),
        "bias": ("the bias taken from another layer", REMOVE),
        "filter_perm": ("a permutation of the filter's axes", REMOVE),
        "in_spatial_dims": ("dim tags of the input's spatial axes", NO_DIM_TAGS),
        "out_spatial_dims": ("dim tags of the output's spatial axes", NO_DIM_TAGS),
        "auto_use_channel_first": ("computes in NCHW layout on a GPU", NO_NUMBER),
        "pad_seq_len_to_power": ("pads each batch's time axis to a power of this number", REMOVE),
    },
    "pool": {
        "in_spatial_dims": ("dim tags of the input's spatial axes", NO_DIM_TAGS),
        "out_spatial_dims": ("dim tags of the output's spatial axes", NO_DIM_TAGS),
        "use_channel_first": ("computes in NCHW layout", NO_NUMBER),
    },
    "combine": {
        "eval_locals": ("names bound for the eval string", "write the values into the eval string"),
        "eval_for_output_loss": ("the eval is applied to the output loss", REMOVE),
        "allow_broadcast_all_sources": ("allows an output that no single source has", REMOVE),
    },
    "eval": {"eval_locals": ("names bound for the eval string", "write the values into the eval string")},
    "batch_norm": {
        "force_sample": ("uses the running statistics also in training", REMOVE),
        "gamma_init": ("the initializer of gamma", INIT),
        "beta_init": ("the initializer of beta", INIT),
    },
    "reduce": {"enforce_batch_dim_axis": ("moves the batch axis of the output", REMOVE)},
    "window": {"window_dim": ("a dim tag for the window axis", NO_DIM_TAGS),
               "out_spatial_dim": ("a dim tag for the output's time axis", NO_DIM_TAGS)},
    "activation": {"opts": ("options of the activation function", REMOVE)},
    "copy": {"extra_deps": ("layers computed before this one, without using their values",
                            "remove it: it changes no number of this layer")},
}


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


def accepted_note(class_name: str, key: str) -> str | None:
    """What netc says of a RETURNN option it accepts without implementing it, because it changes no number of a
    model (a layout, a device, a debug print) or only where a training from scratch starts (an initializer);
    None for the options that are errors."""
    known = returnn_option(class_name, key)
    if known is None or known[1] not in (INIT, NO_NUMBER):
        return None
    meaning, hint = known
    return f"RETURNN's option {key!r} ({meaning}) is ignored: " + ("it changes no number" if hint == NO_NUMBER
                                                                   else hint)


def returnn_option(class_name: str, key: str) -> tuple[str, str] | None:
    """(meaning, hint) of a RETURNN option of this layer class that netc does not implement, else None."""
    return BY_CLASS.get(class_name, {}).get(key) or EVERY_LAYER.get(key)
