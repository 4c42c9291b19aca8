"""Layer classes, each declared once: options, validation, shape rule, parameters."""

from netc.ir.layers.attention import GenericAttention, SoftmaxOverSpatial
from netc.ir.layers.base import Layer, LossOpts, read_layer, to_config
from netc.ir.layers.chunking import TimeChunking, TimeUnChunking
from netc.ir.layers.conv import Conv, Pool, TransposedConv
from netc.ir.layers.dot import Dot
from netc.ir.layers.elementwise import Combine, Compare, Constant, Eval, Gating, Length, Reduce, ReduceOut
from netc.ir.layers.linear import Affine, Linear, Softmax
from netc.ir.layers.norm import BatchNorm, LayerNorm, Norm
from netc.ir.layers.rec import Rec
from netc.ir.layers.rec_cell import GetLastHiddenState, RnnCell
from netc.ir.layers.reshape import ExpandDims, MergeDims, Pad, ReinterpretData, Slice, SplitDims, Squeeze, SwapAxes
from netc.ir.layers.sampling import Downsample, Upsample
from netc.ir.layers.search import Choice, Decide
from netc.ir.layers.select import Gather, GatherNd, Switch
from netc.ir.layers.self_attention import PositionalEncoding, RelativePositionalEncoding, SelfAttention
from netc.ir.layers.simple import Activation, Copy, Dropout, PassThrough
from netc.ir.layers.subnet import Subnetwork
from netc.ir.layers.variable import Variable
from netc.ir.layers.window import Window

LAYER_TYPES: tuple[type[Layer], ...] = (Linear, Softmax, Rec, Copy, Activation, Dropout, SplitDims, MergeDims,
                                         SwapAxes, ExpandDims, Squeeze, Slice, Pad, Combine, Eval,
                                         Gating, Constant, Reduce, Length, LayerNorm, Norm, BatchNorm,
                                         Window, Conv, Pool, Subnetwork,
                                         ReinterpretData, Downsample, Upsample, Variable, Dot,
                                         TransposedConv, TimeChunking, TimeUnChunking, Choice, Decide, Compare,
                                         RnnCell, GetLastHiddenState, SoftmaxOverSpatial, GenericAttention,
                                         ReduceOut, SelfAttention, PositionalEncoding, RelativePositionalEncoding,
                                         Switch, Gather, GatherNd)
CLASSES: dict[str, type[Layer]] = {
    name: cls for cls in LAYER_TYPES for name in (cls.class_name, *cls.aliases)
}

__all__ = ["CLASSES", "LAYER_TYPES", "Activation", "Affine", "BatchNorm", "Choice", "Combine", "Compare", "Constant",
           "Conv", "Copy", "Decide", "Dot", "Downsample", "Dropout", "Eval", "ExpandDims", "Gather",
           "GatherNd", "Gating", "GenericAttention", "GetLastHiddenState", "Layer", "LayerNorm", "Length", "Linear",
           "LossOpts",
           "MergeDims", "Norm", "Pad", "PassThrough", "Pool", "PositionalEncoding", "Rec", "Reduce", "ReduceOut",
           "ReinterpretData", "RelativePositionalEncoding", "RnnCell", "SelfAttention", "Slice", "Softmax",
           "SoftmaxOverSpatial", "SplitDims", "Squeeze", "Subnetwork", "SwapAxes", "Switch", "TimeChunking",
           "TimeUnChunking", "TransposedConv", "Upsample", "Variable", "Window", "read_layer", "to_config"]
