"""scratchnn and the rest of the ecosystem: PyTorch twins and safetensors files.

- :mod:`scratchnn.interop.pytorch`: :func:`to_torch` (a ``torch.nn`` twin holding the same
  weights) and :func:`from_torch` (the reverse, for a ``torch.nn.Sequential``);
- ``model.save("m.safetensors")``, :func:`scratchnn.load` and :func:`scratchnn.load_weights`
  read and write PyTorch's file format, the tensors under PyTorch's names
  (:mod:`scratchnn.io.torch_names` has the table, :mod:`scratchnn.io.safetensors_file` the
  format).

Every dependency here is optional and imported only when used:
``pip install "scratchnn[interop]"`` and ``pip install "scratchnn[torch]"``.
"""

from ..io.model_file import load_weights
from ..io.torch_names import TORCH_NAMES
from .pytorch import FROM_TORCH, TORCH_LAYERS, from_torch, import_torch, to_torch

__all__ = [
    "FROM_TORCH",
    "TORCH_LAYERS",
    "TORCH_NAMES",
    "from_torch",
    "import_torch",
    "load_weights",
    "to_torch",
]
