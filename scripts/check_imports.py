#!/usr/bin/env python3
"""Import every third-party module the test suite and the benchmarks import,
before any test runs (`make test`), with the interpreter the tests use.

Fails, naming the module and the file that imports it, when a module cannot
be imported, or when it comes from a distribution that
tests/functional/requirements.txt does not list: such a module is only there
because something installed it by hand (or as another package's dependency),
and a fresh machine would not have it.

Usage: check_imports.py [ROOT]   (default: the repository holding this file)
"""
import ast
import importlib
import importlib.metadata as md
import pathlib
import re
import sys

SCANNED = ("tests", "bench")


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def listed(requirements):
    names = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(normalize(re.split(r"[\s\[<>=!~;@]", line, maxsplit=1)[0]))
    return names


def imports(root):
    """{top-level module: first 'file:line' importing it} for every absolute import."""
    local = {p.stem for d in SCANNED for p in (root / d).rglob("*.py")}
    found = {}
    for d in SCANNED:
        for path in sorted((root / d).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in local or top in sys.stdlib_module_names or top == "__future__":
                        continue
                    found.setdefault(top, f"{path.relative_to(root)}:{node.lineno}")
    return found


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else __file__).resolve()
    if root.is_file():
        root = root.parent.parent
    requirements = root / "tests" / "functional" / "requirements.txt"
    wanted = listed(requirements)
    dists = md.packages_distributions()
    problems = []
    mods = imports(root)
    for mod, where in sorted(mods.items()):
        try:
            importlib.import_module(mod)
        except Exception as e:  # any failure to import is the finding
            problems.append(f"{mod} (imported by {where}) cannot be imported: {e}")
            continue
        owners = {normalize(d) for d in dists.get(mod, [])}
        if not owners & wanted:
            problems.append(f"{mod} (imported by {where}) comes from "
                            f"{', '.join(sorted(owners)) or 'no installed distribution'}, "
                            f"which {requirements.relative_to(root)} does not list")
    for p in problems:
        print(f"!!  {p}", file=sys.stderr)
    if problems:
        print(f"!!  {len(problems)} test import problem(s) with {sys.executable}", file=sys.stderr)
        return 1
    print(f"    {len(mods)} third-party modules imported by tests/ and bench/ all import "
          f"and are listed ({', '.join(sorted(mods))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
