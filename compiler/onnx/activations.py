"""Activation functions as ONNX ops, one row per activation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from netc.ir import Act

from .builder import OnnxBuilder

Emit = Callable[[OnnxBuilder, str, str, int], str]


def unary(op_type: str, **attrs: object) -> Emit:
    return lambda b, x, name, opset: b.op(op_type, x, name=name, **attrs)


def swish(b: OnnxBuilder, x: str, name: str, opset: int) -> str:
    return b.op("Mul", x, b.op("Sigmoid", x, name=f"{name}/sigmoid"), name=name)


def square(b: OnnxBuilder, x: str, name: str, opset: int) -> str:
    return b.op("Mul", x, x, name=name)


def gelu(b: OnnxBuilder, x: str, name: str, opset: int) -> str:
    """Exact GELU, x * (1 + erf(x / sqrt 2)) / 2; a single op from opset 20 on."""
    if opset >= 20:
        return b.op("Gelu", x, name=name)
    scaled = b.op("Mul", x, b.const(np.float32(1 / math.sqrt(2)), np.float32), name=f"{name}/scale")
    one_plus = b.op("Add", b.op("Erf", scaled, name=f"{name}/erf"), b.const(np.float32(1), np.float32),
                    name=f"{name}/add")
    half_x = b.op("Mul", x, b.const(np.float32(0.5), np.float32), name=f"{name}/half")
    return b.op("Mul", half_x, one_plus, name=name)


def relu6(b: OnnxBuilder, x: str, name: str, opset: int) -> str:
    return b.op("Clip", x, b.const(np.float32(0), np.float32), b.const(np.float32(6), np.float32), name=name)


def log_sigmoid(b: OnnxBuilder, x: str, name: str, opset: int) -> str:
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    softplus = b.op("Softplus", b.op("Neg", x, name=f"{name}/neg"), name=f"{name}/softplus")
    return b.op("Neg", softplus, name=name)


ACTIVATIONS: dict[Act, Emit] = {
    Act.RELU: unary("Relu"),
    Act.TANH: unary("Tanh"),
    Act.SIGMOID: unary("Sigmoid"),
    Act.SOFTMAX: unary("Softmax", axis=-1),
    Act.LOG_SOFTMAX: unary("LogSoftmax", axis=-1),
    Act.ELU: unary("Elu", alpha=1.0),
    Act.SELU: unary("Selu"),
    Act.GELU: gelu,
    Act.SOFTPLUS: unary("Softplus"),
    Act.SWISH: swish,
    Act.ABS: unary("Abs"),
    Act.EXP: unary("Exp"),
    Act.SQUARE: square,
    Act.RELU6: relu6,
    Act.LEAKY_RELU: unary("LeakyRelu", alpha=0.2),
    Act.SOFTSIGN: unary("Softsign"),
    Act.LOG_SIGMOID: log_sigmoid,
    Act.SQRT: unary("Sqrt"),
    Act.LOG: unary("Log"),
    Act.NEGATIVE: unary("Neg"),
    Act.SIN: unary("Sin"),
    Act.COS: unary("Cos"),
}


def apply_activation(b: OnnxBuilder, act: Act, x: str, name: str, opset: int) -> str:
    """act(x); identity adds no node."""
    if act is Act.IDENTITY:
        return x
    return ACTIVATIONS[act](b, x, name, opset)
