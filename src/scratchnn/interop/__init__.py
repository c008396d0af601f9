"""scratchnn and the rest of the ecosystem: PyTorch twins, safetensors files, ONNX graphs.

- :mod:`scratchnn.interop.pytorch`: :func:`to_torch` (a ``torch.nn`` twin holding the same
  weights) and :func:`from_torch` (the reverse, for a ``torch.nn.Sequential``);
- ``model.save("m.safetensors")``, :func:`scratchnn.load` and :func:`scratchnn.load_weights`
  read and write PyTorch's file format, the tensors under PyTorch's names
  (:mod:`scratchnn.io.torch_names` has the table, :mod:`scratchnn.io.safetensors_file` the
  format);
- :mod:`scratchnn.interop.onnx_export`: :func:`to_onnx` writes an ONNX graph that ONNX
  Runtime (or any other runtime) can run without scratchnn.

The scikit-learn estimators are in :mod:`scratchnn.sklearn`. Every dependency here is
optional and imported only when used: ``pip install "scratchnn[interop]"`` (safetensors,
onnx, onnxruntime, scikit-learn) and ``pip install "scratchnn[torch]"``.
"""

from ..io.model_file import load_weights
from ..io.torch_names import TORCH_NAMES
from .onnx_export import OPSET, onnx_models, to_onnx
from .onnx_layers import ONNX_LAYERS
from .pytorch import FROM_TORCH, TORCH_LAYERS, from_torch, import_torch, to_torch

__all__ = [
    "FROM_TORCH",
    "ONNX_LAYERS",
    "OPSET",
    "TORCH_LAYERS",
    "TORCH_NAMES",
    "from_torch",
    "import_torch",
    "load_weights",
    "onnx_models",
    "to_onnx",
    "to_torch",
]
