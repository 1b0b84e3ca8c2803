# SPDX-License-Identifier: BSD-3-Clause
"""Genuine Cool-chic 5.0.1 as an A/B host.

The user's checkout is only read: its scripts, package and configs are copied
once into ``OUT/upstream/<version>-<checkout hash>-<patch hash>/`` and
``patches/coolchic-v5.0.1.patch`` (shipped in this package) is applied to
the copy. Jobs run upstream's own ``cc_encode.py`` and ``cc_decode.py`` from
that copy with the chosen interpreter, each in its own work directory.
Upstream takes no seed and no thread count, so a small launcher sets
``torch.manual_seed`` and ``torch.set_num_threads`` in the same process before
running the unchanged script: reruns are reproducible and two workers do not
each use every core. Without a provider the patch runs none of its code, so
``upstream/spatial`` writes unpatched upstream's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from coolchic.ab.process import JobError, run_step
from coolchic.errors import ConfigError

VERSION = "5.0.1"
PATCH_NAME = f"coolchic-v{VERSION}.patch"
#: The parts of a checkout that encoding and decoding use: copied and hashed.
COPIED = ("cc_encode.py", "cc_decode.py", "coolchic", "cfg")
#: ``--dec_cfg`` names and upstream's files for them.
CONFIG_NAMES = ("lop", "mop", "hop", "vhop")
CONFIG_FOLDER = Path("cfg", "dec", "intra")
DEFAULT_CONFIG = "hop"
#: Upstream's training presets, by the options that select them.
PRESET_OPTIONS = {"intra": [], "debug": ["--debug"]}
MIN_ITERATIONS = {"intra": 2000}
#: (module to import, what to pip install); constriction must be the pinned version.
REQUIREMENTS = (
    ("torch", "torch"), ("numpy", "numpy"), ("PIL", "pillow"), ("einops", "einops"),
    ("torchvision", "torchvision"), ("constriction", "constriction==0.4.2"),
    ("fvcore", "fvcore"), ("configargparse", "ConfigArgParse"), ("pluggy", "pluggy"),
)
CONSTRICTION = "0.4.2"

# Runs an upstream script unchanged after seeding torch and setting its threads.
_LAUNCHER = """\
import os, runpy, sys
root, seed, threads, script = sys.argv[1:5]
sys.path[0] = root
import torch
torch.manual_seed(int(seed))
torch.set_num_threads(int(threads))
sys.argv = [os.path.join(root, script), *sys.argv[5:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# What an interpreter can import, its constriction version, CUDA, and providers.
_PROBE = """\
import importlib, json, sys
from importlib import metadata
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = type(error).__name__
try:
    constriction = metadata.version("constriction")
except metadata.PackageNotFoundError:
    constriction = None
try:
    import torch
    cuda = torch.cuda.is_available()
except Exception:
    cuda = False
providers = sorted({ep.name for ep in metadata.entry_points(group="coolchic")})
print(json.dumps({"failed": failed, "constriction": constriction, "cuda": cuda,
                  "providers": providers}))
"""

# Section sizes of an upstream bitstream, read with upstream's own header classes.
_SECTIONS = """\
import json, sys
sys.path[0] = sys.argv[1]
from coolchic.bitstream.header.header import CoolChicHeader, FrameHeader, VideoHeader
rest = VideoHeader().read_header(open(sys.argv[2], "rb").read())
rest = FrameHeader().read_header(rest)
header = CoolChicHeader()
header.read_header(rest)
print(json.dumps({"nn_bytes": header.get_value("nn_n_bytes"),
                  "latent_bytes": header.get_value("n_bytes_latent")}))
"""


def launch_command(python: str, root: Path, script: str, args: list[str], seed: int,
                   threads: int) -> list[str]:
    """Command running ``root/script`` unchanged, after seeding torch and setting its threads."""
    return [python, "-c", _LAUNCHER, str(root), str(seed), str(threads), script, *args]


def patch_file() -> Path:
    """The patch that adds the hook contract to upstream (package data)."""
    return Path(str(resources.files("coolchic.ab") / PATCH_NAME))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checkout_files(source: Path) -> list[Path]:
    files = []
    for name in COPIED:
        path = source / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts]
    return files


def checkout_sha256(source: Path) -> str:
    """Hash of what the jobs would run from an unpatched 5.0.1 checkout, after checking it is one."""
    what = f"--upstream {source}"
    if not source.is_dir():
        raise ConfigError(f"{what}: not a folder (give an upstream Cool-chic {VERSION} checkout)")
    missing = [name for name in (*COPIED, str(CONFIG_FOLDER)) if not (source / name).exists()]
    if missing:
        raise ConfigError(f"{what}: not a Cool-chic checkout (no {', '.join(missing)})")
    version_file = source / "coolchic" / "__init__.py"
    found = re.search(r"""__version__\s*=\s*["']([^"']+)""",
                      version_file.read_text() if version_file.is_file() else "")
    version = found.group(1) if found else "unknown"
    if version != VERSION:
        raise ConfigError(f"{what}: Cool-chic {version}, not {VERSION} "
                          f"(git checkout v{VERSION} there)")
    if (source / "coolchic" / "hooks.py").exists():
        raise ConfigError(f"{what}: already patched (coolchic/hooks.py exists); give an "
                          f"unpatched {VERSION} checkout, the patch is applied to a copy")
    digest = hashlib.sha256()
    for path in _checkout_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(_sha256(path.read_bytes()).encode())
    return digest.hexdigest()


def _apply_patch(directory: Path, source: Path) -> None:
    git = shutil.which("git")
    if git is None:
        raise ConfigError("applying the upstream patch needs git on PATH")
    # Outside any repository (the copy may sit inside one), git apply patches the folder itself.
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(directory.parent))
    for dry_run in (["--check"], []):
        done = subprocess.run([git, "apply", *dry_run, str(patch_file())], check=False,
                              cwd=directory, env=env, capture_output=True, text=True)
        if done.returncode:
            lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
            raise ConfigError(f"patches/{PATCH_NAME} does not apply to {source}: {lines[0]}")


