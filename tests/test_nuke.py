"""The Nuke adapter (plugins/nuke) without Nuke: the helper module, the command it builds, the
.gizmo text, and real ``flowfill remove`` runs on EXR sequences written the way the gizmo's
inner Write nodes write them. Nuke itself cannot run here; a stand-in ``nuke`` module drives
the Render button's code path."""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import types
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NUKE_DIR = ROOT / "plugins" / "nuke"
GIZMO_PATH = NUKE_DIR / "gizmos" / "flowfillRemove.gizmo"
FLOWFILL = Path(sys.executable).parent / "flowfill"

sys.path.insert(0, str(NUKE_DIR))
import flowfill_nuke as fn  # noqa: E402

sys.path.remove(str(NUKE_DIR))


def test_helper_imports_without_nuke():
    assert "nuke" not in sys.modules
    assert fn.GIZMO == "flowfillRemove" and GIZMO_PATH.stem == fn.GIZMO


# ------------------------------------------------------------------------------------------
# Frame patterns, work folder


@pytest.mark.parametrize("nuke_pattern, printf", [
    ("/w/source/source.####.exr", "/w/source/source.%04d.exr"),
    ("shot_#.exr", "shot_%d.exr"),
    ("C:\\w\\a.##.exr", "C:\\w\\a.%02d.exr"),
    ("/w/a.%04d.exr", "/w/a.%04d.exr"),
    ("/w/#dir#/plate.exr", "/w/#dir#/plate.exr"),  # only the file name holds a placeholder
])
def test_pattern_conversion(nuke_pattern, printf):
    assert fn.nuke_to_printf(nuke_pattern) == printf
    if "#" in os.path.basename(nuke_pattern.replace("\\", "/")):
        assert fn.printf_to_nuke(printf) == nuke_pattern
    assert fn.printf_to_nuke("/w/a.%d.exr") == "/w/a.#.exr"


def test_frame_path_matches_flowfill_naming():
    from flowfill.io.sequence import format_frame, printf_pattern

    for pattern in ("/w/s.####.exr", "/w/s.%04d.exr"):
        for frame in (0, 7, 1001, 12345):
            expected = os.path.join("/w", format_frame(os.path.basename(
                printf_pattern(pattern)), frame))
            assert fn.frame_path(pattern, frame) == expected
    assert fn.frame_path("/w/s.####.exr", 1001) == "/w/s.1001.exr"


def test_layout_paths(tmp_path):
    layout = fn.WorkLayout(str(tmp_path))
    assert layout.source == str(tmp_path / "source" / "source.%04d.exr")
    assert layout.matte == str(tmp_path / "matte" / "matte.%04d.exr")
    assert layout.result == str(tmp_path / "result" / "result.%04d.exr")
    assert layout.result_nuke == f"{tmp_path.as_posix()}/result/result.####.exr"
    assert fn.nuke_to_printf(layout.source_nuke) == layout.source.replace("\\", "/")
    assert fn.nuke_path("C:\\a\\b.####.exr") == "C:/a/b.####.exr"


def test_default_work_folder(tmp_path):
    script = str(tmp_path / "shots" / "sh010_comp_v003.nk")
    assert fn.default_work_folder(script, "flowfillRemove1", {}) == str(
        tmp_path / "shots" / "flowfill" / "sh010_comp_v003" / "flowfillRemove1")
    assert fn.default_work_folder(script, "Group1.flowfill Remove", {"FLOWFILL_NUKE_WORK":
                                  str(tmp_path / "w")}) == str(
        tmp_path / "w" / "sh010_comp_v003" / "Group1.flowfill_Remove")
    unsaved = fn.default_work_folder(None, "flowfillRemove1", {})
    assert unsaved.endswith(os.path.join("flowfill", "untitled", "flowfillRemove1"))


def test_prepare_work_folder_removes_stale_frames(tmp_path):
    layout = fn.WorkLayout(str(tmp_path / "work"))
    fn.prepare_work_folder(layout)
    for folder in layout.folders():
        assert os.path.isdir(folder)
    stale = [fn.frame_path(layout.source, 990), fn.frame_path(layout.matte, 990)]
    kept = [fn.frame_path(layout.result, 990), os.path.join(tmp_path, "work", "source",
                                                            "notes.txt")]
    temp = tmp_path / "work" / ".result.tmp-1a2b3c4d"
    temp.mkdir()
    (temp / "result.0001.exr").write_bytes(b"x")
    for path in stale + kept:
        Path(path).write_bytes(b"x")
    assert fn.written_frames(layout) == 1
    fn.prepare_work_folder(layout)
    assert not any(os.path.exists(p) for p in stale)
    assert all(os.path.exists(p) for p in kept)
    assert not temp.exists() and fn.written_frames(layout) == 0
    assert fn.missing_frames(layout.result, 989, 991) == [989, 991]


# ------------------------------------------------------------------------------------------
# Values and the command


def knob_values(**changes):
    values = fn.defaults()
    values.update(first_frame=1001, last_frame=1006)
    values.update(changes)
    return values


