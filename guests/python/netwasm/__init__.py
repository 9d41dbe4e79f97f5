"""Write netwasm lab scripts in Python.

A lab script is a WebAssembly component of world `netwasm:lab/lab`, built
from a Python module by componentize-py. This package gives it a small
API over the generated bindings (the same shape as the Rust SDK,
`netwasm-guest`), exceptions that read like netwasm's own messages, and
the WIT it was made for (`WIT_DIR`)::

    import netwasm
    from netwasm import Namespace

    def run(args: list[str]) -> None:
        host = Namespace.create(f"{args[0]}-host")
        host.bridge("br0").addr("10.0.0.1/24").up()

    WitWorld = netwasm.main(run)

Build it with the packaged WIT (`python -m netwasm wit` prints its path)::

    componentize-py -d "$(python -m netwasm wit)" -w netwasm:lab/lab componentize app -o lab.wasm

The lab API needs the bindings componentize-py generates while it builds
a guest (the module `wit_world`); outside such a build only `WIT_DIR`,
`WIT_VERSION`, `WORLD` and `python -m netwasm` are available.
"""

from pathlib import Path as _Path


def _wit_dir() -> _Path:
    # Installed from a wheel or an sdist: the copy inside the package. In
    # the repository (or an editable install): the repository's wit/.
    here = _Path(__file__).resolve().parent
    for d in (here / "wit", here.parent.parent.parent / "wit"):
        if (d / "world.wit").is_file():
            return d
    return here / "wit"


#: The directory of the `netwasm:lab` WIT this package was built with.
WIT_DIR: _Path = _wit_dir()

#: The world a lab script targets (`componentize-py -w`).
WORLD = "netwasm:lab/lab"


def _wit_version() -> str:
    import re

    try:
        text = (WIT_DIR / "world.wit").read_text()
    except OSError:
        return "unknown"
    m = re.search(r"^package\s+netwasm:lab@([0-9][^;\s]*)\s*;", text, re.M)
    return m.group(1) if m else "unknown"


#: The WIT package's version (`netwasm:lab@0.1.0`), which is the
#: package's version too.
WIT_VERSION: str = _wit_version()
__version__ = WIT_VERSION

try:
    # Present only while componentize-py builds a guest (and in it).
    import wit_world as _wit_world  # noqa: F401
except ImportError:
    _HAVE_BINDINGS = False
else:
    _HAVE_BINDINGS = True
    from ._lab import *  # noqa: F401,F403
    from ._lab import __all__ as _lab_all

    __all__ = ["WIT_DIR", "WIT_VERSION", "WORLD"] + list(_lab_all)

if not _HAVE_BINDINGS:

    def __getattr__(name: str):
        # `from netwasm import Namespace` outside a guest build: say why
        # there is no such name rather than a bare ImportError.
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"netwasm.{name} exists only in a guest built by componentize-py "
            f"(-d {WIT_DIR} -w {WORLD}), which generates the bindings (module "
            "wit_world) it is built on"
        )
