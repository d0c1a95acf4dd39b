"""A model card in words (``colorfuse models info`` and the web page): what it is, its size, looks, quality."""

from __future__ import annotations


def _figure_lines(evaluation: dict) -> list[str]:
    lines = []
    for look, figures in (evaluation.get("looks") or {}).items():
        lines.append(f"  look {look}: PSNR {figures['psnr_gain']:+.2f} dB over gray, colourfulness "
                     f"{100 * figures['colorfulness_ratio']:.0f}% of the truth's ({figures['photos']} photos)")
    if "val_psnr" in evaluation:
        lines.append(f"  training validation (128-px crops): PSNR {evaluation['val_psnr']:.2f} dB vs gray "
                     f"{evaluation['val_psnr_gray_baseline']:.2f}, colourfulness {evaluation['val_colorfulness']:.1f} "
                     f"vs truth {evaluation['val_colorfulness_truth']:.1f}")
    return lines


def _variant_lines(card, path) -> list[str]:
    """The measured precision variants (see `colorfuse variants list` for what runs here)."""
    import warnings

    from colorfuse.engine.variants import load_variants

    with warnings.catch_warnings():  # a broken manifest is reported where variants are used
        warnings.simplefilter("ignore")
        variants = load_variants(path, card)[1:]
    return [f"  variant {variant.describe()}" for variant in variants]


def summary(card, path, provider: str | None = None) -> str:
    """A model card in words: what it is, its size, looks, quality, training and licence; ``path`` None
    for a model a plugin provides (``provider``: its name), which has no file and no variants."""
    training = card.training or {}
    lines = [f"{card.name} {card.version}: {card.description or card.architecture}",
             f"  architecture {card.architecture}, {card.parameters or 0:,} parameters, "
             + (f"{path.stat().st_size / 1e6:.1f} MB " if path is not None else "no file ") +
             f"({card.precision} arithmetic, {card.weights_precision} weights)",
             f"  working size {card.default_max_side or 'full'} px (longest side), size multiple {card.size_multiple}",
             "  global input: " + (f"{card.global_input_size} px view of the whole image (--style works)"
                                   if card.global_input_size else "none (--style does not apply)")]
    encoder = (training.get("model_extras") or {}).get("encoder")
    members = training.get("ensemble", [])
    if members:
        names = sorted({m["config"].get("encoder", "?") for m in members})
        lines.append(f"  encoders: {', '.join(f'EfficientNet-{n.capitalize()}' for n in names)} (one per member; "
                     f"members with the same frozen encoder share it)")
    elif encoder:
        lines.append(f"  encoder: {encoder['name']} ({'frozen, ' if encoder.get('frozen') else ''}ImageNet weights from "
                     f"{encoder.get('weights_package')}, {encoder.get('licence')})")
    for name, look in card.looks.items():
        mark = " (default)" if name == card.default_look else ""
        formula = f"{look.scale:g} x (" + " + ".join(f"{w:g} {o}" for o, w in look.mix.items()) + ")"
        said, sep, tail = look.description.rpartition(": ")  # a description that ends with the formula: once is enough
        words = said if sep and tail.startswith(f"{look.scale:g} x (") else look.description
        lines.append(f"  look {name}{mark}: {formula}{': ' + words if words else ''}")
    lines += _figure_lines(card.evaluation or {})
    if training:
        minutes = training.get("time_s", 0) / 60
        if members:
            lines.append(f"  the mean of {len(members)} models trained on {training.get('device', '?')} "
                         f"({training.get('time_s_total', 0) / 60:.0f} min of training in all):")
            lines += [f"    {m['run']}: {m['model']} {m['config'].get('encoder', '')}, seed {m['seed']}, "
                      f"{m['time_s'] / 60:.0f} min{' (after ' + format(m['init']['elapsed_s'] / 60, '.0f') + ' min)' if m.get('init') else ''}, "
                      f"{m['date']}" for m in members]  # fmt: skip
        else:
            lines.append(f"  trained {minutes:.0f} min on {training.get('device', '?')} ({training.get('precision', '?')}), "
                         f"{training.get('epochs', '?')} epochs, {training.get('date', '')}")
        if training.get("init") and not members:
            lines.append(f"  started from a checkpoint trained {training['init']['elapsed_s'] / 60:.0f} min "
                         f"({training.get('time_s_total', 0) / 60:.0f} min in all)")
        lines.append(f"  training data licence: {training.get('licence', 'not stated')}")
    if path is None:
        lines.append(f"  provided by plugin {provider}")
    else:
        lines += _variant_lines(card, path)
        lines.append(f"  file: {path}")
    return "\n".join(lines)
