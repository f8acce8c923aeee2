import hashlib
import http.server
import threading

import h5py
import numpy as np
import pytest
import torch

from texnet import weights
from texnet.descriptor import BLOCKS, WIDTHS, VGGDescriptor, load_descriptor
from texnet.errors import TexnetError


def vgg_shapes(arch):
    shapes, in_ch = [], 3
    for count, width in zip(BLOCKS[arch], WIDTHS):
        for _ in range(count):
            shapes.append((width, in_ch))
            in_ch = width
    return shapes


def test_descriptor_from_installed_hed_weights(hed_descriptor_spec):
    model, info = load_descriptor(hed_descriptor_spec, ["relu1_1", "relu3_1", "relu5_1"], "avg")
    assert info.source == "vgg16-hed" and info.arch == "vgg16"
    # stops after the deepest requested layer, frozen, eval mode
    assert model.names[-1] == "relu5_1"
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training
    out = model(torch.rand(2, 3, 48, 40))
    assert set(out) == {"relu1_1", "relu3_1", "relu5_1"}
    assert out["relu1_1"].shape == (2, 64, 48, 40)
    assert out["relu3_1"].shape == (2, 256, 12, 10)
    assert out["relu5_1"].shape == (2, 512, 3, 3)
    assert all(bool((v >= 0).all()) for v in out.values())  # after ReLU


def test_h5_reader_permutes_kernels_and_flips_bgr(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "fake.weights.h5"
    kernels = []
    with h5py.File(path, "w") as f:
        index = 0
        for block, count in enumerate(BLOCKS["vgg16"], start=1):
            for i in range(count):
                out_ch, in_ch = vgg_shapes("vgg16")[index]
                k = rng.standard_normal((3, 3, in_ch, out_ch)).astype(np.float32)
                name = "conv2d" if i == 0 else f"conv2d_{i}"
                f[f"block{block}/layers/{name}/vars/0"] = k
                f[f"block{block}/layers/{name}/vars/1"] = np.arange(out_ch, dtype=np.float32)
                kernels.append(k)
                index += 1
    convs = weights.read_convs(weights.SOURCES["vgg16-hed"], path)
    assert len(convs) == 13
    w0, b0 = convs[0]
    assert w0.shape == (64, 3, 3, 3)
    # torch (out, in, kh, kw) from keras (kh, kw, in, out); input channel 0 (R) was BGR channel 2
    assert torch.allclose(w0[5, 0, 1, 2], torch.tensor(kernels[0][1, 2, 2, 5]))
    assert torch.allclose(convs[4][0][7, 9, 0, 1], torch.tensor(kernels[4][0, 1, 9, 7]))
    assert torch.equal(b0, torch.arange(64, dtype=torch.float32))


def test_torchvision_state_dict_loads(tmp_path):
    # torchvision's vgg19 layout: features.N with ReLU and pooling between the convs
    state, index = {}, 0
    for count, width in zip(BLOCKS["vgg19"], WIDTHS):
        for _ in range(count):
            out_ch, in_ch = vgg_shapes("vgg19")[len(state) // 2]
            state[f"features.{index}.weight"] = torch.randn(out_ch, in_ch, 3, 3) * 0.01
            state[f"features.{index}.bias"] = torch.zeros(out_ch)
            index += 2
        index += 1
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path / "vgg19-test.pth"
    torch.save(state, path)
    source, resolved = weights.resolve(str(path))
    assert source.name == "vgg19" and resolved == path
    model, info = load_descriptor(str(path), ["relu5_4"], "max")
    assert info.arch == "vgg19" and model.names[-1] == "relu5_4"
    assert torch.equal(model.ops[model.names.index("relu3_4")][0].weight, state["features.16.weight"])
    assert model(torch.rand(1, 3, 32, 32))["relu5_4"].shape == (1, 512, 2, 2)


def test_descriptor_rejects_unknown_layers():
    convs = [(torch.zeros(o, i, 3, 3), torch.zeros(o)) for o, i in vgg_shapes("vgg16")]
    with pytest.raises(ValueError, match="relu5_4"):
        VGGDescriptor("vgg16", convs, (0, 0, 0), (1, 1, 1), ["relu5_4"])


def test_auto_prefers_vgg19_when_cached(tmp_path, hed_descriptor_spec):
    assert weights.resolve("auto")[0].name == "vgg16-hed"
    weights.vgg19_path().parent.mkdir(parents=True)
    weights.vgg19_path().write_bytes(b"x")
    assert weights.resolve("auto")[0].name == "vgg19"
    with pytest.raises(TexnetError, match="not a readable|unknown descriptor|cannot read"):
        weights.read_convs(weights.SOURCES["vgg19"], weights.vgg19_path())


def test_unknown_descriptor_spec_is_a_clear_error():
    with pytest.raises(TexnetError, match="unknown descriptor"):
        weights.resolve("vgg99")


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "weights.bin").write_bytes(b"pretend these are VGG weights" * 1000)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_fetch_with_good_checksum(http_server):
    url, root = http_server
    digest = hashlib.sha256((root / "weights.bin").read_bytes()).hexdigest()
    path = weights.fetch_vgg19(url=f"{url}/weights.bin", sha256=digest, progress=False)
    assert path == weights.vgg19_path() and path.read_bytes() == (root / "weights.bin").read_bytes()
    # a prefix (torchvision's file-name convention) is accepted too
    weights.download(f"{url}/weights.bin", path, digest[:8], progress=False)
    assert weights.available()["vgg19"] == path


def test_fetch_with_bad_checksum_leaves_no_file(http_server):
    url, _ = http_server
    with pytest.raises(TexnetError, match="checksum mismatch"):
        weights.fetch_vgg19(url=f"{url}/weights.bin", sha256="0" * 64, progress=False)
    cache = weights.cache_dir()
    assert not weights.vgg19_path().exists()
    assert not cache.exists() or list(cache.iterdir()) == []


def test_fetch_missing_url_is_a_clear_error(http_server):
    url, _ = http_server
    with pytest.raises(TexnetError, match="download"):
        weights.fetch_vgg19(url=f"{url}/nothing-here.bin", sha256="0" * 64, progress=False)
    assert not weights.vgg19_path().exists()


def test_install_from_local_file_checks_digest(tmp_path):
    src = tmp_path / "mine.pth"
    src.write_bytes(b"abc")
    with pytest.raises(TexnetError, match="checksum"):
        weights.fetch_vgg19(from_file=src)
    digest = hashlib.sha256(b"abc").hexdigest()
    assert weights.fetch_vgg19(from_file=src, sha256=digest).read_bytes() == b"abc"
