"""Save an ONNX graph with its colorfuse card embedded (the card's hash taken from the saved graph)."""

from __future__ import annotations

from pathlib import Path


def write_card(onnx_model, path: Path, card) -> None:
    """Save ``onnx_model`` to ``path`` with ``card`` embedded (hash taken after the graph is saved)."""
    import onnx

    from colorfuse.engine.card import embed_card
    from colorfuse.engine.onnxfile import read_onnx

    del onnx_model.metadata_props[:]
    onnx.save(onnx_model, path)
    card.weights_sha256 = read_onnx(path).graph_sha256
    for key, value in embed_card({}, card).items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(onnx_model, path)