def check_python(python: str, providers: set[str], device: str) -> None:
    """One line naming what ``python`` lacks to run upstream for these jobs."""
    what = f"--upstream-python {python}"
    try:
        done = subprocess.run([python, "-c", _PROBE, *(module for module, _ in REQUIREMENTS)],
                              check=False, capture_output=True, text=True)
    except OSError as error:
        raise ConfigError(f"{what}: cannot run it ({error.strerror})") from None
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise ConfigError(f"{what}: not a working Python ({lines[-1]})")
    try:  # the last line: an interpreter may print something of its own first
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ConfigError(f"{what}: did not answer the dependency check") from None
    install = [pip for module, pip in REQUIREMENTS if module in report["failed"]]
    found = report["constriction"]
    wrong_version = found not in (None, CONSTRICTION) and "constriction" not in report["failed"]
    if wrong_version:
        install.append(f"constriction=={CONSTRICTION}")
    if install:
        note = f" (it has constriction {found})" if wrong_version else ""
        stand_in = (" (or put a torchvision stand-in on PYTHONPATH, see patches/README.md)"
                    if "torchvision" in install else "")
        raise ConfigError(f"{what} cannot run upstream Cool-chic: missing {', '.join(install)}"
                          f"{note}; install with: {python} -m pip install {' '.join(install)}"
                          f"{stand_in}")
    lacking = sorted(providers - set(report["providers"]))
    if lacking:
        raise ConfigError(f"{what} has no context provider {', '.join(lacking)} installed "
                          "(install the plugin's distribution into it, e.g. mrc-coolchic)")
    if device.startswith("cuda") and not report["cuda"]:
        raise ConfigError(f"--device {device}: CUDA is not available to {python}")


@dataclass(frozen=True)
class UpstreamHost:
    """A patched copy of upstream and the interpreter that runs it."""

    source: Path
    root: Path
    python: str
    tree_sha256: str
    patch_sha256: str

    @classmethod
    def prepare(cls, source: str | Path, cache: Path, python: str, providers: set[str],
                device: str) -> UpstreamHost:
        """Check the checkout and the interpreter, then copy and patch the checkout under
        ``cache`` (once per content of checkout and patch)."""
        source = Path(source).resolve()
        tree = checkout_sha256(source)
        check_python(python, providers, device)
        patch = _sha256(patch_file().read_bytes())
        root = cache / f"{VERSION}-{tree[:12]}-{patch[:12]}"
        if not root.is_dir():
            cache.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=cache))
            try:
                for name in COPIED:
                    if (source / name).is_dir():
                        shutil.copytree(source / name, staging / name,
                                        ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        shutil.copy2(source / name, staging / name)
                _apply_patch(staging, source)
                staging.rename(root)  # complete copies only, under their final name
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return cls(source, root.resolve(), python, tree, patch)

    def identity(self) -> dict[str, str]:
        """What a job's result depends on besides its own settings."""
        return {"upstream_version": VERSION, "upstream_tree_sha256": self.tree_sha256,
                "patch_sha256": self.patch_sha256}

    def config_path(self, value: str) -> Path:
        """``--dec_cfg`` for upstream: one of its names, or a file passed unchanged."""
        if value in CONFIG_NAMES and not Path(value).exists():
            return self.root / CONFIG_FOLDER / f"{value}.cfg"
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"--dec_cfg {value}: no such file, and upstream names only "
                              f"{', '.join(CONFIG_NAMES)}")
        return path.resolve()

    def environment(self, threads: int, device: str) -> dict[str, str]:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        if device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""  # upstream picks CUDA whenever it sees one
        elif device.startswith("cuda:"):
            env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        return env

    def script(self, name: str, args: list[str], seed: int, threads: int) -> list[str]:
        return launch_command(self.python, self.root, name, args, seed, threads)

    def section_bytes(self, bitstream: Path) -> dict[str, int]:
        step = run_step([self.python, "-c", _SECTIONS, str(self.root), str(bitstream)],
                        f"reading the sections of {bitstream}")
        return json.loads(step.stdout)


def read_results_tsv(path: Path) -> dict[str, str]:
    """Upstream's one-row results table (0000-results_encoder.tsv or _decoder.tsv) as a dict."""
    try:
        header, values = path.read_text().splitlines()[:2]
    except (OSError, ValueError):
        raise JobError(f"upstream wrote no readable {path.name} in {path.parent}") from None
    return dict(zip(header.split(), values.split()))


_DECODE_TIME = re.compile(r"Decoding frame\s+0\s+time\s*=\s*([0-9.]+)\s*seconds")


def decode_time(stdout: str) -> float:
    """The decoding time ``cc_decode.py`` prints (without interpreter start-up)."""
    found = _DECODE_TIME.search(stdout)
    if not found:
        raise JobError("cc_decode.py printed no decoding time")
    return float(found.group(1))
