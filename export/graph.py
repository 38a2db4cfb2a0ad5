"""What an exported ONNX graph looks like from the consumer's side, and the checks that it
is servable: known int64 inputs with dynamic batch and sequence axes, a ``logits`` output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from export.errors import ExportError
from newsclf.manifest import KNOWN_INPUTS

LOGITS = "logits"
REQUIRED_INPUTS = ("input_ids", "attention_mask")


@dataclass(frozen=True)
class GraphInfo:
    opset: int
    inputs: list[str]
    outputs: list[str]
    num_logits: int | None  # the label axis of ``logits`` when static
    fixed_axes: list[str]  # "input:axis" for batch/sequence axes that are not symbolic
    non_int64_inputs: list[str]
    external_data: list[str]  # files the graph's tensors live in, beside the model

    def check_servable(self, num_labels: int) -> None:
        """Raise :class:`ExportError` unless the consumer can feed and read this graph."""
        problems = []
        unknown = [n for n in self.inputs if n not in KNOWN_INPUTS]
        if unknown:
            problems.append(f"unsupported inputs {unknown} (the consumer feeds {KNOWN_INPUTS})")
        absent = [n for n in REQUIRED_INPUTS if n not in self.inputs]
        if absent:
            problems.append(f"missing inputs {absent}")
        if self.non_int64_inputs:
            problems.append(f"inputs {self.non_int64_inputs} are not int64")
        if self.fixed_axes:
            problems.append(f"fixed batch/sequence axes {self.fixed_axes}")
        if LOGITS not in self.outputs:
            problems.append(f"no '{LOGITS}' output (outputs: {self.outputs})")
        if self.num_logits is not None and self.num_logits != num_labels:
            problems.append(f"{self.num_logits} logits for {num_labels} labels")
        if problems:
            raise ExportError("exported graph is not servable: " + "; ".join(problems))


def inspect_graph(path: Path) -> GraphInfo:
    """Read the graph's interface without loading its weights."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ExportError(f"cannot read ONNX model {path}: {exc}") from exc
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    initializers = {t.name for t in model.graph.initializer}
    inputs, fixed, non_int64 = [], [], []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        inputs.append(value.name)
        tensor = value.type.tensor_type
        if tensor.elem_type != onnx.TensorProto.INT64:
            non_int64.append(value.name)
        for axis, dim in enumerate(tensor.shape.dim[:2]):
            if not dim.dim_param:
                fixed.append(f"{value.name}:{axis}")
    outputs = [o.name for o in model.graph.output]
    num_logits = None
    for out in model.graph.output:
        if out.name == LOGITS:
            dims = out.type.tensor_type.shape.dim
            if len(dims) == 2 and dims[1].HasField("dim_value"):
                num_logits = int(dims[1].dim_value)
    external = sorted(
        {
            entry.value
            for tensor in model.graph.initializer
            if tensor.data_location == onnx.TensorProto.EXTERNAL
            for entry in tensor.external_data
            if entry.key == "location"
        }
    )
    return GraphInfo(opset, inputs, outputs, num_logits, fixed, non_int64, external)