def test_helper_knobs_match_flowfill_options():
    from flowfill.options import EDGE_MODES, FILL_METHODS, FLOW_METHODS, Options

    d = Options()
    by_name = {k.name: k for k in fn.OPTION_KNOBS}
    assert by_name["fill"].choices == FILL_METHODS and by_name["fill"].default == d.fill
    assert by_name["flow"].choices == FLOW_METHODS and by_name["flow"].default == d.flow
    assert by_name["edges"].choices == EDGE_MODES and by_name["edges"].default == d.edges
    for name in ("grow", "window", "overlap", "rounds", "device"):
        assert by_name[name].default == getattr(d, name), name
    assert d.dilate is None and by_name["dilate"].default == -1  # -1 stands for auto
    assert d.raft_weights is None and by_name["raft_weights"].default == ""
    for knob in fn.OPTION_KNOBS:
        assert knob.flag == "--" + knob.name.replace("_", "-")


def test_exact_command(tmp_path):
    work = tmp_path / "my shots" / "sh 010"
    layout = fn.WorkLayout(str(work))
    weights = tmp_path / "raft things.pth"
    weights.write_bytes(b"x")
    values = fn.validate(knob_values(
        fill="telea", dilate=3, grow=2.0, window=40, overlap=8, flow="raft",
        raft_weights=f"  {weights}  ", edges="off", rounds=1, device="cuda:1",
        extra_args="--nonlocal-frames 0 --seed=7", work_folder=str(work)))
    argv = fn.build_command(values, layout, ["/opt/ff/bin/flowfill"])
    assert argv == [
        "/opt/ff/bin/flowfill", "remove",
        str(work / "source" / "source.%04d.exr"),
        "--mask", str(work / "matte" / "matte.%04d.exr"),
        "--output", str(work / "result" / "result.%04d.exr"),
        "--fill", "telea", "--dilate", "3", "--grow", "2", "--window", "40",
        "--overlap", "8", "--flow", "raft", "--raft-weights", str(weights),
        "--edges", "off", "--rounds", "1", "--device", "cuda:1", "--nonlocal-frames", "0",
        "--seed=7",
    ]
    text = fn.command_text(argv, windows=False)
    assert shlex.split(text) == argv and "'" in text  # the spaces are quoted
    win = fn.command_text(["C:\\ff\\flowfill.exe", "remove", "C:\\my shots\\a.%04d.exr"],
                          windows=True)
    assert win == 'C:\\ff\\flowfill.exe remove "C:\\my shots\\a.%04d.exr"'


def test_default_command_leaves_auto_values_to_flowfill(tmp_path):
    layout = fn.WorkLayout(str(tmp_path))
    argv = fn.build_command(fn.validate(knob_values()), layout, ["flowfill"])
    assert argv[7:] == ["--fill", "csa", "--grow", "0", "--window", "80", "--overlap", "10",
                        "--flow", "dis", "--edges", "auto", "--rounds", "2", "--device",
                        "auto"]


def test_command_parses_with_flowfills_own_cli(tmp_path):
    """The flags are flowfill's: its parser turns them back into the knob values."""
    from flowfill.cli import build_parser, options_from_args

    layout = fn.WorkLayout(str(tmp_path))
    values = fn.validate(knob_values(fill="dip", dilate=0, grow=4, window=12, overlap=3,
                                     edges="on", rounds=1, device="cpu",
                                     extra_args="--tiny-hole 9"))
    argv = fn.build_command(values, layout, ["flowfill"])
    args = build_parser().parse_args(argv[1:])
    assert (args.input, args.mask, args.output) == (layout.source, layout.matte, layout.result)
    opts = options_from_args(args)
    assert (opts.fill, opts.dilate, opts.grow, opts.window, opts.overlap, opts.edges,
            opts.rounds, opts.device, opts.tiny_hole) == ("dip", 0, 4, 12, 3, "on", 1, "cpu", 9)
    auto = build_parser().parse_args(fn.build_command(fn.validate(knob_values()), layout,
                                                      ["flowfill"])[1:])
    assert options_from_args(auto).dilate is None


