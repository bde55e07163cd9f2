"""The layout holds: no import cycle, even through imports inside functions; a pure domain; app
set-up alone at the top of the package; and jobs.py only RQ entry points, each under a stable name.

Imports are read from the source (``ast``), every one of them, at module level or inside a
function, but not those under ``if TYPE_CHECKING:``, which never run.
"""
from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import reportgen
from reportgen.pipeline import job_names, jobs

PACKAGE = Path(reportgen.__file__).parent
#: The top of the package: setting the app up, and nothing of the report pipeline.
APP_SET_UP = {"__init__", "cli", "config", "dashboard", "errors", "extensions", "logs", "models", "ratelimit",
              "security", "sqlite_writes"}
#: What the domain may import besides itself: the standard library and this one validator.
DOMAIN_MAY_IMPORT = {"email_validator"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_nodes(tree: ast.AST):
    """Every import that runs, at any depth."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node):
            yield from (child for orelse in node.orelse for child in import_nodes(ast.Module([orelse], [])))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from import_nodes(node)


def imported_modules(name: str) -> set[str]:
    """The modules ``name`` imports, ours by their full names, others by their top-level name."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module
        submodules = {f"{target}.{alias.name}" for alias in node.names} & MODULES.keys()
        found.update(submodules)
        if len(submodules) < len(node.names):  # a name defined in the module, not only its submodules
            found.add(target)
    return found


GRAPH = {name: {target for target in imported_modules(name) if target in MODULES and target != name}
         for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle_even_through_imports_inside_functions():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    """The check above can fail: a cycle closed by an import inside a function is one."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = "import os\nfrom . import b\n\ndef late():\n    from .c import thing\n"
    tree = ast.parse(source)
    assert [getattr(node, "module", None) for node in import_nodes(tree)] == [None, None, "c"]


def test_no_module_imports_the_app_factory_package():
    """Only wsgi.py and the tests build the app: a module below it that imported ``reportgen``
    itself (``create_app``) would load every blueprint, and close a cycle through the factory."""
    importers = sorted(name for name, targets in GRAPH.items() if "reportgen" in targets and name != "reportgen")
    assert importers == []


def test_the_domain_imports_only_itself_the_standard_library_and_email_validator():
    strays = {}
    for name in MODULES:
        if not name.startswith("reportgen.domain"):
            continue
        outside = {target for target in imported_modules(name)
                   if not target.startswith("reportgen.domain") and target.split(".")[0] not in sys.stdlib_module_names
                   and target.split(".")[0] not in DOMAIN_MAY_IMPORT}
        if outside:
            strays[name] = sorted(outside)
    assert strays == {}


def test_the_top_of_the_package_is_app_set_up_only():
    top = {path.stem for path in PACKAGE.glob("*.py")}
    assert top == APP_SET_UP, f"belongs in a package that names its concept: {sorted(top - APP_SET_UP)}"


def test_jobs_py_holds_only_rq_entry_points_each_under_a_stable_name():
    functions = {name for name, value in vars(jobs).items()
                 if inspect.isfunction(value) and value.__module__ == jobs.__name__}
    stable = {path.rpartition(".")[2] for path in job_names.JOBS.values()}
    assert functions == stable
    assert all(path.startswith(f"{jobs.__name__}.") for path in job_names.JOBS.values())


def test_every_former_dotted_job_path_resolves_to_a_function_of_today():
    from rq.utils import import_attribute

    for former, stable in job_names.FORMER_PATHS.items():
        assert former.startswith("reportgen.jobs.")
        function = import_attribute(job_names.resolve(former))
        assert function is import_attribute(job_names.resolve(stable))
        assert function.__module__ == jobs.__name__


def architecture_section() -> str:
    readme = (PACKAGE.parent / "README.md").read_text()
    return readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]


def test_the_readmes_architecture_names_only_modules_that_exist():
    import re

    named = set(re.findall(r"\b((?:pipeline|render|delivery|serving|domain|api|web)/[a-z_]+)", architecture_section()))
    missing = sorted(path for path in named if f"reportgen.{path.replace('/', '.')}" not in MODULES)
    assert len(named) >= 8 and missing == []


def test_the_readmes_table_lists_every_module_of_the_pipeline_render_delivery_and_serving():
    import re

    section = architecture_section()
    for package in ("pipeline", "render", "delivery", "serving"):
        row = next(line for line in section.splitlines() if line.startswith(f"| `{package}/`"))
        listed = set(re.findall(r"`([a-z_]+)`", row.split("|")[2]))
        actual = {name.rpartition(".")[2] for name in MODULES if name.startswith(f"reportgen.{package}.")}
        assert actual <= listed, f"{package}/ has modules the README does not name: {sorted(actual - listed)}"
