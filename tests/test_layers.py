"""The import graph, read statically (every module parsed with ``ast``, function-level imports included).

The layers, each importing only those below it: commands and the built-in plugins over the engine, the
engine over the plugin contract (hook specs, manager, option and file-type declarations), everything over
``colorfuse.errors``; the CLI (``colorfuse.cli``) over the commands, the benchmarks over training. The API
(``colorfuse/__init__.py``: the version and lazy names) imports nothing at module level. The runtime never
needs torch.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"colorfuse": "colorfuse", "engine": "colorfuse.engine", "train": "colorfuse.train",
           "plugins": "colorfuse.plugins", "exports": "colorfuse.exports", "benchmarks": "colorfuse.benchmarks"}
PACKAGES = {  # the longest prefix of a module's name gives its package
    "colorfuse": "api", "colorfuse.cli": "cli", "colorfuse.__main__": "cli", "colorfuse.errors": "errors", "colorfuse.commands": "commands", "colorfuse.commandkit": "commands", "colorfuse.evaluation": "evaluation", "colorfuse.engine": "engine",
    "colorfuse.plugins": "contract", "colorfuse.plugins.builtin": "builtin", "colorfuse.train": "train",
    "colorfuse.benchmarks": "benchmarks", "colorfuse.exports": "exports",
}
RUNTIME = {"engine", "contract", "builtin"}
LAYERS = ["cli", "commands", "benchmarks", "train", "evaluation", "api", "builtin", "engine", "exports", "contract",
          "errors"]
"""Top to bottom, as the README's table: each imports only those after it."""


def package_of(module: str) -> str | None:
    """The package of the ``colorfuse.*`` module ``module`` (None for any other module)."""
    prefixes = [prefix for prefix in PACKAGES if module == prefix or module.startswith(prefix + ".")]
    return PACKAGES[max(prefixes, key=len)] if prefixes else None


def modules():
    """Every module of the tree: (its dotted name, its path)."""
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            yield ".".join((package, *parts[:-1], *([] if parts[-1] == "__init__" else parts[-1:]))), path


def imports(name: str, path: Path):
    """The modules ``path`` imports: (imported module, line, whether inside a function)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inner = {id(node) for function in functions for node in ast.walk(function) if node is not function}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [base])])
            targets = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            yield target, node.lineno, id(node) in inner


def _is_module(name: str) -> bool:
    return name in _ALL_NAMES


_ALL_NAMES = {name for name, _ in modules()}


def edges():
    """Every import between packages: (from package, to package, importing module, line, imported module, inner)."""
    for name, path in modules():
        source = package_of(name)
        for target, line, inner in imports(name, path):
            if target.split(".")[0] == "torch":
                yield source, "torch", name, line, target, inner
            elif package_of(target) not in (None, source):
                yield source, package_of(target), name, line, target, inner


def _lines(found) -> str:
    return "\n".join(f"  {module}:{line} imports {target}{' (in a function)' if inner else ''}"
                     for _, _, module, line, target, inner in found)


def _forbidden(sources: set, targets: set):
    return [edge for edge in edges() if edge[0] in sources and edge[1] in targets]


def test_the_engine_imports_no_built_in_plugin_command_training_or_benchmark():
    found = _forbidden({"engine"}, {"builtin", "commands", "train", "benchmarks", "cli", "api", "evaluation"})
    assert not found, "the engine imports a layer above it:\n" + _lines(found)


def test_the_plugin_contract_imports_only_errors():
    found = [edge for edge in edges() if edge[0] == "contract" and edge[1] != "errors"]
    assert not found, "the plugin contract imports beyond colorfuse.errors:\n" + _lines(found)


def test_errors_import_nothing_of_colorfuse():
    found = [edge for edge in edges() if edge[0] == "errors"]
    assert not found, "colorfuse.errors imports colorfuse modules:\n" + _lines(found)


def test_the_built_in_plugins_import_no_command():
    found = _forbidden({"builtin"}, {"commands", "cli", "api", "train", "benchmarks", "evaluation"})
    assert not found, "a built-in plugin imports a command module or the CLI:\n" + _lines(found)


def test_no_command_module_imports_another():
    shared = {"colorfuse.commands", "colorfuse.commands.shared", "colorfuse.commands.parameters",
              "colorfuse.commands.ray_colorize", "colorfuse.commands.run_options"}  # the modules commands share (no command is defined there)
    found = []
    for name, path in modules():
        if package_of(name) == "commands" and name not in shared:
            found += [("commands", "commands", name, line, target, inner) for target, line, inner in imports(name, path)
                      if package_of(target) == "commands" and target not in shared]
    assert not found, "a command module imports another (shared code goes to commands/shared.py):\n" + _lines(found)


def test_the_runtime_never_imports_torch():
    found = _forbidden(RUNTIME | {"evaluation"}, {"torch"})
    assert not found, "the runtime imports torch:\n" + _lines(found)


def test_each_layer_imports_only_the_layers_below_it():
    found = [edge for edge in edges() if edge[1] != "torch" and LAYERS.index(edge[1]) < LAYERS.index(edge[0])]
    assert not found, "a layer imports one above it (README, the layers' table):\n" + _lines(found)


def test_no_cycles_between_packages():
    graph: dict[str, set] = {}
    for source, target, *_ in edges():
        graph.setdefault(source, set()).add(target)
    cycles = []

    def visit(package, path):
        for target in sorted(graph.get(package, ())):
            if target in path:
                cycles.append(path[path.index(target):] + [target])
            else:
                visit(target, path + [target])

    for package in sorted(graph):
        visit(package, [package])
    found = {" -> ".join(cycle) for cycle in cycles}
    detail = "\n".join(_lines([edge for edge in edges() if edge[1] == cycle.split(" -> ")[1] and
                               edge[0] == cycle.split(" -> ")[0]]) for cycle in sorted(found))
    assert not found, "cycles between packages:\n" + "\n".join(sorted(found)) + "\n" + detail
