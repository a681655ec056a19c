"""flowfill in Nuke: the logic of the farm-safe ``flowfillRemove`` gizmo and the menu commands.

Everything that does not need Nuke lives here as plain Python (knob table, validation, the
``flowfill remove`` command line, the work-folder layout, frame-pattern conversion, running the
command with progress and cancel, reading its output), so it runs and is tested outside Nuke.
``nuke`` is imported only inside the functions that drive Nuke (:func:`render`,
:func:`show_command`, :func:`create_gizmo`, :func:`create_ofx_node`).

The gizmo's Render button renders the Source (RGBA) and the matte to EXR sequences in the work
folder, runs ``flowfill remove`` on them in a separate process, and points the gizmo's inner
Read at the result::

    WORK/source/source.####.exr   Source RGBA, 32-bit float, bbox = format
    WORK/matte/matte.####.exr     the matte: R = G = B = (alpha > threshold), 0 or 1
    WORK/result/result.####.exr   what flowfill writes (RGBA float, Source alpha kept as it was)
    WORK/flowfill.log             the run's output; WORK/command.txt the command line
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GIZMO = "flowfillRemove"
"""Node class of the gizmo (its file is ``gizmos/flowfillRemove.gizmo``)."""
OFX_ID = "org.flowfill.Remove"
"""OpenFX identifier of flowfill's OFX plugin; Nuke names its node ``OFX<id>_v<major>``."""
PADDING = 4
"""Digits of the frame numbers in the work folder's file names (Nuke's ``####``)."""
EXECUTABLE_ENV = "FLOWFILL_EXECUTABLE"
"""Environment variable naming the ``flowfill`` executable when the knob is empty."""
WORK_ENV = "FLOWFILL_NUKE_WORK"
"""Environment variable naming the folder that holds work folders when the knob is empty."""


class KnobError(ValueError):
    """Knob values that cannot make a run; ``str()`` lists every problem, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Knob:
    """One user knob of the gizmo: its name, the CLI flag it feeds (None: gizmo-only), kind."""

    name: str
    flag: str | None
    kind: str
    """'enum', 'int', 'float', 'file' or 'string'."""
    default: Any
    label: str
    tooltip: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


OPTION_KNOBS: tuple[Knob, ...] = (
    Knob("fill", "--fill", "enum", "csa", "fill",
         "fill for pixels no frame saw: csa (patch attention), dip, siren, telea",
         choices=("csa", "dip", "siren", "telea")),
    Knob("dilate", "--dilate", "int", -1, "dilate",
         "margin in pixels around the matte treated as unreliable; -1: auto (scaled with size)",
         minimum=-1),
    Knob("grow", "--grow", "int", 0, "grow", "grow the matte itself by this many pixels",
         minimum=0),
    Knob("window", "--window", "int", 80, "window",
         "frames per processing window (memory follows it)", minimum=2),
    Knob("overlap", "--overlap", "int", 10, "overlap",
         "frames shared by neighbouring windows (smaller than window)", minimum=0),
    Knob("flow", "--flow", "enum", "dis", "flow",
         "optical flow: dis (CPU, no weights), dis-fine or dis-sparse (CPU, finer or for large "
         "motion, slower), raft or raft-small (need weights)",
         choices=("dis", "dis-fine", "dis-sparse", "raft", "raft-small")),
    Knob("raft_weights", "--raft-weights", "file", "", "raft weights",
         "RAFT checkpoint (.pth); empty: $FLOWFILL_RAFT_WEIGHTS. Never downloaded"),
    Knob("edges", "--edges", "enum", "auto", "edges",
         "cut the flow fill at completed motion edges: auto, on, off",
         choices=("auto", "on", "off")),
    Knob("rounds", "--rounds", "int", 2, "rounds",
         "times the hole is filled: from the second on, the flow is estimated again through the "
         "previous fill (sharper motion edges, a third to a half more time each); 1: fastest, "
         "for a preview", minimum=1),
    Knob("device", "--device", "string", "auto", "device",
         "torch device: auto, cpu, cuda or cuda:N"),
)
"""Knobs that are ``flowfill remove`` options, in command-line order."""

GIZMO_KNOBS: tuple[Knob, ...] = (
    Knob("first_frame", None, "int", "root.first_frame", "first frame",
         "first frame to render and fill (default: the script's range)", minimum=0),
    Knob("last_frame", None, "int", "root.last_frame", "last frame",
         "last frame to render and fill", minimum=0),
    Knob("matte_threshold", None, "float", 0.0, "matte threshold",
         "matte alpha above this is removed (0: any nonzero alpha, flowfill's convention)",
         minimum=0.0, maximum=1.0),
    Knob("work_folder", None, "file", "", "work folder",
         f"where the EXR sequences go; empty: beside the script (or ${WORK_ENV}, or the temp "
         "folder), one folder per node"),
    Knob("executable", None, "file", "", "flowfill executable",
         f"the flowfill command (or a Python with flowfill installed); empty: ${EXECUTABLE_ENV},"
         " then flowfill on PATH"),
    Knob("extra_args", None, "string", "", "extra options",
         "more flowfill remove options, as typed on a command line (e.g. --nonlocal-frames 0)"),
)
"""Knobs of the gizmo that are not flowfill options."""

KNOBS: tuple[Knob, ...] = OPTION_KNOBS + GIZMO_KNOBS
"""Every value knob of the gizmo the helper reads."""

_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
_RESERVED = ("--mask", "-m", "--output", "-o", "--quiet", "-q", "--resume", "--help", "-h")


# ---------------------------------------------------------------------------------------------
# Frame patterns


_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%(0?)(\d*)d")


def nuke_to_printf(path: str) -> str:
    """``shot.####.exr`` -> ``shot.%04d.exr`` (the file name's placeholder only; printf kept)."""
    head, base = _split(path)
    if _PRINTF.search(base) or not _HASHES.search(base):
        return path
    base = _HASHES.sub(lambda m: f"%0{len(m.group())}d" if len(m.group()) > 1 else "%d", base,
                       count=1)
    return head + base


