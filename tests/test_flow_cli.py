"""``flowfill flow``: the .flo format, the colour wheel, and the command on real pixels."""

from __future__ import annotations

import os
import struct

import cv2
import numpy as np
import pytest
from conftest import read_rgb, write_rgb

from flowfill import cli
from flowfill.errors import InputError
from flowfill.flow.colour import flow_to_colour
from flowfill.flow.flo import read_flo, write_flo

H, W, SHIFT = 160, 200, 3


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- .flo files


def test_flo_round_trip_and_header(tmp_path):
    rng = np.random.default_rng(0)
    flow = rng.normal(scale=5, size=(7, 11, 2)).astype(np.float32)
    path = tmp_path / "f.flo"
    write_flo(path, flow)
    data = path.read_bytes()
    assert data[:4] == b"PIEH" and struct.unpack("<fii", data[:12]) == (202021.25, 11, 7)
    assert len(data) == 12 + 7 * 11 * 2 * 4
    assert struct.unpack("<ff", data[12:20]) == tuple(flow[0, 0])  # row-major, (dx, dy) pairs
    assert struct.unpack("<ff", data[20:28]) == tuple(flow[0, 1])
    back = read_flo(path)
    assert back.dtype == np.float32 and np.array_equal(back, flow)


def test_read_flo_refuses_a_bad_tag(tmp_path):
    path = tmp_path / "bad.flo"
    path.write_bytes(struct.pack("<fii", 1.0, 2, 2) + bytes(32))
    with pytest.raises(InputError, match="bad.flo"):
        read_flo(path)


@pytest.mark.parametrize("keep", [5, 12, 12 + 31])
def test_read_flo_refuses_a_truncated_file(tmp_path, keep):
    path = tmp_path / "short.flo"
    write_flo(path, np.zeros((2, 2, 2), np.float32))
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(InputError, match="short.flo.*truncated"):
        read_flo(path)


# ---------------------------------------------------------------- colour wheel


def test_colour_of_still_and_moving():
    flow = np.zeros((4, 5, 2), np.float32)
    flow[0, 0] = (2.0, 0.0)  # the largest motion, pure +x
    flow[1, 1] = (1.0, 0.0)
    colour = flow_to_colour(flow)
    assert colour.shape == (4, 5, 3) and colour.dtype == np.uint8
    assert (colour[2:] == 255).all()  # no motion is white
    r, g, b = colour[0, 0].astype(int)
    assert r == 255 and g < 30 and b < 30  # +x is red
    saturation = lambda c: int(c.max()) - int(c.min())  # noqa: E731
    assert saturation(colour[0, 0]) > saturation(colour[1, 1]) > 0
    assert np.array_equal(flow_to_colour(flow, max_flow=4.0)[0, 0], colour[1, 1])


def test_colour_beyond_max_flow_is_darkened():
    flow = np.array([[[1.0, 0.0], [3.0, 0.0]]], np.float32)
    colour = flow_to_colour(flow, max_flow=1.0).astype(int)
    assert colour[0, 1].max() < colour[0, 0].max()
    assert (colour[0, 1] * 4 // 3 >= colour[0, 0] - 2).all()  # same hue, at 0.75 brightness


# ---------------------------------------------------------------- the command


@pytest.fixture
def pair(tmp_path):
    """Two PNGs of a smooth random texture, the second moved SHIFT px to the right."""
    rng = np.random.default_rng(1)
    noise = rng.random((H, W + SHIFT, 3)).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 2.0)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    texture = (texture * 255).astype(np.uint8)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_rgb(a, texture[:, SHIFT:])
    write_rgb(b, texture[:, :W])  # b(x) = a(x - SHIFT): the content moves +SHIFT in x
    return tmp_path, a, b


def test_flow_command_writes_flo_and_picture(pair, capsys):
    tmp, a, b = pair
    out = tmp / "ab.flo"
    code, stdout, err = run(["flow", a, b, "-o", out], capsys)
    assert code == 0, err
    flow = read_flo(out)
    assert flow.shape == (H, W, 2)
    inner = flow[10:-10, 10:-10]
    assert abs(np.median(inner[..., 0]) - SHIFT) < 0.5
    assert abs(np.median(inner[..., 1])) < 0.5
    picture = read_rgb(tmp / "ab.png")
    assert picture.shape == (H, W, 3) and picture.dtype == np.uint8
    assert sorted(os.listdir(tmp)) == ["a.png", "ab.flo", "ab.png", "b.png"]  # no temporaries
    assert stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and f"{W}x{H}" in err and "dis" in err and str(out) in err


def test_flow_command_quiet(pair, capsys):
    tmp, a, b = pair
    code, stdout, err = run(["flow", a, b, "-o", tmp / "ab.flo", "--quiet"], capsys)
    assert code == 0 and stdout == "" and err == ""


def _resized(tmp, a, b):
    write_rgb(tmp / "small.png", np.zeros((H // 2, W // 2, 3), np.uint8))
    return [a, tmp / "small.png"], "small.png"


FLOW_ERRORS = {
    "missing A": lambda tmp, a, b: ([tmp / "nope.png", b], "nope.png"),
    "size mismatch": _resized,
    "not .flo": lambda tmp, a, b: ([a, b, "-o", tmp / "out.png"], "out.png"),
    "no folder": lambda tmp, a, b: ([a, b, "-o", tmp / "no" / "out.flo"], "out.flo"),
    "raft without weights": lambda tmp, a, b: ([a, b, "--flow", "raft"], "--raft-weights"),
    "unknown method": lambda tmp, a, b: ([a, b, "--flow", "magic"], "--flow"),
    "bad device": lambda tmp, a, b: ([a, b, "--device", "tpu"], "--device"),
    "bad iterations": lambda tmp, a, b: ([a, b, "--raft-iters", "0"], "--raft-iters"),
}


@pytest.mark.parametrize("case", list(FLOW_ERRORS))
def test_flow_errors_are_one_line_and_write_nothing(pair, capsys, monkeypatch, case):
    monkeypatch.delenv("FLOWFILL_RAFT_WEIGHTS", raising=False)
    tmp, a, b = pair
    args, name = FLOW_ERRORS[case](tmp, a, b)
    if "-o" not in args:
        args = [*args, "-o", tmp / "out.flo"]
    before = sorted(os.listdir(tmp))
    code, stdout, err = run(["flow", *args], capsys)
    assert code == 2 and stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowfill: error: "), err
    assert name in lines[0]
    assert sorted(os.listdir(tmp)) == before  # no output, no temporaries