def test_validate_reports_every_problem(tmp_path):
    with pytest.raises(fn.KnobError) as err:
        fn.validate(knob_values(fill="magic", window=10, overlap=10, first_frame=20,
                                last_frame=10, device="gpu", dilate=-2, rounds=0,
                                work_folder="/w/sh#10", extra_args="--output x.mov"), {})
    text = str(err.value)
    assert "fill: 'magic' is not one of csa, dip, siren, telea" in text
    assert "dilate: -2 is below -1" in text
    assert "rounds: 0 is below 1" in text
    assert len(err.value.problems) == 3  # value errors first; the cross checks need them
    with pytest.raises(fn.KnobError) as err:
        fn.validate(knob_values(window=10, overlap=10, first_frame=20, last_frame=10,
                                device="gpu", work_folder="/w/sh#10",
                                extra_args="--output x.mov"), {})
    problems = err.value.problems
    assert any(p.startswith("overlap: 10 must be smaller than window") for p in problems)
    assert any(p.startswith("frame range: first frame 20 is after last frame 10")
               for p in problems)
    assert any(p.startswith("device: 'gpu'") for p in problems)
    assert any(p.startswith("work folder:") for p in problems)
    assert any("--output is set by the gizmo" in p for p in problems)
    with pytest.raises(fn.KnobError, match="RAFT needs a checkpoint"):
        fn.validate(knob_values(flow="raft-small"), {})
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    assert fn.validate(knob_values(flow="raft"), {"FLOWFILL_RAFT_WEIGHTS": str(weights)})
    with pytest.raises(fn.KnobError, match="not a whole number"):
        fn.validate(knob_values(grow=1.5))
    with pytest.raises(fn.KnobError, match="extra options: 'x' is not an option"):
        fn.validate(knob_values(extra_args="x --seed 1"))
    assert fn.validate(knob_values(window=12.0))["window"] == 12  # Nuke may hand ints as floats


def test_resolve_executable(tmp_path):
    assert fn.resolve_executable(str(FLOWFILL), {}) == [str(FLOWFILL)]
    assert fn.resolve_executable("", {"FLOWFILL_EXECUTABLE": str(FLOWFILL)}) == [str(FLOWFILL)]
    assert fn.resolve_executable("", {"PATH": str(FLOWFILL.parent)}) == [str(FLOWFILL)]
    python = fn.resolve_executable(sys.executable, {})
    assert python == [sys.executable, "-m", "flowfill"]
    with pytest.raises(fn.KnobError, match="not on PATH"):
        fn.resolve_executable("", {"PATH": str(tmp_path)})
    with pytest.raises(fn.KnobError, match="not found"):
        fn.resolve_executable(str(tmp_path / "nope"), {})


def test_subprocess_env_drops_the_hosts_python_and_libraries():
    env = fn.subprocess_env({
        "PYTHONHOME": "/usr/local/Nuke15.1v2", "PYTHONPATH": "/usr/local/Nuke15.1v2/lib",
        "LD_LIBRARY_PATH": os.pathsep.join(["/usr/local/Nuke15.1v2/lib", "/opt/cuda/lib64"]),
        "DYLD_LIBRARY_PATH": "/usr/local/Nuke15.1v2", "HOME": "/home/c",
    }, fn.host_dirs("/usr/local/Nuke15.1v2/Nuke15.1", "linux"))
    assert env["LD_LIBRARY_PATH"] == "/opt/cuda/lib64" and "DYLD_LIBRARY_PATH" not in env
    assert "PYTHONHOME" not in env and "PYTHONPATH" not in env and env["HOME"] == "/home/c"
    mac = "/Applications/Nuke15.1v2/Nuke15.1v2.app/Contents/MacOS/Nuke15.1"
    assert fn.host_dirs(mac, "darwin") == ["/Applications/Nuke15.1v2/Nuke15.1v2.app/Contents"]
    assert fn.host_dirs("", "linux") == []


def test_ofx_node_class():
    assert fn.ofx_node_class(["OFXorg.flowfill.Remove_v1.ofx", "Blur"]) == (
        "OFXorg.flowfill.Remove_v1")
    assert fn.ofx_node_class(["OFXorg.flowfill.Remove_v1", "OFXorg.flowfill.Remove_v2"]) == (
        "OFXorg.flowfill.Remove_v2")
    assert fn.ofx_node_class(["OFXorg.flowfill.Removed_v1", "OFXuk.co.x_v1"]) is None


# ------------------------------------------------------------------------------------------
# Output parsing

TQDM = ("\rscan       :   0%|          | 0/30 [00:00<?, ?f/s]\rscan       : 100%|\u2588\u2588| "
        "30/30 [00:00<00:00, 401.28f/s]\r\n\rflow       :   3%|\u2588   | 1/30 [00:00<00:11,"
        "  2.61f/s]\x1b[A\r\n\rpropagate  :  50%|\u2588\u2588  | 15/30 [00:03<00:03]\r\n"
        "\rwrite      :  20%|\u2588   | 6/30 [00:05<00:20]")
SUMMARY = ("flowfill: 30 frames, 32,199 hole pixels\r\n  filled by propagation:   32,194 "
           "(100.0%)\r\n  keyframes: 0; shot cuts: none\r\n  0.321 s/frame (9.6 s in all)\r\n"
           "  wrote /w/result/result.%04d.exr\r\n")


def test_progress_parser_reads_bars_split_anywhere():
    for cut in (5, 70, 131, len(TQDM) - 3):
        parser = fn.ProgressParser(rounds=1)
        parser.feed(TQDM[:cut])
        parser.feed(TQDM[cut:] + "\r\n")
        assert parser.stages == {"scan": (30, 30), "flow": (1, 30), "propagate": (15, 30),
                                 "write": (6, 30)}
        # one round: flow 0.75 * 0.74 of the run, propagate 0.75 * 0.26
        expected = 0.05 + 0.555 / 30 + 0.195 * 0.5 + 0.2 * 0.2
        assert parser.fraction == pytest.approx(expected)
        assert parser.message == "flowfill: write 6/30"
    parser = fn.ProgressParser(rounds=1)
    parser.feed("\rflow       :  50%|\u2588 | 15/30\r\n")
    parser.feed("\rflow       :  10%|\u2588 | 3/30\r\n")  # a new window counts again
    assert parser.fraction == pytest.approx(0.555 * 0.5)  # never goes back