def printf_to_nuke(path: str) -> str:
    """``shot.%04d.exr`` -> ``shot.####.exr``; ``%d`` -> ``#`` (the file name's placeholder)."""
    head, base = _split(path)
    match = _PRINTF.search(base)
    if match is None:
        return path
    width = int(match.group(2) or 1)
    return head + base[: match.start()] + "#" * width + base[match.end():]


def frame_path(pattern: str, frame: int) -> str:
    """The file of ``frame`` under a ``####`` or printf pattern."""
    printf = nuke_to_printf(pattern)
    head, base = _split(printf)
    match = _PRINTF.search(base)
    if match is None:
        raise ValueError(f"no frame placeholder in {pattern!r}")
    return head + base[: match.start()] + (match.group() % frame) + base[match.end():]


def _split(path: str) -> tuple[str, str]:
    """(folder part with its trailing separator, file name): either slash separates."""
    cut = max(path.rfind("/"), path.rfind("\\")) + 1
    return path[:cut], path[cut:]


def nuke_path(path: str) -> str:
    """A path as Nuke's file knobs want it (forward slashes on every platform)."""
    return path.replace("\\", "/")


# ---------------------------------------------------------------------------------------------
# Work folder


@dataclass(frozen=True)
class WorkLayout:
    """The files of one gizmo's run under its work folder."""

    folder: str

    def _pattern(self, name: str, printf: bool) -> str:
        placeholder = f"%0{PADDING}d" if printf else "#" * PADDING
        return os.path.join(self.folder, name, f"{name}.{placeholder}.exr")

    @property
    def source(self) -> str:
        """Source RGBA frames, printf pattern (what flowfill is given)."""
        return self._pattern("source", True)

    @property
    def matte(self) -> str:
        """Matte frames, printf pattern (flowfill's --mask)."""
        return self._pattern("matte", True)

    @property
    def result(self) -> str:
        """flowfill's output frames, printf pattern (its --output)."""
        return self._pattern("result", True)

    @property
    def source_nuke(self) -> str:
        """Source frames as the inner Write's file knob takes them."""
        return nuke_path(self._pattern("source", False))

    @property
    def matte_nuke(self) -> str:
        """Matte frames as the inner Write's file knob takes them."""
        return nuke_path(self._pattern("matte", False))

    @property
    def result_nuke(self) -> str:
        """Result frames as the inner Read's file knob takes them."""
        return nuke_path(self._pattern("result", False))

    @property
    def log(self) -> str:
        """flowfill's output of the last run."""
        return os.path.join(self.folder, "flowfill.log")

    @property
    def command(self) -> str:
        """The last command line, to run it again by hand or on a farm."""
        return os.path.join(self.folder, "command.txt")

    def folders(self) -> list[str]:
        """The sub-folders a run needs."""
        return [os.path.join(self.folder, name) for name in ("source", "matte", "result")]


def default_work_folder(script: str | None, node: str, environ: Mapping[str, str] | None = None,
                        ) -> str:
    """Where a node's files go when its knob is empty: ``$FLOWFILL_NUKE_WORK/<script>/<node>``,
    else ``<script folder>/flowfill/<script>/<node>``, else the temp folder (unsaved script)."""
    environ = os.environ if environ is None else environ
    stem = os.path.splitext(os.path.basename(script))[0] if script else "untitled"
    node = re.sub(r"[^\w.-]", "_", node) or "flowfillRemove"
    base = environ.get(WORK_ENV, "").strip()
    if base:
        return os.path.join(base, stem, node)
    if script:
        return os.path.join(os.path.dirname(os.path.abspath(script)), "flowfill", stem, node)
    return os.path.join(tempfile.gettempdir(), "flowfill", stem, node)


