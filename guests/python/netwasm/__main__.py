"""`python -m netwasm`: where the packaged WIT is, and a build shortcut.

    python -m netwasm wit                    the WIT directory (for componentize-py -d)
    python -m netwasm version                the WIT package's version
    python -m netwasm build APP [-o OUT]     componentize-py -d WIT -w netwasm:lab/lab
                                             componentize APP -o OUT (default APP.wasm)
"""

import sys
from pathlib import Path

from . import WIT_DIR, WIT_VERSION, WORLD

USAGE = __doc__.split("\n", 2)[2]


def main(argv: list[str]) -> int:
    match argv:
        case ["wit"]:
            print(WIT_DIR)
        case ["version"]:
            print(WIT_VERSION)
        case ["build", app, *rest]:
            out = f"{app}.wasm"
            match rest:
                case []:
                    pass
                case ["-o", o]:
                    out = o
                case _:
                    sys.stderr.write(USAGE)
                    return 2
            try:
                from componentize_py import script
            except ImportError:
                sys.stderr.write("netwasm: componentize-py is not installed (pip install componentize-py==0.25.1)\n")
                return 127
            # The app is looked for in "."; this package where it is
            # installed (componentize-py on its own would look in the
            # site-packages of VIRTUAL_ENV or of the `python3` on PATH, which
            # need not be this interpreter's).
            sdk = Path(__file__).resolve().parent.parent
            sys.argv = ["componentize-py", "-d", str(WIT_DIR), "-w", WORLD, "componentize",
                        "-p", ".", "-p", str(sdk), app, "-o", out]
            return script() or 0
        case _:
            sys.stderr.write(USAGE)
            return 2
    return 0


sys.exit(main(sys.argv[1:]))
