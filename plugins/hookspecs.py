"""The colorfuse plugin hooks, grouped by phase.

A plugin is a module or object with functions decorated ``@colorfuse.plugins.hookimpl`` and
named after these hooks. Third-party plugins register under the ``colorfuse`` entry-point
group; colorfuse's own behaviour is written as plugins too (``colorfuse plugins`` lists them).

Images passed to hooks are NumPy arrays: gray (H, W) or RGB (H, W, 3), uint8 (uint16 for 16-bit
files); L is float32 (H, W) in 0..100; ab is float32 (H, W, 2) in Lab units. ``options`` is the
run's dict of settings (``saturation``, ``chroma_upsample``, plus any ``--option key=value``),
one dict for the whole run and shared by its threads: read it, never write to it.

Per-image hooks (``read_image``, ``write_image``, ``preprocess_image``, ``upsample_chroma``,
``postprocess_ab``, ``postprocess_image``, ``video_prepare``, ``video_process_ab``) also get
``context``, a read-only ``colorfuse.plugins.context.ImageContext`` built for that image:
``input`` (the input file's path, None for an array given through the API), ``output`` (the final
output path, None when nothing is written), ``index`` (its position in the run), ``frame`` (the
video frame number, else None) and ``settings`` (a read-only copy of ``options``). A hook takes
only the arguments it names, so one written before ``context`` existed still works.

Call order: colorfuse calls the implementations of a hook one by one (``plugins/manager.py``):
``@hookimpl(tryfirst=True)`` ones first, then the others, the last registered first (entry-point
plugins before the built-ins, which register first), then ``trylast=True`` ones. *Chained* hooks
pass each result to the next; *first result* hooks stop at the first non-None answer. The
declaration hooks (``register_models``, ``register_commands``, ``declare_options``,
``declare_output_formats``) call the built-ins first, so a plugin cannot replace a built-in name. pluggy wrappers (``wrapper=True``) are refused.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("colorfuse")


# ---- Registration -----------------------------------------------------------------------------
@hookspec
def register_models(register):
    """Register model files by name.

    Call ``register(name, path)`` for each ONNX model (with a colorfuse card) the plugin
    provides; ``colorfuse colorize --model NAME`` then finds it.
    """


@hookspec(firstresult=True)
def provide_model(name, device, threads):
    """Provide a model that is not a carded colorfuse ONNX file (another layout, another runtime).

    Called with the ``--model`` name (not for paths to ``.onnx`` files), the requested ``device``
    (``auto``, ``cpu``, ``cuda``) and ``threads`` (None: the runtime's default). Return None, or an
    object with ``card`` (a ``colorfuse.engine.card.ModelCard`` describing the model as the engine
    sees it; ``weights_sha256`` is not checked), ``device`` (where it really runs) and
    ``run(output_names, feeds) -> list of arrays``, which follows the runner contract: NCHW feeds
    named as the card's inputs, one ``(N, 2, h, w)`` ab array per requested output. The engine
    drives it like its own sessions (batching by shape, tiling, global views, video).
    """


@hookspec
def list_provided_models():
    """Name the models this plugin provides through ``provide_model``: return a list of names.

    ``colorfuse models list`` and ``models info`` then show them (each is provided once, on the CPU,
    for its card) and an unknown ``--model`` name lists them among the known ones. A name that is
    also a registered file's name is listed once, as the file.
    """


@hookspec
def register_commands(cli):
    """Add commands to the ``colorfuse`` CLI.

    ``cli`` is the root ``click.Group``: use ``@cli.command()`` or ``cli.add_command(...)``.
    """


@hookspec
def declare_options(declare):
    """Declare the ``options`` keys the plugin reads, so ``--option`` can check them before a run.

    Call ``declare(name, type, default, help)`` for each: ``type`` is ``bool``, ``int``, ``float``,
    ``str`` or a tuple of the allowed strings; an ``int`` or ``float`` option may add an inclusive
    range, ``min=`` and/or ``max=``. ``--option`` values are converted to that type and checked
    against the choices or range before the run; an undeclared key is an error (with the nearest
    declared name as a suggestion). With ``flag=True`` the option is also a flag of ``colorize`` and
    ``video`` (``--name-with-dashes VALUE``, listed under the plugin's name in ``--help``); a flag
    whose plugin is disabled does not exist, so giving it is an error, never silently ignored.
    """


# ---- Image I/O --------------------------------------------------------------------------------
@hookspec
def declare_file_types(declare):
    """Declare the file extensions the plugin's ``read_image`` reads, and whether each is lossless.

    Call ``declare(extension, lossless)`` (``extension`` like ``".exr"``, any case). Folder scans,
    video frame folders and the Ray listing pick files by the declared extensions (a file named
    on the command line is always offered to the readers); ``--format auto`` writes PNG for a
    lossless input and JPEG otherwise.
    """


@hookspec(firstresult=True)
def read_image(path, options, context):
    """Decode the image file at ``path``.

    Return an upright gray or RGB array, or None to let another reader try. Raise
    ``ImageReadError`` (``from colorfuse.errors import ImageReadError``) naming the file and the
    reason when the file is bad. ``options["max_pixels"]`` is always set, to the limit in force
    (``--max-pixels``, or by default what the available memory holds): refuse an image over it
    before decoding it, with an ``ImageReadError`` that says so.
    """


@hookspec
def declare_output_formats(declare):
    """Declare the formats the plugin's ``write_image`` writes.

    Call ``declare(format, suffix, lossless)``, e.g. ``declare("exr", ".exr", True)``; ``--format``
    and ``video --frames-format`` accept the declared names, and outputs get ``suffix``. With
    ``--format auto`` a lossless input is written in the first declared lossless format (PNG, as
    built-ins declare first), any other input in the first lossy one (JPEG). ``verify=`` (a
    function ``(path, (height, width)) -> bool``) says how ``--skip-existing`` knows an existing
    output is complete; without it the output must decode completely, at the input's size, through
    the reader plugins (so a format no reader reads is done again every run).
    """


@hookspec(firstresult=True)
def write_image(image, path, format, options, context, lab):
    """Encode RGB uint8 ``image`` as ``format`` (a name from ``declare_output_formats``) to ``path``.

    Return True when written, or None to let another writer try. ``path`` is a temporary name:
    the caller renames it to the final name only after a complete write. A writer that names
    ``lab`` gets the result before 8-bit rounding, for Lab or 16-bit formats: ``(L, ab)``, float32
    (H, W) in 0..100 (from the input itself, exact for 16-bit inputs) and (H, W, 2) in Lab units,
    before ``postprocess_image``; None where it is not kept (an image colorized tile by tile, video
    frames, the API). Naming it costs 12 bytes a pixel while an image is written.
    """


# ---- Per-image processing ------------------------------------------------------------------------
@hookspec
def preprocess_image(image, options, context):
    """Change an input image before its L channel is taken.

    Return a new array (same kind and size as ``image``) or None to leave it. Plugins are chained:
    each gets the previous plugin's result. Results are always at the input's size, so this hook and
    the other processing hooks (``postprocess_ab``, ``postprocess_image``, ``video_process_ab``) must
    keep the height and width: a result of another size is that plugin's error for the image.
    """


@hookspec(firstresult=True)
def upsample_chroma(ab, small_l, full_l, options, rows, context):
    """Bring ab predicted at the working size up to the full resolution, one strip of rows at a time.

    ``ab`` (h, w, 2) and ``small_l`` (h, w) are at the working size (the same arrays for every
    strip of an image). ``rows`` is ``(start, stop, height)``: ``full_l`` (stop - start, W) holds
    those rows of the input's L, which is ``height`` rows high. Return ab for those rows
    (stop - start, W, 2), or None to let the next implementation (finally bilinear) do it. An
    implementation that does not take ``rows`` gets the whole image in one strip.
    """


@hookspec
def postprocess_ab(lum, ab, options, context):
    """Change the full-resolution chroma before it is merged with L (e.g. saturation).

    Called per strip of rows (``lum`` and ``ab`` hold the same rows), so work pixel by pixel.
    Return a new ab array or None; chained like ``preprocess_image``.
    """


@hookspec
def postprocess_image(image, options, context):
    """Change the colorized RGB uint8 image before it is returned or written.

    Return a new array or None; chained like ``preprocess_image``.
    """


# ---- Run time ---------------------------------------------------------------------------------
@hookspec
def wrap_runner(runner, card, options):
    """Wrap the function that runs the model.

    ``runner(feeds) -> ab`` takes the dict of input arrays and returns the raw output; return a
    callable with the same signature (for timing, caching, or another runtime) or None. Chained.
    """


# ---- Video ------------------------------------------------------------------------------------
# Called by ``colorfuse video`` (and ``eval-video``) once per frame, in display order. ``frame`` is
# a ``colorfuse.engine.video.reader.VideoFrame``: ``index``, ``time`` (seconds), ``new_shot``
# (True on the first frame and after a detected cut), ``shot``, ``image`` (the decoded frame) and
# ``state``, a dict shared by all frames of the run where a plugin keeps its running state under
# a key of its own.
@hookspec
def video_prepare(prepared, frame, options, context):
    """Adjust one video frame's model inputs before it is batched (e.g. reuse a shot's global view).

    ``prepared`` is the frame's ``colorfuse.engine.colorizer.Prepared`` (``image``, ``small_l``,
    ``padded``, ``global_view``; ``full_l`` computes the full-size L on demand); change it in place.
    The return value is ignored.
    """


@hookspec
def video_process_ab(ab, lum, frame, options, context):
    """Change one video frame's predicted chroma before it is upsampled (e.g. temporal smoothing).

    ``ab`` (h, w, 2) is in Lab units at the model's output resolution and ``lum`` (h, w) is L at
    the same size. Return a new ab of the same shape or None; chained like ``postprocess_ab``.
    """