_FRAME_FILE = re.compile(r"(source|matte)\.\d+\.exr")


def prepare_work_folder(layout: WorkLayout) -> None:
    """Create the sub-folders; delete frames of an earlier run (flowfill reads every frame file
    the pattern matches, so a wider old range must not linger) and unfinished outputs."""
    for folder in layout.folders():
        os.makedirs(folder, exist_ok=True)
    for name in ("source", "matte"):
        folder = os.path.join(layout.folder, name)
        for entry in os.listdir(folder):
            if _FRAME_FILE.fullmatch(entry):
                os.remove(os.path.join(folder, entry))
    remove_unfinished(layout)


def remove_unfinished(layout: WorkLayout) -> None:
    """Delete what a killed run left: flowfill writes into ``.result.tmp-*`` beside the output
    folder and renames at the end (flowfill.io.atomic)."""
    for entry in os.listdir(layout.folder):
        if entry.startswith(".result.tmp-"):
            shutil.rmtree(os.path.join(layout.folder, entry), ignore_errors=True)


def written_frames(layout: WorkLayout) -> int:
    """Frames flowfill has written so far (in its hidden folder, before the final rename)."""
    count = 0
    for entry in os.listdir(layout.folder):
        temp = os.path.join(layout.folder, entry)
        if entry.startswith(".result.tmp-") and os.path.isdir(temp):
            count += sum(1 for name in os.listdir(temp) if name.endswith(".exr"))
    return count


def missing_frames(pattern: str, first: int, last: int) -> list[int]:
    """Frames of ``first..last`` whose file under ``pattern`` does not exist."""
    return [f for f in range(first, last + 1) if not os.path.isfile(frame_path(pattern, f))]


# ---------------------------------------------------------------------------------------------
# Values and the command


def defaults() -> dict[str, Any]:
    """Knob name -> default (the frame range defaults are expressions, left out)."""
    return {k.name: k.default for k in KNOBS if k.name not in ("first_frame", "last_frame")}


def validate(values: Mapping[str, Any], environ: Mapping[str, str] | None = None,
             ) -> dict[str, Any]:
    """Knob values checked and normalised (ints, stripped strings); KnobError lists problems.

    Needs every knob of :data:`KNOBS` except the gizmo's text knobs (``work_folder``,
    ``executable``, ``extra_args``: default '').
    """
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    problems: list[str] = []
    for knob in KNOBS:
        if knob.name not in values:
            if knob.kind in ("file", "string") and knob.flag is None:
                out[knob.name] = ""
                continue
            problems.append(f"{knob.label}: no value")
            continue
        value = values[knob.name]
        try:
            out[knob.name] = _normalise(knob, value)
        except ValueError as err:
            problems.append(f"{knob.label}: {err}")
    if not problems:
        problems += _cross_checks(out, environ)
    if problems:
        raise KnobError(problems)
    return out


def _normalise(knob: Knob, value: Any) -> Any:
    if knob.kind == "enum":
        text = str(value).strip()
        if text not in knob.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(knob.choices)}")
        return text
    if knob.kind in ("file", "string"):
        return "" if value is None else str(value).strip()
    if knob.kind == "int":
        number = float(value)
        if number != int(number):
            raise ValueError(f"{value!r} is not a whole number")
        result: float = int(number)
    else:
        result = float(value)
    if knob.minimum is not None and result < knob.minimum:
        raise ValueError(f"{value} is below {knob.minimum}")
    if knob.maximum is not None and result > knob.maximum:
        raise ValueError(f"{value} is above {knob.maximum}")
    return result


