"""A small ONNX graph builder: unique value names, initializers, nodes in emission order."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper


class OnnxBuilder:
    """Builds one model in place; every value name is made unique once, here.

    NOTE: nodes and initializers go straight into `model.graph`: onnx.helper's make_graph and
    make_model copy every weight twice, which dominates compile time for large models.
    """

    def __init__(self) -> None:
        self.model = onnx.ModelProto()
        self.graph = self.model.graph
        self.used_names: set[str] = set()
        self.constants: dict[tuple[str, bytes, tuple[int, ...]], str] = {}
        self.shared: dict[int, np.ndarray] = {}  # id -> array: parameters, each stored once however often used
        self.stored: dict[int, str] = {}  # id of a shared array -> its initializer

    def fresh(self, hint: str) -> str:
        """A value name based on `hint` that is not used yet."""
        name, i = hint, 1
        while name in self.used_names:
            i += 1
            name = f"{hint}_{i}"
        self.used_names.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim an exact name (graph inputs and outputs)."""
        if name in self.used_names:
            raise ValueError(f"value name {name!r} used twice")
        self.used_names.add(name)
        return name

    def op(self, op_type: str, *inputs: str, name: str | None = None, exact: bool = False,
           **attrs: object) -> str:
        """Add one node; return its output's name (exactly `name`, reserved before, if `exact`)."""
        if exact and name is not None:
            self.graph.node.append(helper.make_node(op_type, list(inputs), [name], name=name, **attrs))
            return name
        return self.op_multi(op_type, *inputs, name=name, **attrs)[0]

    def op_multi(self, op_type: str, *inputs: str, name: str | None = None, outputs: int = 1,
                 **attrs: object) -> list[str]:
        """Add one node with several outputs; return their names."""
        base = name or op_type
        out_names = [self.fresh(base if i == 0 else f"{base}:{i}") for i in range(outputs)]
        node_name = self.fresh(f"{base}/{op_type}") if name else out_names[0]
        self.graph.node.append(helper.make_node(op_type, list(inputs), out_names, name=node_name, **attrs))
        return out_names

    def initializer(self, name: str, value: np.ndarray) -> str:
        """A constant tensor stored in the model (onnxruntime pre-packs constant weights); a shared array (a
        parameter that layers share by `reuse_params`) is stored once."""
        if self.shared.get(id(value)) is value and id(value) in self.stored:
            return self.stored[id(value)]
        unique = self.fresh(name)
        if self.shared.get(id(value)) is value:
            self.stored[id(value)] = unique
        tensor = self.graph.initializer.add()
        tensor.name = unique
        tensor.data_type = helper.np_dtype_to_tensor_dtype(value.dtype)
        tensor.dims.extend(value.shape)
        tensor.raw_data = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
        return unique

    def share(self, arrays: list[np.ndarray]) -> None:
        """Store each of these arrays (held by the caller while building) once, whichever layer uses it."""
        self.shared.update((id(a), a) for a in arrays)

    def const(self, value: np.ndarray | list[int] | int | float, dtype: type = np.int64) -> str:
        """A small constant (shapes, axes), shared between uses."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.tobytes(), array.shape)
        if key not in self.constants:
            self.constants[key] = self.initializer("const", array)
        return self.constants[key]


def tensor_info(name: str, elem_type: int, dims: list[str | int]) -> onnx.ValueInfoProto:
    """A graph input or output with named symbolic dims."""
    return helper.make_tensor_value_info(name, elem_type, dims)


FLOAT = TensorProto.FLOAT
INT32 = TensorProto.INT32
