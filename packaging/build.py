"""Build the frozen bundle and the Debian package: `python packaging/build.py`.

Makes `dist/processengine/` (PyInstaller one-folder bundle; its `processengine`
executable is the CLI and the desktop app) and `dist/processengine_<version>_<arch>.deb`
(the bundle in /opt/processengine, /usr/bin/processengine, desktop entry, icons,
MIME type for *.pe.json). Uses only the Python that runs it (with the `package`
extra: `pip install -e ".[package]"`), Debian's dpkg-deb and binutils' strip
(dpkg-dev depends on binutils) and desktop-file-utils' desktop-file-validate. Says what it does and stops at the first problem.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import elf
import icons

log = logging.getLogger("packaging.build")

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
PACKAGE = "processengine"
MAINTAINER = "ProcessEngine Studio developers <processengine@users.noreply.invalid>"
RESOURCES = ROOT / "app" / "resources"
APP_ICON = RESOURCES / "icons" / "processengine.svg"
MIME_TYPE = "application/x-processengine-workflow"

# What the bundle must carry (globs under _internal/): each is loaded by name or path at run time.
REQUIRED_IN_BUNDLE = {
    "version metadata (processengine --version)": "processengine_studio-*.dist-info/METADATA",
    "Alembic environment": "engine/store/migrations/env.py",
    "Alembic revisions": "engine/store/migrations/versions/*.py",
    "Alembic script template": "engine/store/migrations/script.py.mako",
    "Alembic's own templates": "alembic/templates/*/script.py.mako",
    "app icon": "app/resources/icons/processengine.svg",
    "example workflows": "app/resources/examples/*.pe.json",
    "SQLite driver": "python3.*/lib-dynload/_sqlite3*.so",
    "PostgreSQL driver (psycopg C implementation)": "psycopg_binary/pq*.so",
    "libpq": "psycopg_binary.libs/libpq*.so*",
    "Qt offscreen platform": "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "Qt X11 platform": "PySide6/Qt/plugins/platforms/libqxcb.so",
    "Qt SVG image format": "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "Qt SVG icon engine": "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "JavaScript code node prelude": "engine/nodes/js_prelude.js",
    "V8 for the JavaScript code node (where mini-racer looks when frozen)": "py_mini_racer/libmini_racer.so",
    "V8's ICU data": "py_mini_racer/icudtl.dat",
}

# Libraries the bundle links against but leaves to the system, and the Debian packages
# that provide them. PyInstaller never bundles glibc, the GL stack or libxcb itself; the
# xcb helper libraries missing on the build machine cannot be bundled either.
SYSTEM_LIBS = {
    "ld-linux-x86-64.so.2": "libc6",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
    "libresolv.so.2": "libc6",
    "libutil.so.1": "libc6",
    "libcrypt.so.1": "libcrypt1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libdrm.so.2": "libdrm2",
    "libxcb.so.1": "libxcb1",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    # left out of the bundle on purpose (bundle_rules.SYSTEM_BINARIES): the system's copy is
    # at least as new and must be, for the system's GL drivers loaded into the same process
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
# Needed only by the optional Wayland plugins (Qt falls back to X11 without them): Recommends.
OPTIONAL_LIBS = {
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    log.info("$ %s", " ".join(str(c) for c in cmd))
    result = subprocess.run(cmd, check=False, **kwargs)
    if result.returncode != 0:
        raise BuildError(f"command failed with exit code {result.returncode}: {' '.join(str(c) for c in cmd)}")
    return result


def project_metadata() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


def debian_version(version: str) -> str:
    """PEP 440 -> Debian ordering: 1.0rc1 sorts before 1.0 as 1.0~rc1."""
    return re.sub(r"\.?(a|b|rc|dev)(\d*)", r"~\1\2", version)


def debian_arch() -> str:
    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine)
    if arch is None:
        raise BuildError(f"no Debian architecture known for machine {machine!r}")
    return arch


# System tools the build runs, and the Debian package of each.
TOOLS = (("dpkg-deb", "dpkg"), ("strip", "binutils"), ("desktop-file-validate", "desktop-file-utils"))


def check_tools() -> None:
    """Every tool the build needs, before minutes of PyInstaller: system tools first."""
    for tool, package in TOOLS:
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} not found on PATH; install Debian's {package} package")
    try:
        import PyInstaller
    except ImportError:
        raise BuildError('PyInstaller is not installed for this Python; run: pip install -e ".[package]"') from None
    log.info("Python %s at %s; PyInstaller %s", platform.python_version(), sys.executable, PyInstaller.__version__)


def validate_desktop_entry(path: Path = PACKAGING / "processengine.desktop") -> None:
    """desktop-file-validate must accept the entry without a word (warnings included):
    a desktop environment silently ignores an entry it finds invalid."""
    proc = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or proc.stdout.strip():
        raise BuildError(f"desktop-file-validate rejects {path.name}:\n{(proc.stdout + proc.stderr).strip()}")
    log.info("%s: valid desktop entry", path.name)


def check_sources() -> None:
    needed = [
        APP_ICON,
        ROOT / "engine" / "cli.py",
        ROOT / "engine" / "store" / "migrations" / "env.py",
        PACKAGING / "processengine.desktop",
        PACKAGING / "processengine-mime.xml",
    ]
    missing = [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in needed if not p.is_file()]
    if not list((RESOURCES / "examples").glob("*.pe.json")):
        missing.append("app/resources/examples/*.pe.json")
    if missing:
        raise BuildError("missing from the source tree: " + ", ".join(missing))


def build_bundle(dist: Path, work: Path, *, trim: bool, strip: bool) -> Path:
    """PyInstaller one-folder build, then debug info stripped where there is some."""
    bundle = dist / PACKAGE
    for path in (bundle, work / "pyinstaller"):
        if path.exists():
            log.info("removing %s", path)
            shutil.rmtree(path)
    started = time.monotonic()
    env = dict(os.environ)
    env.pop("PROCESSENGINE_NO_TRIM", None)
    if not trim:
        env["PROCESSENGINE_NO_TRIM"] = "1"
        log.info("--no-trim: nothing excluded (the 'before' figure of docs/packaging.md)")
    run(
        [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
            "--distpath", str(dist), "--workpath", str(work / "pyinstaller"),
            str(PACKAGING / "processengine.spec"),
        ],
        cwd=ROOT,
        env=env,
    )
    log.info("PyInstaller took %.0f s", time.monotonic() - started)
    if not (bundle / PACKAGE).is_file():
        raise BuildError(f"PyInstaller did not produce {bundle / PACKAGE}")
    if strip:
        before = tree_size(bundle)
        stripped = [str(p) for p in sorted(bundle.rglob("*")) if elf.is_elf(p) and elf.read(p).has_debug]
        if stripped:
            run(["strip", "--strip-debug", *stripped])
        log.info(
            "stripped debug info from %d files: %.1f MiB -> %.1f MiB",
            len(stripped), before / 2**20, tree_size(bundle) / 2**20,
        )
    return bundle


def verify_bundle(bundle: Path, work: Path, version: str) -> None:
    internal = bundle / "_internal"
    missing = [f"{what} ({pattern})" for what, pattern in REQUIRED_IN_BUNDLE.items() if not list(internal.glob(pattern))]
    if missing:
        raise BuildError("the bundle lacks: " + "; ".join(missing))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}
    log.info("$ %s --version", bundle / PACKAGE)
    proc = subprocess.run([str(bundle / PACKAGE), "--version"], capture_output=True, text=True, env=env, check=False)
    out = proc.stdout.strip()
    if proc.returncode != 0:
        raise BuildError(f"the frozen `processengine --version` exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    if out != f"processengine {version}":
        raise BuildError(f"`processengine --version` printed {out!r}, expected 'processengine {version}'")
    log.info("bundle OK: %s, %.1f MiB", out, tree_size(bundle) / 2**20)


def tree_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def dependencies(bundle: Path, *, strict: bool = True) -> tuple[list[str], list[str]]:
    """Depends and Recommends from the libraries the bundle's ELF files need but do not carry.

    An unmapped library stops the build; with strict=False (the untrimmed measuring build,
    whose extra Qt plugins want GTK and more) it is only reported.
    """
    files = [p for p in bundle.rglob("*") if elf.is_elf(p)]
    carried = {p.name for p in bundle.rglob("*")}
    depends: set[str] = set()
    recommends: set[str] = set()
    glibc = "2.17"
    unknown: dict[str, str] = {}
    for path in files:
        info = elf.read(path)
        for v in info.glibc_versions:
            if elf.version_key(v) > elf.version_key(glibc):
                glibc = v
        for lib in info.needed:
            if lib in carried:
                continue
            if lib in SYSTEM_LIBS:
                depends.add(SYSTEM_LIBS[lib])
            elif lib in OPTIONAL_LIBS:
                recommends.add(OPTIONAL_LIBS[lib])
            else:
                unknown[lib] = str(path.relative_to(bundle))
    if unknown:
        text = (
            "the bundle needs system libraries with no known Debian package (add them to SYSTEM_LIBS "
            "or OPTIONAL_LIBS in packaging/build.py): "
            + ", ".join(f"{lib} (needed by {by})" for lib, by in sorted(unknown.items()))
        )
        if strict:
            raise BuildError(text)
        log.warning("%s -- left out of Depends", text)
    depends.discard("libc6")
    return [f"libc6 (>= {glibc})", *sorted(depends)], sorted(recommends - depends)


def stage_deb(bundle: Path, work: Path, version: str, arch: str, *, strict: bool = True) -> Path:
    """The package's file tree, staged under the work folder."""
    root = work / "deb"
    if root.exists():
        shutil.rmtree(root)
    opt = root / "opt" / PACKAGE
    log.info("staging %s -> %s", bundle, opt)
    shutil.copytree(bundle, opt, symlinks=True)
    usr_bin = root / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    # relative, so the link also works in a package extracted anywhere (the smoke test does that)
    (usr_bin / PACKAGE).symlink_to(Path("..", "..", "opt", PACKAGE, PACKAGE))
    share = root / "usr" / "share"
    _install(PACKAGING / "processengine.desktop", share / "applications" / "processengine.desktop")
    _install(PACKAGING / "processengine-mime.xml", share / "mime" / "packages" / "processengine.xml")
    hicolor = share / "icons" / "hicolor"
    mime_icon = MIME_TYPE.replace("/", "-")
    _install(APP_ICON, hicolor / "scalable" / "apps" / "processengine.svg")
    _install(APP_ICON, hicolor / "scalable" / "mimetypes" / f"{mime_icon}.svg")
    for size, png in icons.render_pngs(APP_ICON).items():
        for kind, name in (("apps", "processengine"), ("mimetypes", mime_icon)):
            target = hicolor / f"{size}x{size}" / kind / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(png)
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(_copyright(), encoding="utf-8")

    depends, recommends = dependencies(opt, strict=strict)
    meta = project_metadata()
    control = {
        "Package": PACKAGE,
        "Version": debian_version(version),
        "Architecture": arch,
        "Maintainer": MAINTAINER,
        "Installed-Size": str((tree_size(root) + 1023) // 1024),
        "Depends": ", ".join(depends),
        "Recommends": ", ".join(recommends),
        "Section": "devel",
        "Priority": "optional",
        "Description": meta["description"] + "\n" + _long_description(),
    }
    (root / "DEBIAN").mkdir()
    text = "".join(f"{k}: {v}\n" for k, v in control.items() if v)
    (root / "DEBIAN" / "control").write_text(text, encoding="utf-8")
    log.info("control file:\n%s", text.rstrip())
    _normalise_modes(root)
    return root


def _install(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def _long_description() -> str:
    lines = [
        "ProcessEngine Studio draws workflows as node graphs, runs them locally and",
        "shows every node's status and retries live; `processengine run` runs the",
        "same workflows headless. Executions are kept in SQLite (or PostgreSQL).",
        ".",
        "Self-contained build: Python, Qt and the libraries it uses live in",
        "/opt/processengine.",
    ]
    return "\n".join(" " + line for line in lines)


def _copyright() -> str:
    meta = project_metadata()
    license_name = meta.get("license", {}).get("text", "see the project")
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: ProcessEngine Studio\n\n"
        "Files: *\n"
        f"License: {license_name}\n\n"
        "Files: opt/processengine/_internal/*\n"
        "Comment: the bundled Python runtime, Qt (LGPL-3.0, dynamically linked, replaceable\n"
        " in opt/processengine/_internal/PySide6/Qt/lib) and Python libraries keep their own\n"
        " licenses; their metadata is included where the libraries ship it.\n"
    )


def _normalise_modes(root: Path) -> None:
    """0755 directories and executables, 0644 other files (owners are set by dpkg-deb)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def build_deb(root: Path, dist: Path, version: str, arch: str, compression: str, level: int | None) -> Path:
    deb = dist / f"{PACKAGE}_{debian_version(version)}_{arch}.deb"
    if deb.exists():
        deb.unlink()
    started = time.monotonic()
    opts = [f"-Z{compression}"] + ([f"-z{level}"] if level is not None and compression != "none" else [])
    run(["dpkg-deb", "--root-owner-group", *opts, "--build", str(root), str(deb)])
    log.info("dpkg-deb took %.0f s", time.monotonic() - started)
    listing = run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True).stdout
    for must in (f"./opt/{PACKAGE}/{PACKAGE}", f"./usr/bin/{PACKAGE} -> ", "./usr/share/applications/processengine.desktop"):
        if must not in listing:
            raise BuildError(f"{deb.name} lacks {must.strip(' ->')}")
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "packaging", help="scratch folder")
    parser.add_argument("--skip-bundle", action="store_true", help="reuse DIST/processengine (package step only)")
    parser.add_argument("--no-trim", action="store_true", help="exclude nothing (to measure what trimming saves)")
    parser.add_argument("--no-strip", action="store_true", help="keep debug info (to measure what stripping saves)")
    parser.add_argument(
        "--compression", default="zstd", choices=["zstd", "xz", "gzip", "none"],
        help="dpkg-deb compressor (default zstd: seconds; xz is ~15%% smaller but takes minutes)",
    )
    parser.add_argument("--level", type=int, default=9, help="compression level (default 9)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[build] %(message)s", stream=sys.stdout)
    started = time.monotonic()
    dist, work = args.dist.resolve(), args.work.resolve()
    bundle = dist / PACKAGE
    try:
        version = project_metadata()["version"]
        arch = debian_arch()
        log.info("ProcessEngine Studio %s for %s, from %s", version, arch, ROOT)
        check_tools()
        check_sources()
        validate_desktop_entry()
        if args.skip_bundle:
            log.info("--skip-bundle: reusing %s", bundle)
        else:
            build_bundle(dist, work, trim=not args.no_trim, strip=not args.no_strip)
        verify_bundle(bundle, work, version)
        root = stage_deb(bundle, work, version, arch, strict=not args.no_trim)
        deb = build_deb(root, dist, version, arch, args.compression, args.level)
    except BuildError as exc:
        log.error("BUILD FAILED: %s", exc)
        return 1
    log.info("bundle  %s: %.1f MiB", bundle, tree_size(bundle) / 2**20)
    log.info("package %s: %.1f MiB", deb, deb.stat().st_size / 2**20)
    log.info("done in %.0f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # icon rendering needs no display
    sys.exit(main())
