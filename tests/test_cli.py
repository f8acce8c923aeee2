"""The CLI end to end, and every bad input: one error line, exit status 1, outputs untouched."""

import argparse
import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texnet.cli import main
from texnet.errors import TexnetError
from texnet.files import atomic_path

TRAIN_TINY = ["--size", "32", "--batch-size", "1", "--iterations", "3", "--preview-every", "0", "--quiet"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, match):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("texnet: error:"), err
    assert match in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    from texnet.images import load_image, save_image

    folder = tmp_path_factory.mktemp("cli")
    exemplar = folder / "ex.png"
    save_image(load_image("gravel")[:, :48, :48], exemplar)
    model = folder / "gravel.texnet"
    assert main(["train-texture", str(exemplar), "-o", str(model), *TRAIN_TINY, "--seed", "3"]) == 0
    return model


def test_train_sample_info_end_to_end(trained_model, tmp_path, capsys):
    assert trained_model.exists() and trained_model.with_name("gravel.texnet.loss.png").exists()
    code, out, _ = run(capsys, "sample", trained_model, "-o", tmp_path / "out" / "s.png", "-n", "3", "--size",
                       "37x21", "--seed", "7", "--tile-preview")
    assert code == 0
    tmp_path = tmp_path / "out"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["s_01.png", "s_01.tiled.png", "s_02.png", "s_02.tiled.png", "s_03.png", "s_03.tiled.png"]
    assert Image.open(tmp_path / "s_02.png").size == (37, 21)
    assert Image.open(tmp_path / "s_02.tiled.png").size == (74, 42)
    # same seed, same image
    run(capsys, "sample", trained_model, "-o", tmp_path / "again.png", "--size", "37x21", "--seed", "8")
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "s_02.png").read_bytes()

    code, out, _ = run(capsys, "info", trained_model)
    from texnet.modelfile import load_model

    generator, meta = load_model(trained_model)
    assert meta["generator"]["grayscale"]  # gravel is grey: so are its samples
    assert code == 0 and f"parameters   {generator.num_parameters():,}" in out and "vgg16-hed" in out and "K=5" in out
    sample = np.asarray(Image.open(tmp_path / "s_01.png")).astype(int)
    assert (sample[..., 0] == sample[..., 1]).all() and (sample[..., 1] == sample[..., 2]).all()


def test_a_loss_given_with_the_preset_trains_without_the_presets_loss_options(tmp_path, capsys):
    from texnet.modelfile import read_metadata

    model = tmp_path / "gram.texnet"
    code, _, err = run(capsys, "train-texture", "brick", "-o", model, *TRAIN_TINY, "--loss", "gram")
    assert code == 0, err
    loss = read_metadata(model)["loss"]
    assert loss["kind"] == "gram" and "positions" not in loss


def test_weights_list(capsys):
    code, out, _ = run(capsys, "weights", "list")
    assert code == 0 and "vgg16-hed" in out and "<- auto" in out and "vgg19" in out


def test_help_for_every_command():
    from texnet.cli import build_parser

    parser = build_parser()
    commands, stack = [], [([], parser)]
    while stack:  # every command and sub-command the parser knows
        prefix, p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    commands.append(prefix + [name])
                    stack.append((prefix + [name], sub))
    assert {"train-texture", "train-style", "stylize", "optimize", "sample", "export", "web", "bench", "info",
            "weights"} <= {c[0] for c in commands}
    for command in [[]] + commands:
        proc = subprocess.run([sys.executable, "-m", "texnet", *command, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage: texnet" in proc.stdout, command


def test_console_script_error_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "texnet", "sample", str(tmp_path / "nope.texnet"), "-o",
                           str(tmp_path / "x.png")], capture_output=True, text=True)
    assert_one_line_error(proc.returncode, proc.stderr, "not found")


def _bad_images(folder: Path) -> dict[str, tuple[Path, str]]:
    good = folder / "good.png"
    Image.new("RGB", (64, 64), (200, 100, 50)).save(good)
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes(b"this is not an image at all")
    truncated = folder / "truncated.png"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    tiny = folder / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    # a valid PNG header announcing 20000x20000 pixels (a decompression bomb)
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    huge = folder / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return {
        "missing": (folder / "missing.png", "not found"),
        "corrupt": (corrupt, "not an image"),
        "truncated": (truncated, "cannot read image"),
        "tiny": (tiny, "at least 32x32"),
        "huge": (huge, "too large"),
        "folder": (folder, "folder"),
    }


