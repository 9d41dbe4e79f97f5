"""The PEP 517 build backend of the netwasm-guest package (standard library
only, so that building needs nothing from the network).

It builds a pure-Python wheel of the `netwasm` package with the `netwasm:lab`
WIT inside it (`netwasm/wit/*.wit`), copied at build time from the
repository's `wit/` (or, when building from an sdist, from the copy the
sdist carries). The package's version is the WIT package's version, so a
wheel says which WIT it speaks.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "netwasm-guest"
DIST = "netwasm_guest"
SUMMARY = (
    "Write netwasm lab scripts in Python: a builder API over the "
    "netwasm:lab bindings, with the WIT"
)


def _wit_source() -> Path:
    # In the repository: the one wit/ every guest and the host use. From an
    # sdist: the copy it was made with.
    repo = HERE.parent.parent / "wit"
    if (repo / "world.wit").is_file():
        return repo
    packaged = HERE / "netwasm" / "wit"
    if (packaged / "world.wit").is_file():
        return packaged
    raise RuntimeError(f"netwasm-guest: no WIT found at {repo} or {packaged}")


def _version() -> str:
    text = (_wit_source() / "world.wit").read_text()
    m = re.search(r"^package\s+netwasm:lab@([0-9][^;\s]*)\s*;", text, re.M)
    if not m:
        raise RuntimeError("netwasm-guest: wit/world.wit has no `package netwasm:lab@VERSION;`")
    return m.group(1)


def _files() -> list[tuple[str, bytes]]:
    """(path in the archive, contents) of the package, WIT included."""
    out = []
    for p in sorted((HERE / "netwasm").glob("*.py")):
        out.append((f"netwasm/{p.name}", p.read_bytes()))
    for p in sorted(_wit_source().glob("*.wit")):
        out.append((f"netwasm/wit/{p.name}", p.read_bytes()))
    return out


def _metadata() -> str:
    readme = (HERE / "README.md").read_text() if (HERE / "README.md").is_file() else ""
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {_version()}\n"
        f"Summary: {SUMMARY}\n"
        "License: Apache-2.0\n"
        "Requires-Python: >=3.10\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        f"{readme}"
    )


def _digest(data: bytes) -> str:
    d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + d.decode()


# A fixed time stamp: the same sources give the same wheel.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _write_wheel(directory: str, files: list[tuple[str, bytes]]) -> str:
    version = _version()
    info = f"{DIST}-{version}.dist-info"
    files = files + [
        (f"{info}/METADATA", _metadata().encode()),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: netwasm_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
    ]
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data in files)
    record += f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    name = f"{DIST}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            entry = zipfile.ZipInfo(path, _EPOCH)
            entry.external_attr = 0o644 << 16
            z.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file that puts this directory on sys.path; the package then
    # finds the repository's wit/ itself (netwasm.WIT_DIR).
    return _write_wheel(wheel_directory, [("netwasm_guest.pth", f"{HERE}\n".encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = f"{DIST}-{_version()}"
    files = [
        ("pyproject.toml", (HERE / "pyproject.toml").read_bytes()),
        ("netwasm_build.py", (HERE / "netwasm_build.py").read_bytes()),
        ("PKG-INFO", _metadata().encode()),
    ]
    if (HERE / "README.md").is_file():
        files.append(("README.md", (HERE / "README.md").read_bytes()))
    files += _files()
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as t:
        for path, data in files:
            entry = tarfile.TarInfo(f"{base}/{path}")
            entry.size = len(data)
            entry.mode = 0o644
            t.addfile(entry, io.BytesIO(data))
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []
