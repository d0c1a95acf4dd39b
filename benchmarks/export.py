"""Export the paper-size Iizuka et al. network, untrained, to ONNX with a colorfuse card (timing only).

The weights are random: the model is good for timing and nothing else, and its card says so.
The file (~160 MB fp32) goes to the git-ignored ``benchmarks/.cache/`` and is reused while the
architecture's source is unchanged. Needs the ``train`` extra (torch, onnx).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
UNTRAINED = "untrained (timing only)"
PAPER_ARCH = "iizuka"
GLOBAL_SIZE = 224


def _source_digest() -> str:
    import colorfuse.train.models.iizuka as iizuka
    import colorfuse.train.models.layers as layers

    digest = hashlib.sha256()
    for module in (iizuka, layers):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def paper_model(seed: int = 0):
    """The paper-size network (width 1.0), seeded random weights, in eval mode."""
    import torch

    from colorfuse.train.models.registry import build_model
    import colorfuse.train.models  # noqa: F401  (registers the architectures)

    torch.manual_seed(seed)
    model = build_model(PAPER_ARCH, width=1.0, global_size=GLOBAL_SIZE)
    return model.eval()


def paper_model_path(cache_dir: Path = CACHE_DIR) -> Path:
    """Where the export of the current architecture source is cached."""
    return cache_dir / f"iizuka-paper-{_source_digest()}.onnx"


def export_paper_model(cache_dir: Path = CACHE_DIR, force: bool = False) -> Path:
    """Export (or reuse) the untrained paper-size model; returns the ``.onnx`` path."""
    import onnx
    import torch

    from colorfuse.engine.card import ModelCard, TensorSpec, read_card
    from colorfuse.train.onnx_card import write_card

    cache_dir.mkdir(parents=True, exist_ok=True)
    path = paper_model_path(cache_dir)
    if path.exists() and not force:
        read_card(path)
        return path
    model = paper_model()
    module = model.export_module()
    l_in = torch.zeros(1, 1, 64, 64)
    g_in = torch.zeros(1, 1, GLOBAL_SIZE, GLOBAL_SIZE)
    temporary = path.with_suffix(".onnx.tmp")
    torch.onnx.export(
        module, (l_in, g_in), str(temporary), dynamo=False, opset_version=17,
        input_names=["L", "L_global"], output_names=["ab"],
        dynamic_axes={"L": {0: "N", 2: "H", 3: "W"}, "L_global": {0: "N"}, "ab": {0: "N", 2: "H", 3: "W"}},
    )
    card = ModelCard(
        name="iizuka-paper-untrained", architecture=PAPER_ARCH, version="0.0.0",
        description=f"Iizuka et al. 2016 at the paper's size (width 1.0), {UNTRAINED}",
        inputs=[TensorSpec("L"), TensorSpec("L_global", role="L_global")],
        size_multiple=model.size_multiple, global_input_size=GLOBAL_SIZE, default_max_side=0,
        parameters=sum(p.numel() for p in model.parameters()),
        weights_sha256="0" * 64, training={"data": UNTRAINED, "seed": 0},
    )
    write_card(onnx.load(str(temporary)), temporary, card)
    os.replace(temporary, path)
    read_card(path)
    return path
