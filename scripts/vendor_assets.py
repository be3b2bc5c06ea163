#!/usr/bin/env python3
"""Fetch the browser libraries Yuqing serves from its own static files (no CDN).

The vendored files are committed: a school server on an isolated intranet never runs this.
Run it only to update a library:

    python scripts/vendor_assets.py            # fetch the pinned versions, verify, copy
    python scripts/vendor_assets.py --pin echarts 5.6.1
                                               # print the SHA-256 to pin for a new version

Each package is fetched as the npm registry's tarball (``npm pack``, or straight from the
registry when npm is missing), checked against the SHA-256 pinned below, and only the listed
files (the minified build and the licence texts) are copied into
``yuqing/static/vendor/<name>-<version>/``. ``vendor.json`` beside them maps a short name to
the file the templates load, so updating a version changes no template.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = ROOT / "yuqing" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    npm_name: str
    version: str
    sha256: str  # of the registry tarball
    short_name: str  # directory prefix and key in vendor.json
    main: str  # the file templates load, relative to the package directory
    # tarball path (below "package/") -> file name in the vendored directory. Licence texts get
    # a .txt suffix so that the package-data globs in pyproject.toml ship them in the wheel.
    files: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> str:
        return f"{self.short_name}-{self.version}"

    @property
    def tarball_name(self) -> str:
        return f"{self.npm_name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES = (
    Package(
        npm_name="htmx.org",
        version="2.0.11",
        sha256="165a2655073e9e6e55e307a7c74e8ebcdb76afb7701f9c16cfd106a13add408e",
        short_name="htmx",
        main="htmx.min.js",
        files={"dist/htmx.min.js": "htmx.min.js", "LICENSE": "LICENSE.txt"},
    ),
    Package(
        npm_name="echarts",
        version="5.6.0",
        sha256="e1b82487dd7f8d9f0438eec1f1433051148e0095ac7a15d4db890afda45cf610",
        short_name="echarts",
        # The full build (about 1 MB, loaded only on pages with charts): later modules need
        # more than line and bar charts (calendar heatmaps, event graphs) and one file keeps
        # the update path simple. It carries both the Chinese and the English locale.
        main="echarts.min.js",
        files={
            "dist/echarts.min.js": "echarts.min.js",
            "LICENSE": "LICENSE.txt",
            "NOTICE": "NOTICE.txt",
            "licenses/LICENSE-d3": "LICENSE-d3.txt",
        },
    ),
)


def fetch(npm_name: str, version: str, tarball_name: str, dest: Path) -> Path:
    """Download one registry tarball into ``dest`` and return its path."""
    npm = shutil.which("npm")
    if npm:
        subprocess.run(
            [npm, "pack", f"{npm_name}@{version}", "--pack-destination", str(dest), "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:
        url = f"{REGISTRY}/{npm_name}/-/{tarball_name}"
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            open(dest / tarball_name, "wb") as out,
        ):
            shutil.copyfileobj(response, out)
    path = dest / tarball_name
    if not path.exists():
        raise SystemExit(f"npm pack did not produce {tarball_name}")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install(package: Package, tarball: Path) -> list[tuple[str, int]]:
    target = VENDOR_DIR / package.directory
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    with tarfile.open(tarball, "r:gz") as tar:
        # Read the named members only: nothing from the archive chooses a path on disk.
        for inner, name in package.files.items():
            member = tar.getmember(f"package/{inner}")
            source = tar.extractfile(member)
            if source is None:
                raise SystemExit(f"{package.npm_name}: {inner} is not a regular file")
            data = source.read()
            (target / name).write_bytes(data)
            written.append((f"{package.directory}/{name}", len(data)))
    # Remove other versions of the same library so that only the pinned one is served.
    for old in VENDOR_DIR.glob(f"{package.short_name}-*"):
        if old.is_dir() and old.name != package.directory:
            shutil.rmtree(old)
    return written


def write_manifest() -> None:
    manifest = {p.short_name: f"vendor/{p.directory}/{p.main}" for p in PACKAGES}
    (VENDOR_DIR / "vendor.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pin",
        nargs=2,
        metavar=("NAME", "VERSION"),
        help="fetch another version of a vendored package and print the SHA-256 to pin",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.pin:
            short, version = args.pin
            package = next((p for p in PACKAGES if short in (p.short_name, p.npm_name)), None)
            if package is None:
                parser.error(f"unknown package {short!r}")
            name = f"{package.npm_name.rsplit('/', 1)[-1]}-{version}.tgz"
            tarball = fetch(package.npm_name, version, name, Path(tmp))
            print(f"{package.npm_name} {version} sha256={sha256_of(tarball)}")
            return 0
        for package in PACKAGES:
            tarball = fetch(package.npm_name, package.version, package.tarball_name, Path(tmp))
            actual = sha256_of(tarball)
            if actual != package.sha256:
                print(
                    f"{package.npm_name}@{package.version}: SHA-256 mismatch\n"
                    f"  pinned {package.sha256}\n  got    {actual}",
                    file=sys.stderr,
                )
                return 1
            for path, size in install(package, tarball):
                print(f"{path}  {size:,} bytes")
    write_manifest()
    return 0


if __name__ == "__main__":
    sys.exit(main())