def _cross_checks(v: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    problems = []
    if v["overlap"] >= v["window"]:
        problems.append(f"overlap: {v['overlap']} must be smaller than window ({v['window']})")
    if v["first_frame"] > v["last_frame"]:
        problems.append(f"frame range: first frame {v['first_frame']} is after last frame "
                        f"{v['last_frame']}")
    if not _DEVICE.fullmatch(v["device"]):
        problems.append(f"device: {v['device']!r} is not auto, cpu, cuda or cuda:N")
    if v["flow"].startswith("raft"):
        weights = v["raft_weights"] or environ.get("FLOWFILL_RAFT_WEIGHTS", "")
        if not weights:
            problems.append("raft weights: RAFT needs a checkpoint (set the knob or "
                            "$FLOWFILL_RAFT_WEIGHTS); flowfill never downloads one")
        elif not os.path.isfile(weights):
            problems.append(f"raft weights: no such file {weights}")
    if any(c in v["work_folder"] for c in "#%[]"):
        problems.append("work folder: must not contain #, % or [ ] (frame placeholders and "
                        "Nuke expressions)")
    try:
        extra = shlex.split(v["extra_args"])
    except ValueError as err:
        problems.append(f"extra options: {err}")
    else:
        if extra and not extra[0].startswith("-"):
            problems.append(f"extra options: {extra[0]!r} is not an option (they start with -)")
        for arg in extra:
            if arg.split("=", 1)[0] in _RESERVED:
                problems.append(f"extra options: {arg} is set by the gizmo itself")
    return problems


def resolve_executable(value: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The argv prefix that runs flowfill: the knob, else $FLOWFILL_EXECUTABLE, else flowfill on
    PATH; a Python interpreter runs ``python -m flowfill``. KnobError when none is found."""
    environ = os.environ if environ is None else environ
    given = value.strip() or environ.get(EXECUTABLE_ENV, "").strip()
    if given:
        path = given if os.path.isfile(given) else shutil.which(given)
        if path is None:
            raise KnobError([f"flowfill executable: {given} not found"])
    else:
        path = shutil.which("flowfill", path=environ.get("PATH"))
        if path is None:
            raise KnobError([f"flowfill executable: flowfill is not on PATH; set the knob or "
                             f"${EXECUTABLE_ENV} to the flowfill command of the Python where "
                             "flowfill is installed (e.g. /path/to/venv/bin/flowfill)"])
    name = os.path.basename(path).lower()
    if re.fullmatch(r"python[\d.]*(\.exe)?|pythonw?(\.exe)?", name):
        return [path, "-m", "flowfill"]
    return [path]


def build_command(values: Mapping[str, Any], layout: WorkLayout, executable: Sequence[str],
                  ) -> list[str]:
    """The ``flowfill remove`` argv for validated knob values (every option spelled out, so the
    run does not depend on flowfill's defaults; dilate -1 and empty weights are left out)."""
    argv = [*executable, "remove", layout.source, "--mask", layout.matte,
            "--output", layout.result]
    for knob in OPTION_KNOBS:
        value = values[knob.name]
        if (knob.name == "dilate" and value < 0) or (knob.kind == "file" and not value):
            continue
        argv += [knob.flag, str(value)]
    argv += shlex.split(values.get("extra_args", ""))
    return argv


def command_text(argv: Sequence[str], windows: bool | None = None) -> str:
    """The argv as one line to paste into a shell (cmd.exe quoting on Windows)."""
    windows = sys.platform == "win32" if windows is None else windows
    return subprocess.list2cmdline(list(argv)) if windows else shlex.join(argv)


def host_dirs(exe_path: str, platform: str | None = None) -> list[str]:
    """The host's install folders whose libraries must stay out of flowfill's process: the
    executable's folder (Linux, Windows), the app bundle's Contents folder (macOS)."""
    platform = sys.platform if platform is None else platform
    if not exe_path:
        return []
    folder = os.path.dirname(exe_path)
    if platform == "darwin" and ".app/Contents/" in exe_path:
        return [exe_path[: exe_path.index(".app/Contents/") + len(".app/Contents")]]
    return [folder]


def subprocess_env(environ: Mapping[str, str], host_dirs: Iterable[str] = ()) -> dict[str, str]:
    """The environment for flowfill's process: without the host's Python settings (Nuke's
    PYTHONHOME/PYTHONPATH break another interpreter) and without library-path entries inside
    the host's own install (its libstdc++, OpenEXR or CUDA must not shadow torch's)."""
    env = {k: v for k, v in environ.items()
           if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE")}
    roots = [os.path.normcase(os.path.abspath(d)) for d in host_dirs if d]
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DYLD_FRAMEWORK_PATH"):
        if var not in env or not roots:
            continue
        kept = [p for p in env[var].split(os.pathsep) if p and not any(
            os.path.normcase(os.path.abspath(p)).startswith(r) for r in roots)]
        if kept:
            env[var] = os.pathsep.join(kept)
        else:
            del env[var]
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---------------------------------------------------------------------------------------------
# Progress and output


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BAR = re.compile(r"^\s*([A-Za-z][\w-]*)\s*:\s*(\d+)%\|[^|]*\|\s*(\d+)/(\d+)")
STAGE_WEIGHTS = {"scan": 0.05, "fill": 0.75, "write": 0.2}
"""Share of a run each part stands for (measured roughly on CPU); ``fill`` is the rounds' flow
and propagate bars together, split by :func:`round_weights`."""
_ROUND_STAGE = re.compile(r"^re(flow|propagate)(\d*)$")


def round_weights(rounds: int) -> dict[str, float]:
    """Each flow and propagate bar's share of the fill for a run of ``rounds`` rounds: a later
    round costs about half the first and spends 40% of it on flow, the first 74% (the same
    figures as flowfill.shot, which this module cannot import inside a host)."""
    weights = [1.0] + [0.5] * (max(rounds, 1) - 1)
    out: dict[str, float] = {}
    for number, weight in enumerate(weights, 1):
        share = weight / sum(weights)
        flow = 0.74 if number == 1 else 0.4
        suffix = "" if number == 2 else str(number)
        names = ("flow", "propagate") if number == 1 else (f"reflow{suffix}",
                                                            f"repropagate{suffix}")
        out[names[0]], out[names[1]] = share * flow, share * (1 - flow)
    return out


def rounds_in(argv: Sequence[str]) -> int:
    """The ``--rounds`` a flowfill command line asks for (flowfill's default, 2, without)."""
    rounds = 2
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--rounds=") else (
            argv[i + 1] if arg == "--rounds" and i + 1 < len(argv) else None)
        if value is not None and value.isdigit():
            rounds = int(value)
    return rounds


@dataclass
class ProgressParser:
    """Reads flowfill's progress bars (tqdm lines, shown when its stderr is a terminal) from
    chunks of its output and turns them into one fraction and a message."""

    rounds: int = 2
    stages: dict[str, tuple[int, int]] = field(default_factory=dict)
    fraction: float = 0.0
    message: str = "starting flowfill"
    _tail: str = ""

    def feed(self, chunk: str) -> bool:
        """Take more output; True when the fraction or message changed."""
        text = _ANSI.sub("", self._tail + chunk)
        parts = re.split(r"[\r\n]", text)
        self._tail = parts.pop()  # maybe a bar still being written
        changed = False
        for part in parts:
            match = _BAR.match(part)
            if match is None:
                continue
            stage, done, total = match.group(1), int(match.group(3)), int(match.group(4))
            self.stages[stage] = (done, total)
            self.message = f"flowfill: {stage} {done}/{total}"
            changed = True
        if changed:
            self.fraction = max(self.fraction, self.overall())
        return changed

    def overall(self) -> float:
        """The weighted share of the known stages done (0..1)."""
        weights = {"scan": STAGE_WEIGHTS["scan"], "write": STAGE_WEIGHTS["write"]}
        rounds = max([self.rounds] + [int(m.group(2) or 2) for m in map(
            _ROUND_STAGE.match, self.stages) if m])  # more rounds than asked: count them too
        weights.update({name: STAGE_WEIGHTS["fill"] * share
                        for name, share in round_weights(rounds).items()})
        done = 0.0
        for stage, weight in weights.items():
            count, total = self.stages.get(stage, (0, 0))
            if total:
                done += weight * min(count / total, 1.0)
        return min(done, 1.0)


def clean_output(text: str) -> str:
    """flowfill's terminal output as a log: colour codes gone, each bar at its last state."""
    lines = []
    for line in _ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        last = line.rstrip("\r").split("\r")[-1]
        if last.strip():
            lines.append(last.rstrip())
    return "\n".join(lines)


_SUMMARY = {
    "frames": re.compile(r"flowfill: ([\d,]+) frames, ([\d,]+) hole pixels"),
    "seconds_per_frame": re.compile(r"([\d.]+) s/frame \(([\d.]+) s in all\)"),
    "wrote": re.compile(r"^\s*wrote (.+)$", re.M),
}


def parse_summary(text: str) -> dict[str, Any]:
    """The closing summary of ``flowfill remove``: frames, hole pixels, s/frame, seconds, wrote."""
    out: dict[str, Any] = {}
    if m := _SUMMARY["frames"].search(text):
        out["frames"] = int(m.group(1).replace(",", ""))
        out["hole_pixels"] = int(m.group(2).replace(",", ""))
    if m := _SUMMARY["seconds_per_frame"].search(text):
        out["seconds_per_frame"] = float(m.group(1))
        out["seconds"] = float(m.group(2))
    if m := _SUMMARY["wrote"].search(text):
        out["wrote"] = m.group(1).strip()
    return out


def error_message(text: str) -> str:
    """The line that says why flowfill failed (its ``flowfill: error:`` line, else the last)."""
    lines = [ln.strip() for ln in clean_output(text).splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("flowfill: error:"):
            return line[len("flowfill: error:"):].strip()
    return lines[-1] if lines else "flowfill stopped without a message"


@dataclass
class RunResult:
    """How a flowfill run ended."""

    returncode: int | None
    cancelled: bool
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the run finished and wrote its output."""
        return self.returncode == 0 and not self.cancelled

    @property
    def error(self) -> str:
        """Why it failed ('' when it did not)."""
        if self.ok:
            return ""
        if self.cancelled:
            return "cancelled"
        return error_message(self.output)

    @property
    def summary(self) -> dict[str, Any]:
        """The parsed closing summary (empty when there is none)."""
        return parse_summary(clean_output(self.output))


def run_flowfill(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    log_path: str | None = None,
    frames_written: Callable[[], int] | None = None,
    total_frames: int | None = None,
    use_pty: bool | None = None,
    poll: float = 0.2,
    grace: float = 10.0,
) -> RunResult:
    """Run flowfill, reporting ``on_progress(fraction, message)`` and stopping when
    ``cancelled()`` turns True (interrupt, then kill after ``grace`` seconds).

    On POSIX the output goes through a pseudo-terminal, so flowfill draws its per-stage
    progress bars and they are parsed; elsewhere (``use_pty=False``) progress comes from
    ``frames_written() / total_frames``, a window at a time.
    """
    use_pty = (os.name == "posix") if use_pty is None else use_pty
    started = time.monotonic()
    chunks: list[str] = []
    lock = threading.Lock()
    if use_pty:
        proc, reader = _spawn_pty(argv, env)
    else:
        proc, reader = _spawn_pipe(argv, env)

    def pump() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for data in reader():  # bytes; a character may straddle two reads
            text = decoder.decode(data)
            with lock:
                chunks.append(text)

    thread = threading.Thread(target=pump, name="flowfill-output", daemon=True)
    thread.start()
    parser = ProgressParser(rounds=rounds_in(argv))
    seen = 0
    was_cancelled = False
    last_report: tuple[float, str] | None = None
    while True:
        with lock:
            new = "".join(chunks[seen:])
            seen = len(chunks)
        if new:
            parser.feed(new)
        if not use_pty and frames_written is not None and total_frames:
            try:
                done = frames_written()
            except OSError:
                done = 0
            parser.fraction = max(parser.fraction, min(done / total_frames, 1.0))
            parser.message = f"flowfill: {done}/{total_frames} frames written"
        if proc.poll() is not None:
            if proc.returncode == 0:
                parser.fraction, parser.message = 1.0, "flowfill: done"
        report = (parser.fraction, parser.message)
        if on_progress is not None and report != last_report:
            on_progress(*report)
            last_report = report
        if proc.returncode is not None:
            break
        if cancelled is not None and cancelled():
            was_cancelled = True
            _stop(proc, grace, started)
            break
        time.sleep(poll)
    thread.join(timeout=5.0)
    with lock:
        output = "".join(chunks)
    if log_path is not None:
        try:
            with open(log_path, "w", encoding="utf-8") as fh:
                fh.write(clean_output(output) + "\n")
        except OSError:
            pass
    return RunResult(proc.returncode, was_cancelled, output, time.monotonic() - started)


def _spawn_pty(argv: Sequence[str], env: Mapping[str, str] | None,
               ) -> tuple[subprocess.Popen, Callable[[], Iterable[bytes]]]:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=slave,
                                stderr=slave, env=None if env is None else dict(env),
                                start_new_session=True, close_fds=True)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)

    def read() -> Iterable[bytes]:
        try:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not data:
                    return
                yield data
        finally:
            os.close(master)

    return proc, read


def _spawn_pipe(argv: Sequence[str], env: Mapping[str, str] | None,
                ) -> tuple[subprocess.Popen, Callable[[], Iterable[bytes]]]:
    flags = 0
    if sys.platform == "win32":
        flags = subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=None if env is None else dict(env),
                            creationflags=flags, start_new_session=os.name == "posix")
    stream = proc.stdout
    assert stream is not None

    def read() -> Iterable[bytes]:
        with stream:
            while True:
                data = stream.read1(65536)
                if not data:
                    return
                yield data

    return proc, read


HANDLER_WAIT = 5.0
"""Seconds a cancel waits at most for a just-started flowfill to catch Ctrl-C."""
STARTUP = 0.5
"""A child's age by which flowfill has its own Ctrl-C handler (installed before it loads
anything; Python's own, there from the start, ends an interrupt in a traceback)."""


def _stop(proc: subprocess.Popen, grace: float, started: float) -> None:
    """Interrupt flowfill (it then deletes its partial output) and kill it if it lingers.
    ``started``: when it was spawned (``time.monotonic``)."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            _await_interrupt_handler(proc, started)
            proc.send_signal(signal.SIGINT)
        else:
            proc.send_signal(signal.CTRL_BREAK_EVENT)
    except (OSError, ValueError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _await_interrupt_handler(proc: subprocess.Popen, started: float) -> None:
    """Wait until a just-started flowfill catches SIGINT (at most ``HANDLER_WAIT`` s): a host
    that ignores Ctrl-C starts its children ignoring it too, and an interrupt sent before
    flowfill's own handler is in place, in its first tens of milliseconds, is lost: the render
    would run on until killed. The child is given ``STARTUP`` seconds, and on Linux, where its
    caught-signal mask can be read, until it catches SIGINT."""
    deadline = time.monotonic() + HANDLER_WAIT
    while proc.poll() is None and time.monotonic() < deadline:
        if time.monotonic() - started >= STARTUP and _catches_sigint(proc.pid) is not False:
            return
        time.sleep(0.005)


def _catches_sigint(pid: int) -> bool | None:
    """Whether process ``pid`` has a handler for SIGINT (the SigCgt mask of Linux's /proc);
    None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGINT - 1) & 1)
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Inside Nuke


INNER = {
    "write_source": "WriteSource",
    "write_matte": "WriteMatte",
    "read": "ReadResult",
    "black": "Black",
    "crop_source": "CropSource",
    "crop_matte": "CropMatte",
    "matte_switch": "MatteSwitch",
}
"""Names of the gizmo's inner nodes that the Render button sets up."""

_RUNNING: set[str] = set()


def knob_values(node: Any) -> dict[str, Any]:
    """The gizmo's knob values (file knobs evaluated, so Nuke expressions in them apply)."""
    values = {}
    for knob in KNOBS:
        k = node.knob(knob.name)
        if k is None:
            continue
        values[knob.name] = k.evaluate() if knob.kind == "file" else k.value()
    return values


def ofx_node_class(names: Iterable[str]) -> str | None:
    """The node class of flowfill's OFX plugin among loaded plugin names (``OFX<id>_v<N>``,
    highest version), or None."""
    best: tuple[int, str] | None = None
    pattern = re.compile(r"OFX" + re.escape(OFX_ID) + r"_v(\d+)")
    for name in names:
        base = re.sub(r"\.(ofx|so|dylib|dll)$", "", os.path.basename(name))
        if m := pattern.fullmatch(base):
            version = int(m.group(1))
            if best is None or version > best[0]:
                best = (version, base)
    return None if best is None else best[1]


def create_ofx_node() -> Any:
    """Menu command: create flowfill's OFX node, or say clearly why it cannot."""
    import nuke

    names: list[str] = []
    try:
        names = list(nuke.plugins(nuke.ALL | nuke.NODIR, "OFX*"))
    except Exception:  # noqa: BLE001 - older Nukes list plug-ins differently
        names = []
    candidates = [c for c in [ofx_node_class(names)] if c]
    candidates += [f"OFX{OFX_ID}_v{v}" for v in (1, 2, 3) if f"OFX{OFX_ID}_v{v}" not in candidates]
    for cls in candidates:
        try:
            return nuke.createNode(cls)
        except RuntimeError:
            continue
    nuke.message(
        "flowfill's OpenFX plug-in is not loaded.\n\n"
        "Install flowfill.ofx.bundle into an OFX plug-in folder (/usr/OFX/Plugins, or a folder "
        "named in OFX_PLUGIN_PATH) and restart Nuke; see flowfill's plugins/README.md.\n\n"
        "flowfill > Remove (farm-safe gizmo) works without it."
    )
    return None


def create_gizmo() -> Any:
    """Menu command: create the farm-safe gizmo."""
    import nuke

    return nuke.createNode(GIZMO)


def _prepare(node: Any) -> tuple[dict[str, Any], WorkLayout, list[str]]:
    """Checked values, layout and command of a node; KnobError on bad values."""
    import nuke

    values = validate(knob_values(node))
    folder = values["work_folder"] or default_work_folder(
        nuke.root().name() if nuke.root().name() != "Root" else None, node.fullName())
    layout = WorkLayout(os.path.abspath(folder))
    argv = build_command(values, layout, resolve_executable(values["executable"]))
    return values, layout, argv


def show_command(node: Any = None) -> str | None:
    """Button: show the command the Render button runs (for a farm or a shell)."""
    import nuke

    node = node or nuke.thisNode()
    try:
        _, layout, argv = _prepare(node)
    except KnobError as err:
        nuke.message(f"flowfill Remove:\n{err}")
        return None
    text = command_text(argv)
    nuke.message(f"After rendering the inputs to\n{layout.source_nuke}\n{layout.matte_nuke}\n"
                 f"the Render button runs:\n\n{text}")
    return text


def _set_up_inner(node: Any, layout: WorkLayout, values: Mapping[str, Any]) -> list[Any]:
    """Point the inner Writes at the work folder, make their bbox the Source's format and pick
    the matte (Matte input's alpha, or Source alpha when Matte is not connected)."""
    source = node.input(0)
    fmt = source.format()
    width, height = fmt.width(), fmt.height()
    inner = {key: node.node(name) for key, name in INNER.items()}
    missing = [name for key, name in INNER.items() if inner[key] is None]
    if missing:
        raise KnobError([f"the gizmo lacks its inner nodes {', '.join(missing)}: reinstall "
                         "flowfillRemove.gizmo"])
    inner["black"]["format"].setValue(fmt)
    for key in ("crop_source", "crop_matte"):
        inner[key]["box"].setValue([0, 0, width, height])
    inner["matte_switch"]["which"].setValue(0 if node.input(1) is not None else 1)
    inner["write_source"]["file"].setValue(layout.source_nuke)
    inner["write_matte"]["file"].setValue(layout.matte_nuke)
    return [inner["write_source"], inner["write_matte"]]


def render(node: Any = None) -> None:
    """Button: render Source and matte to EXR, run flowfill on them, read the result back."""
    import nuke

    node = node or nuke.thisNode()
    title = "flowfill Remove"
    if node.fullName() in _RUNNING:
        nuke.message(f"{title}: {node.name()} is already running")
        return
    if node.input(0) is None:
        nuke.message(f"{title}: connect the Source input")
        return
    if nuke.root()["proxy"].value():
        nuke.message(f"{title}: turn proxy mode off; flowfill works on full-resolution frames")
        return
    try:
        values, layout, argv = _prepare(node)
        first, last = values["first_frame"], values["last_frame"]
        prepare_work_folder(layout)
        writes = _set_up_inner(node, layout, values)
    except (KnobError, OSError) as err:
        nuke.message(f"{title}:\n{err}")
        return
    node["result_ready"].setValue(False)
    node["status"].setValue(f"rendering inputs {first}-{last}")
    for write in writes:
        write["disable"].setValue(False)
    try:
        nuke.executeMultiple(writes, ((first, last, 1),), nuke.views()[:1])
    except RuntimeError as err:  # cancelled or failed: the render dialog said which
        node["status"].setValue(f"input render stopped: {err}")
        return
    finally:
        for write in writes:
            write["disable"].setValue(True)
    lost = missing_frames(layout.source, first, last) + missing_frames(layout.matte, first, last)
    if lost:
        nuke.message(f"{title}: the input render left out frames {sorted(set(lost))[:10]}")
        return
    with open(layout.command, "w", encoding="utf-8") as fh:
        fh.write(command_text(argv) + "\n")
    host = host_dirs(getattr(nuke, "EXE_PATH", "") or "")
    job = _Job(node.fullName(), layout, argv, subprocess_env(os.environ, host), first, last)
    _RUNNING.add(job.node)
    node["status"].setValue("running flowfill")
    if nuke.GUI:
        threading.Thread(target=job.run_in_background, name="flowfill", daemon=True).start()
        return
    result = None
    try:
        result = job.run(print_progress)
    finally:
        job.finish(result)


def print_progress(fraction: float, message: str) -> None:
    """Progress on the terminal (Nuke without its GUI, e.g. on a farm)."""
    print(f"{100 * fraction:5.1f}% {message}", flush=True)


@dataclass
class _Job:
    """One Render: run flowfill (in a thread under the GUI), then update the node."""

    node: str
    layout: WorkLayout
    argv: list[str]
    env: dict[str, str]
    first: int
    last: int

    def run(self, report: Callable[[float, str], None],
            cancelled: Callable[[], bool] | None = None) -> RunResult:
        """Run flowfill with progress and cancel (a command that cannot start is a failed run)."""
        try:
            return run_flowfill(self.argv, env=self.env, on_progress=report,
                                cancelled=cancelled, log_path=self.layout.log,
                                frames_written=lambda: written_frames(self.layout),
                                total_frames=self.last - self.first + 1)
        except OSError as err:
            return RunResult(None, False, f"flowfill: error: cannot start {self.argv[0]}: "
                             f"{err.strerror or err}", 0.0)

    def run_in_background(self) -> None:
        """Thread body under the GUI: a ProgressTask whose Cancel kills flowfill."""
        import nuke

        result: RunResult | None = None
        try:
            task = nuke.ProgressTask("flowfill Remove")  # closes when the last reference goes

            def report(fraction: float, message: str) -> None:
                task.setProgress(int(100 * fraction))
                task.setMessage(message)

            result = self.run(report, task.isCancelled)
        finally:
            nuke.executeInMainThread(self.finish, args=(result,))

    def finish(self, result: RunResult | None) -> None:
        """Main thread: point the Read at the result, or say what went wrong."""
        import nuke

        _RUNNING.discard(self.node)
        if result is not None and result.cancelled:
            remove_unfinished(self.layout)
        node = nuke.toNode(self.node)
        if node is None:  # deleted while flowfill ran
            return
        if result is None:
            node["status"].setValue("flowfill did not run (see the script editor)")
            return
        if not result.ok:
            node["status"].setValue(f"failed: {result.error}" if not result.cancelled
                                    else "cancelled")
            if not result.cancelled:
                nuke.message(f"flowfill Remove failed:\n{result.error}\n\n"
                             f"Log: {self.layout.log}")
            return
        missing = missing_frames(self.layout.result, self.first, self.last)
        if missing:
            node["status"].setValue(f"flowfill wrote no frame {missing[0]}")
            return
        node["result_file"].setValue(self.layout.result_nuke)
        node["result_first"].setValue(self.first)
        node["result_last"].setValue(self.last)
        node["result_ready"].setValue(True)
        read = node.node(INNER["read"])
        if read is not None and read.knob("reload") is not None:
            read["reload"].execute()
        info = result.summary
        rate = f", {info['seconds_per_frame']:.2f} s/frame" if "seconds_per_frame" in info else ""
        node["status"].setValue(f"filled {self.first}-{self.last}{rate}")