def bar(stage: str, done: int, total: int = 30) -> str:
    return f"\r{stage:<11}:  {100 * done // total}%|\u2588 | {done}/{total}\r\n"


def test_progress_parser_counts_each_round():
    argv = ["flowfill", "remove", "in.%04d.exr", "--rounds", "3"]
    assert fn.rounds_in(argv) == 3 and fn.rounds_in(["--rounds=1"]) == 1
    assert fn.rounds_in(["flowfill", "remove"]) == 2  # flowfill's default
    parser = fn.ProgressParser(rounds=fn.rounds_in(argv))
    reached = []
    for stage in ("scan", "flow", "propagate", "reflow", "repropagate", "reflow3",
                  "repropagate3", "write"):
        parser.feed(bar(stage, 30))
        reached.append(parser.fraction)
        assert parser.message == f"flowfill: {stage} 30/30"
    # rounds of weight 1, 0.5, 0.5 share the fill's 0.75: 0.375, then 0.1875 each
    assert reached == pytest.approx([0.05, 0.05 + 0.2775, 0.425, 0.5, 0.6125, 0.6875, 0.8, 1.0])
    parser = fn.ProgressParser(rounds=1)  # a second round the parser was not told of
    parser.feed(bar("scan", 30) + bar("flow", 30) + bar("propagate", 30))
    assert parser.fraction == pytest.approx(0.8)
    parser.feed(bar("reflow", 30))
    assert parser.fraction == pytest.approx(0.8)  # stays, then moves on with the round
    parser.feed(bar("repropagate", 30) + bar("write", 30))
    assert parser.fraction == pytest.approx(1.0)


def test_summary_and_errors():
    info = fn.parse_summary(fn.clean_output(TQDM + "\r\n" + SUMMARY))
    assert info == {"frames": 30, "hole_pixels": 32199, "seconds_per_frame": 0.321,
                    "seconds": 9.6, "wrote": "/w/result/result.%04d.exr"}
    log = fn.clean_output(TQDM + "\r\n" + SUMMARY)
    assert "write      :  20%" in log and "\r" not in log and "\x1b" not in log
    assert fn.error_message("noise\nflowfill: error: /w/m.%04d.exr: mask is empty: nothing "
                            "to remove\n") == "/w/m.%04d.exr: mask is empty: nothing to remove"
    assert fn.error_message("Traceback...\nKeyboardInterrupt\n") == "KeyboardInterrupt"
    assert fn.RunResult(0, False, SUMMARY, 1.0).ok
    assert fn.RunResult(2, False, "flowfill: error: bad\n", 1.0).error == "bad"
    assert fn.RunResult(None, True, "", 1.0).error == "cancelled"


# ------------------------------------------------------------------------------------------
# The .gizmo text

TYPES = {1: "string", 2: "file", 3: "int", 4: "enum", 6: "bool", 7: "float", 20: "tab",
         22: "python", 26: "text"}


def brace_depths(text: str) -> list[int]:
    """Depth after each line, counting braces outside quoted strings (TCL-style escapes)."""
    depth, depths, quoted, escaped = 0, [], False, False
    for line in text.splitlines():
        for ch in line:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = not quoted
            elif not quoted and ch == "{":
                depth += 1
            elif not quoted and ch == "}":
                depth -= 1
                assert depth >= 0, line
        assert not quoted, f"unterminated string: {line}"
        depths.append(depth)
    return depths


