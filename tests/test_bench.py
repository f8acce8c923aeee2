import json

import torch

from texnet.bench import BenchConfig, diversity, run, seam_score
from texnet.images import tile


def test_seam_score_and_diversity():
    # stationary and periodic: noise smoothed with circular shifts
    noise = torch.rand(3, 128, 128, generator=torch.Generator().manual_seed(0))
    periodic = sum(torch.roll(noise, (dy, dx), (1, 2)) for dy in range(3) for dx in range(3)) / 9
    assert abs(seam_score(periodic, grid=1) - 1) < 0.25
    assert abs(seam_score(periodic) - 1) < 0.25
    assert abs(seam_score(tile(periodic)) - seam_score(periodic)) < 1e-2  # tiling a periodic image adds nothing
    # the same noise smoothed without wrap-around is not periodic: its seam shows
    smooth = torch.nn.functional.avg_pool2d(noise[None], 3, stride=1)[0]
    ramp = smooth + torch.linspace(0, 1, smooth.shape[-1])
    assert seam_score(ramp) > 3 and seam_score(ramp, grid=1) > 3
    same = torch.rand(1, 3, 8, 8).repeat(3, 1, 1, 1)
    assert diversity(same) == 0
    assert diversity(torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)])) == 1


def test_quick_bench_smoke_run(tmp_path, hed_descriptor_spec):
    result = run(BenchConfig.quick(), tmp_path, log=lambda *a: None)
    saved = json.loads((tmp_path / "bench.json").read_text())
    row = saved["textures"][0]
    for key in ("gen_ms_64", "gen_ms_128", "gen_throughput_per_s", "gen_loss", "opt_loss_100", "opt_loss_500",
                "gen_diversity", "gen_seam", "opt_seam", "gen_memory", "opt_memory"):
        assert key in row, key
    assert row["gen_ms_64"] > 0 and row["opt_seconds_total"] > 0
    assert row["gen_memory"]["rss_increase_mb"] > 0 and row["opt_memory"]["rss_increase_mb"] > 0
    assert saved["style"]["stylize_ms_64"] > 0 and result["device"] == "cpu"
    table = (tmp_path / "bench.md").read_text()
    assert "| gravel |" in table and "| ihc |" in table
    assert (tmp_path / "bench.png").stat().st_size > 1000