@pytest.mark.parametrize("case", ["missing", "corrupt", "truncated", "tiny", "huge", "folder"])
def test_bad_exemplar_keeps_existing_model(case, tmp_path, capsys):
    image, message = _bad_images(tmp_path)[case]
    model = tmp_path / "precious.texnet"
    model.write_bytes(b"an existing model")
    code, _, err = run(capsys, "train-texture", image, "-o", model, *TRAIN_TINY)
    assert_one_line_error(code, err, message)
    assert model.read_bytes() == b"an existing model"


@pytest.mark.parametrize("size", ["12xx", "0x5", "abc", "-3", "100000x100000"])
def test_bad_size_string(size, trained_model, tmp_path, capsys):
    out = tmp_path / "keep.png"
    out.write_bytes(b"old")
    code, _, err = run(capsys, "sample", trained_model, "-o", out, "--size", size)
    assert_one_line_error(code, err, "size")
    assert out.read_bytes() == b"old"


def test_file_that_is_not_a_model(tmp_path, capsys):
    fake = tmp_path / "fake.texnet"
    Image.new("RGB", (8, 8)).save(fake, format="PNG")
    for argv in (["sample", fake, "-o", tmp_path / "o.png"], ["info", fake]):
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err, "not a texnet model")


def test_unknown_output_format_fails_before_work(trained_model, tmp_path, capsys):
    code, _, err = run(capsys, "sample", trained_model, "-o", tmp_path / "o.xyz")
    assert_one_line_error(code, err, "cannot write")


def test_bad_option_values_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train-texture", "brick", "-o", "x.texnet", "--iterations", "0"])
    assert exc.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(TexnetError, match="No space left"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize("argv,message", [
    (["train-texture", "brick", "--size", "100000"], "GB"),
    (["train-texture", "brick", "--scales", "40"], "--scales 40"),
    (["train-texture", "brick", "--device", "cuda:abc"], "unknown device"),
    (["train-texture", "brick", "--diversity", "1", "--iterations", "5", "--batch-size", "1"], "--batch-size 2"),
    (["train-texture", "brick", "--diversity", "1"], "--iterations N --batch-size 2"),
    (["train-texture", "brick", "--batch-size", "2"], "--batch-size needs --iterations"),
    (["train-style", "ihc", "--size", "100000"], "GB"),
    (["train-style", "ihc", "--scales", "12"], "--scales 12"),
])
def test_training_requests_that_cannot_work_fail_before_any_work(argv, message, tmp_path, capsys):
    model = tmp_path / "keep.texnet"
    model.write_bytes(b"old")
    code, _, err = run(capsys, *argv, "-o", model, "--quiet")
    assert_one_line_error(code, err, message)
    assert model.read_bytes() == b"old"


def test_every_command_lets_freed_memory_be_reused(monkeypatch, capsys):
    """The CLI sets glibc up to keep freed large blocks for the next one (texnet.limits.reuse_freed_memory);
    what that saves is measured by a benchmark, not here (page faults depend on the kernel and the machine)."""
    import texnet.cli

    calls = []
    monkeypatch.setattr(texnet.cli, "reuse_freed_memory", lambda: calls.append(1) or True)
    assert main(["models"]) == 0
    assert calls == [1]
    capsys.readouterr()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc options")
def test_reuse_freed_memory_applies_on_glibc():
    """In a process of its own (the setting is process-wide): glibc accepts both options."""
    code = "from texnet.limits import reuse_freed_memory; print(reuse_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_bench_options_reach_its_config(monkeypatch, tmp_path):
    import texnet.bench

    seen = {}
    monkeypatch.setattr(texnet.bench, "run", lambda cfg, out: seen.update(cfg=cfg, out=out))
    assert main(["bench", "--sections", "style-quality", "--presets", "zoo", "--styles", "the_scream.jpg",
                 "--out", str(tmp_path)]) in (0, None)
    cfg = seen["cfg"]
    assert cfg.sections == ("style-quality",) and cfg.style_presets == ("zoo",) and cfg.styles == ("the_scream.jpg",)
    assert seen["out"] == str(tmp_path)