def parse_gizmo(text: str) -> tuple[list[str], list[dict]]:
    """The Gizmo block's lines and the inner nodes: class, knobs (text), wired inputs."""
    lines = text.splitlines()
    depths = brace_depths(text)
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Gizmo {"))
    end = next(i for i in range(start, len(lines)) if depths[i] == 0)
    header = lines[start + 1:end]
    nodes: list[dict] = []
    stack: list[dict] = []
    variables: dict[str, dict] = {}
    i = end + 1
    while i < len(lines):
        line = lines[i].strip()
        if m := re.fullmatch(r"(\w+) \{", line):
            j = next(k for k in range(i, len(lines)) if depths[k] == 0)
            knobs = {}
            for body in lines[i + 1:j]:
                if km := re.fullmatch(r"\s*(\w+) (.*)", body):
                    knobs[km.group(1)] = km.group(2)
            node = {"class": m.group(1), "knobs": knobs, "name": knobs.get("name")}
            count = int(knobs.get("inputs", 1))
            node["inputs"] = [stack.pop(0)["name"] for _ in range(count)]
            stack.insert(0, node)
            nodes.append(node)
            i = j + 1
            continue
        if m := re.fullmatch(r"set (\w+) \[stack 0\]", line):
            variables[m.group(1)] = stack[0]
        elif m := re.fullmatch(r"push \$(\w+)", line):
            stack.insert(0, variables[m.group(1)])
        elif line == "end_group":
            break
        elif line and not line.startswith(("#!", "version")):
            raise AssertionError(f"unexpected line {line!r}")
        i += 1
    return header, nodes


@pytest.fixture(scope="module")
def gizmo():
    text = GIZMO_PATH.read_text()
    header, nodes = parse_gizmo(text)
    knobs = {}
    values = {}
    for line in header:
        if m := re.fullmatch(r"\s*addUserKnob \{(\d+) (\w+)(.*)\}", line):
            knobs[m.group(2)] = (TYPES[int(m.group(1))], m.group(3))
        elif m := re.fullmatch(r"\s*(\w+) (.*)", line):
            values[m.group(1)] = m.group(2)
    return text, knobs, values, {n["name"]: n for n in nodes}


def test_gizmo_braces_balance():
    depths = brace_depths(GIZMO_PATH.read_text())
    assert depths[-1] == 0


def test_gizmo_knobs_match_the_helper(gizmo):
    _, knobs, values, _ = gizmo
    for knob in fn.KNOBS:
        kind, rest = knobs[knob.name]
        assert kind == knob.kind, knob.name
        label = re.search(r' l ("[^"]*"|\S+)', rest).group(1).strip('"')
        assert label == knob.label, knob.name
        if knob.kind == "enum":
            choices = re.search(r"M \{([^}]*)\}", rest).group(1).split()
            assert tuple(choices) == knob.choices, knob.name
        given = values[knob.name]
        if knob.name in ("first_frame", "last_frame"):
            assert given == "{{" + knob.default + "}}"
        elif knob.kind in ("file", "string", "enum"):
            assert given.strip('"') == knob.default, knob.name
        else:
            assert float(given) == knob.default, knob.name
    option_knobs = {name for name, (kind, _) in knobs.items()
                    if kind not in ("tab", "python", "text") and not name.startswith("result_")}
    assert option_knobs == {k.name for k in fn.KNOBS}
    assert {"result_file", "result_first", "result_last", "result_ready"} <= set(knobs)
    assert all("+INVISIBLE" in knobs[n][1] for n in knobs if n.startswith("result_"))


def test_gizmo_buttons_call_the_helper(gizmo):
    _, knobs, _, _ = gizmo
    buttons = {name: rest for name, (kind, rest) in knobs.items() if kind == "python"}
    assert set(buttons) == {"render", "show_command"}
    for name, rest in buttons.items():
        script = re.search(r' T "((?:[^"\\]|\\.)*)"', rest).group(1).replace("\\n", "\n")
        assert script == f"import flowfill_nuke\nflowfill_nuke.{name}(nuke.thisNode())"
        assert callable(getattr(fn, name))
        compile(script, name, "exec")


def test_gizmo_wiring(gizmo):
    """Replays the script's node stack: every inner node gets the inputs the design says."""
    _, _, _, nodes = gizmo
    wired = {name: node["inputs"] for name, node in nodes.items()}
    assert wired == {
        "Source": [], "SourceDot": ["Source"], "CropSource": ["SourceDot"], "Black": [],
        "SourceOverBlack": ["Black", "CropSource"],  # B = black of the format, A = the plate
        "WriteSource": ["SourceOverBlack"],
        "Matte": [], "MatteSwitch": ["Matte", "SourceDot"],  # which 0: Matte, 1: Source alpha
        "MatteBinary": ["MatteSwitch"], "CropMatte": ["MatteBinary"],
        "MatteOverBlack": ["Black", "CropMatte"], "WriteMatte": ["MatteOverBlack"],
        "ReadResult": [], "CopyAlpha": ["ReadResult", "SourceDot"],  # B = result, A = Source
        "ResultSwitch": ["SourceDot", "CopyAlpha"], "Output1": ["ResultSwitch"],
    }
    assert set(fn.INNER.values()) <= set(nodes)
    assert nodes["Matte"]["knobs"]["number"] == "1" and "number" not in nodes["Source"]["knobs"]


def test_gizmo_inner_nodes(gizmo):
    _, _, _, nodes = gizmo
    for name, channels in (("WriteSource", "rgba"), ("WriteMatte", "rgb")):
        knobs = nodes[name]["knobs"]
        assert knobs["file_type"] == "exr" and knobs["datatype"] == '"32 bit float"'
        assert knobs["channels"] == channels and knobs["raw"] == "true"
        assert knobs["disable"] == "true"  # a farm's render-all never runs them
    for row in range(4):  # the matte goes to R, G, B (and A) as 0 or 1
        assert nodes["MatteBinary"]["knobs"][f"expr{row}"] == '"a > parent.matte_threshold"'
    read = nodes["ReadResult"]["knobs"]
    assert read["file"] == '"\\[value parent.result_file]"' and read["raw"] == "true"
    assert read["first"] == "{{parent.result_first}}" and read["last"] == "{{parent.result_last}}"
    assert nodes["CopyAlpha"]["knobs"]["from0"] == "rgba.alpha"
    assert "parent.result_ready" in nodes["ResultSwitch"]["knobs"]["which"]
    for merge in ("SourceOverBlack", "MatteOverBlack"):
        assert nodes[merge]["knobs"]["bbox"] == "B"  # the EXR's data window is the format


def test_menu_and_init_files():
    menu = (NUKE_DIR / "menu.py").read_text()
    assert 'addMenu("flowfill")' in menu
    assert '"Remove (OFX)", flowfill_nuke.create_ofx_node' in menu
    assert '"Remove (farm-safe gizmo)", flowfill_nuke.create_gizmo' in menu
    assert 'nuke.pluginAddPath("./gizmos")' in (NUKE_DIR / "init.py").read_text()
    for path in ("menu.py", "init.py"):
        compile((NUKE_DIR / path).read_text(), path, "exec")


# ------------------------------------------------------------------------------------------
# The matte as flowfill reads it


def write_exr(path: str | os.PathLike, pixels: np.ndarray) -> None:
    """Float32 EXR, RGB(A) in, written in OpenCV's BGR(A) order."""
    order = [2, 1, 0, 3] if pixels.shape[2] == 4 else [2, 1, 0]
    ok = cv2.imwrite(str(path), np.ascontiguousarray(pixels[:, :, order], dtype=np.float32),
                     [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_FLOAT])
    assert ok


def test_matte_must_be_in_the_colour_channels(tmp_path):
    """flowfill reads a 4-channel mask as colour AND alpha: a roto in alpha with black RGB is
    an empty mask. The gizmo's WriteMatte therefore writes R = G = B = matte (no alpha)."""
    from flowfill.io.masks import read_mask

    roto = np.zeros((20, 24), np.float32)
    roto[5:12, 6:15] = 1.0
    alpha_only = np.zeros((20, 24, 4), np.float32)
    alpha_only[..., 3] = roto
    write_exr(tmp_path / "alpha_only.exr", alpha_only)
    assert not read_mask(str(tmp_path / "alpha_only.exr")).any()
    write_exr(tmp_path / "gizmo.exr", np.repeat(roto[..., None], 3, axis=2))
    assert (read_mask(str(tmp_path / "gizmo.exr")) == (roto > 0)).all()
    write_exr(tmp_path / "all.exr", np.repeat(roto[..., None], 4, axis=2))
    assert (read_mask(str(tmp_path / "all.exr")) == (roto > 0)).all()


# ------------------------------------------------------------------------------------------
# Real runs

FIRST, LAST, H, W = 1001, 1006, 48, 64


def plate() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Nuke-like RGBA float frames (alpha 1) of a panning smooth background with a red square,
    the clean background, and the square's matte (with a 1 px margin)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frames, clean, mattes = [], [], []
    for t in range(LAST - FIRST + 1):
        u = xx + 2 * t
        bg = np.stack([0.2 + 0.5 * u / (W + 12), 0.3 + 0.4 * yy / H,
                       0.4 + 0.1 * np.sin(u / 7) + 0.1 * np.cos(yy / 5)], axis=2)
        rgba = np.concatenate([bg, np.ones((H, W, 1), np.float32)], axis=2)
        y0, x0 = 16, 6 + 5 * t
        rgba[y0:y0 + 12, x0:x0 + 10, :3] = (1.5, 0.1, 0.05)  # above 1: a float plate
        matte = np.zeros((H, W), np.float32)
        matte[y0 - 1:y0 + 13, x0 - 1:x0 + 11] = 1.0
        frames.append(rgba.astype(np.float32))
        clean.append(bg.astype(np.float32))
        mattes.append(matte)
    return frames, clean, mattes


def write_inputs(layout: fn.WorkLayout, frames, mattes) -> None:
    """What the gizmo's WriteSource and WriteMatte write: RGBA float, and R = G = B = matte."""
    for i, (rgba, matte) in enumerate(zip(frames, mattes, strict=True)):
        write_exr(fn.frame_path(layout.source_nuke, FIRST + i), rgba)
        write_exr(fn.frame_path(layout.matte_nuke, FIRST + i),
                  np.repeat((matte > 0).astype(np.float32)[..., None], 3, axis=2))


def check_result(layout: fn.WorkLayout, frames, clean, mattes) -> None:
    for i, (rgba, bg, matte) in enumerate(zip(frames, clean, mattes, strict=True)):
        path = fn.frame_path(layout.result_nuke, FIRST + i)
        out = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert out is not None and out.dtype == np.float32 and out.shape == (H, W, 4), path
        assert np.array_equal(out[..., 3], rgba[..., 3])  # flowfill keeps the Source alpha
        out = out[:, :, 2::-1]
        inside = matte > 0
        assert np.array_equal(out[~inside], rgba[..., :3][~inside])  # untouched outside
        error = np.abs(out[inside] - bg[inside]).mean()
        # the square is gone, background in its place: 0.008-0.020 here; the frame's mean
        # colour would be 0.042-0.079 off, black 0.39-0.46, the square left 0.40-0.48
        assert error < 0.03, (path, error)
        assert np.abs(rgba[..., :3][inside] - bg[inside]).mean() > 0.3


CHEAP = dict(fill="telea", extra_args="--nonlocal-frames 0 --reference-frames 0")


def test_end_to_end_command_on_nuke_style_exrs(tmp_path):
    layout = fn.WorkLayout(str(tmp_path / "work dir"))
    fn.prepare_work_folder(layout)
    frames, clean, mattes = plate()
    write_inputs(layout, frames, mattes)
    values = fn.validate(knob_values(first_frame=FIRST, last_frame=LAST, **CHEAP))
    argv = fn.build_command(values, layout, fn.resolve_executable(str(FLOWFILL)))
    reports = []
    result = fn.run_flowfill(argv, env=fn.subprocess_env(os.environ), log_path=layout.log,
                             on_progress=lambda f, m: reports.append((f, m)))
    assert result.ok, result.output
    check_result(layout, frames, clean, mattes)
    assert fn.missing_frames(layout.result, FIRST, LAST) == []
    assert result.summary["frames"] == LAST - FIRST + 1
    assert result.summary["wrote"] == layout.result
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any(m.startswith(("flowfill: propagate", "flowfill: repropagate")) for _, m in reports)
    assert "wrote" in Path(layout.log).read_text()


@pytest.mark.parametrize("host_ignores_ctrl_c", [False, True])
def test_cancel_stops_flowfill_and_leaves_nothing(tmp_path, host_ignores_ctrl_c):
    """Cancelled at once, before flowfill has its Ctrl-C handler: the interrupt waits for it,
    also where the host ignores Ctrl-C (its children start ignoring it too, and an interrupt
    sent at once was lost: the render ran on and finished)."""
    layout = fn.WorkLayout(str(tmp_path / "work"))
    fn.prepare_work_folder(layout)
    frames, _, mattes = plate()
    write_inputs(layout, frames, mattes)
    argv = fn.build_command(fn.validate(knob_values()), layout, [str(FLOWFILL)])
    before = signal.signal(signal.SIGINT,
                           signal.SIG_IGN if host_ignores_ctrl_c else signal.default_int_handler)
    try:
        result = fn.run_flowfill(argv, cancelled=lambda: True, use_pty=False, grace=20,
                                 frames_written=lambda: fn.written_frames(layout),
                                 total_frames=6)
    finally:
        signal.signal(signal.SIGINT, before)
    assert result.cancelled and not result.ok and result.returncode == 130, result.output
    assert "interrupted; no output was written" in result.output
    fn.remove_unfinished(layout)
    assert os.listdir(os.path.join(layout.folder, "result")) == []
    assert not [e for e in os.listdir(layout.folder) if e.startswith(".result")]


def test_cancel_mid_run_stops_flowfill_and_leaves_nothing(tmp_path):
    """Cancelled mid-run, its output open: inside a Deep Image Prior keyframe (seconds each; the
    default run of these 6 small frames can end, in 0.5 s, before an interrupt lands). The
    matte is a still strip on the right edge, where the scene pans in: the last frames' strip
    no frame saw, so a keyframe must be invented."""
    layout = fn.WorkLayout(str(tmp_path / "work"))
    fn.prepare_work_folder(layout)
    frames, _, _ = plate()
    strip = np.zeros((H, W), np.float32)
    strip[:, W - 10:] = 1.0
    write_inputs(layout, frames, [strip] * len(frames))
    argv = fn.build_command(fn.validate(knob_values(fill="dip")), layout, [str(FLOWFILL)])
    messages: list[str] = []
    result = fn.run_flowfill(argv, on_progress=lambda f, m: messages.append(m),
                             cancelled=lambda: any(m.startswith("flowfill: dip") for m in
                                                   messages))
    assert result.cancelled and result.returncode == 130, result.output
    assert "interrupted; no output was written" in result.output
    assert os.listdir(os.path.join(layout.folder, "result")) == []
    assert not [e for e in os.listdir(layout.folder) if e.startswith(".result")]


def test_bad_input_gives_flowfills_one_line_error(tmp_path):
    layout = fn.WorkLayout(str(tmp_path / "work"))
    fn.prepare_work_folder(layout)
    frames, _, mattes = plate()
    write_inputs(layout, frames, [np.zeros_like(m) for m in mattes])
    argv = fn.build_command(fn.validate(knob_values()), layout, [str(FLOWFILL)])
    result = fn.run_flowfill(argv, use_pty=False)
    assert result.returncode == 2
    assert result.error.endswith("mask is empty: nothing to remove"), result.output


def test_a_command_that_cannot_start_is_a_failed_run(tmp_path):
    layout = fn.WorkLayout(str(tmp_path))
    fn.prepare_work_folder(layout)
    job = fn._Job("n", layout, [str(tmp_path / "missing"), "remove"], dict(os.environ), 1, 2)
    result = job.run(lambda fraction, message: None)
    assert not result.ok and result.error.startswith(f"cannot start {tmp_path / 'missing'}")


# ------------------------------------------------------------------------------------------
# The Render button's code path, with a stand-in for Nuke


class FakeKnob:
    def __init__(self, value=None):
        self._value = value
        self.executed = 0

    def value(self):
        return self._value

    def evaluate(self):
        return self._value

    def setValue(self, value):  # noqa: N802 - Nuke's API
        self._value = value

    def execute(self):
        self.executed += 1


class FakeFormat:
    def width(self):
        return W

    def height(self):
        return H


class FakeNode:
    def __init__(self, name, knobs=(), inputs=(), children=()):
        self._name = name
        self.knobs = {k: FakeKnob(v) for k, v in dict(knobs).items()}
        self.inputs = list(inputs)
        self.children = {c._name: c for c in children}

    def knob(self, name):
        return self.knobs.get(name)

    def __getitem__(self, name):
        return self.knobs[name]

    def input(self, i):
        return self.inputs[i] if i < len(self.inputs) else None

    def node(self, name):
        return self.children.get(name)

    def name(self):
        return self._name

    def fullName(self):  # noqa: N802 - Nuke's API
        return self._name

    def format(self):
        return FakeFormat()


def fake_nuke(gizmo_node, frames, mattes, messages):
    """A ``nuke`` module just big enough for render(): executeMultiple 'renders' the inner
    Writes by writing what Nuke would write to their file knobs."""
    nuke = types.ModuleType("nuke")
    nuke.GUI = False
    nuke.EXE_PATH = "/usr/local/Nuke15.1v2/Nuke15.1"
    nuke.root = lambda: FakeNode("Root", {"proxy": False})
    nuke.message = messages.append
    nuke.views = lambda: ["main"]
    nuke.toNode = lambda name: gizmo_node if name == gizmo_node.fullName() else None
    nuke.thisNode = lambda: gizmo_node

    def execute_multiple(nodes, ranges, views=None):
        (first, last, step), = ranges
        assert views == ["main"] and step == 1
        for write in nodes:
            assert write["disable"].value() is False
            for frame in range(first, last + 1):
                i = frame - FIRST
                path = fn.frame_path(write["file"].value(), frame)
                if write.name() == "WriteSource":
                    write_exr(path, frames[i])
                else:
                    write_exr(path, np.repeat(mattes[i][..., None], 3, axis=2))

    nuke.executeMultiple = execute_multiple
    return nuke


def test_render_button_with_a_stand_in_nuke(tmp_path, monkeypatch):
    frames, clean, mattes = plate()
    inner = [FakeNode(name, {"disable": True, "file": "", "format": None, "box": None,
                             "which": 1, "reload": None}) for name in fn.INNER.values()]
    values = knob_values(first_frame=FIRST, last_frame=LAST, work_folder=str(tmp_path / "w"),
                         executable=str(FLOWFILL), **CHEAP)
    values.update(status="", result_file="", result_first=0, result_last=0, result_ready=False)
    node = FakeNode("flowfillRemove1", values, inputs=[FakeNode("Read1"), FakeNode("Roto1")],
                    children=inner)
    messages: list[str] = []
    monkeypatch.setitem(sys.modules, "nuke", fake_nuke(node, frames, mattes, messages))
    layout = fn.WorkLayout(str(tmp_path / "w"))
    os.makedirs(os.path.join(layout.folder, "source"))
    Path(fn.frame_path(layout.source, 990)).write_bytes(b"stale")  # an older, wider range

    fn.render(node)

    assert messages == []
    children = node.children
    assert children["WriteSource"]["file"].value() == layout.source_nuke
    assert children["WriteMatte"]["file"].value() == layout.matte_nuke
    assert children["CropSource"]["box"].value() == [0, 0, W, H]
    assert children["MatteSwitch"]["which"].value() == 0  # Matte is connected
    assert all(children[n]["disable"].value() is True for n in ("WriteSource", "WriteMatte"))
    assert node["result_ready"].value() is True
    assert node["result_file"].value() == layout.result_nuke
    assert (node["result_first"].value(), node["result_last"].value()) == (FIRST, LAST)
    assert children["ReadResult"]["reload"].executed == 1
    assert node["status"].value().startswith(f"filled {FIRST}-{LAST}")
    assert not os.path.exists(fn.frame_path(layout.source, 990))
    check_result(layout, frames, clean, mattes)
    assert shlex.split(Path(layout.command).read_text())[:2] == [str(FLOWFILL), "remove"]

    node.inputs = [FakeNode("Read1")]  # no Matte: Source alpha is the matte
    node["first_frame"].setValue(LAST + 1)
    fn.render(node)
    assert messages and "first frame 1007 is after last frame 1006" in messages[-1]
    node["first_frame"].setValue(FIRST)
    fn._set_up_inner(node, layout, {})
    assert children["MatteSwitch"]["which"].value() == 1
