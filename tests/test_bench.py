import json

from texnet.bench import BenchConfig, run


def test_quick_bench_smoke_run(tmp_path, hed_descriptor_spec):
    result = run(BenchConfig.quick(), tmp_path, log=lambda *a: None)
    saved = json.loads((tmp_path / "bench.json").read_text())
    sections = saved["sections"]
    assert set(sections) >= {"speed", "quality", "style", "inference"}
    row = sections["speed"]["data"][0]
    for key in ("gen_ms_64", "gen_ms_128", "gen_throughput_per_s", "gen_loss", "opt_loss_at", "gen_seam", "opt_seam",
                "gen_memory", "opt_memory"):
        assert key in row, key
    assert row["gen_ms_64"] > 0 and row["opt_seconds_total"] > 0
    assert row["gen_memory"]["rss_increase_mb"] > 0 and row["opt_memory"]["rss_increase_mb"] > 0
    # the speed-up is the optimisation's time to the generator's loss over the generator's time
    if row["opt_seconds_to_gen_loss"] is not None:
        assert abs(row["speedup"] - row["opt_seconds_to_gen_loss"] / (row["gen_ms_64"] / 1000)) < 1e-6 * row["speedup"]
        trace = row["opt_trace"]
        first = next(i for i, loss in enumerate(trace["loss"]) if loss <= row["gen_loss"])
        assert trace["seconds"][first] == row["opt_seconds_to_gen_loss"]
    else:
        assert row["speedup"] is None and min(row["opt_trace"]["loss"]) > row["gen_loss"]
    assert set(row["opt_loss_at"]) == {"12"}  # labelled with the iterations actually run

    quality = {r["exemplar"]: r for r in sections["quality"]["data"]}
    assert set(quality) == {"brick", "ihc"}
    brick = quality["brick"]
    assert brick["crops"]["swd"] < brick["presets"]["quick"]["swd"]  # 6 iterations cannot beat real texture
    assert abs(brick["presets"]["quick"]["swd_ratio"] - brick["presets"]["quick"]["swd"] / brick["opt"]["gram"]["swd"]) < 1e-9
    assert (tmp_path / "quality" / "brick_sheet.jpg").stat().st_size > 1000
    assert (tmp_path / "quality" / "grid.jpg").stat().st_size > 1000
    assert sections["style"]["data"]["stylize_ms_64"] > 0 and sections["style"]["device"] == "cpu"
    inference = sections["inference"]["data"]
    for r in inference["rows"]:
        assert r["pytorch_ms"] > 0 and r["onnxruntime_ms"] > 0
        assert abs(r["pytorch_gflops"] - r["gflop"] / (r["pytorch_ms"] / 1000)) < 1e-6 * r["pytorch_gflops"]
        assert 0 <= r["pytorch_max_diff_255"] <= 2  # bf16 or not, the optimized path stays within 2/255 of fp32
    assert {r["kind"] for r in inference["rows"]} == {"texture", "texture (instance norm)", "style"}
    assert {r["norm"] for r in inference["rows"] if r["kind"] != "texture"} == {"instance"}
    assert inference["descriptor_gflops"] > 0
    table = (tmp_path / "bench.md").read_text()
    assert "| gravel |" in table and "| brick |" in table and "opt loss @12" in table and "@500" not in table
    assert (tmp_path / "bench.png").stat().st_size > 1000
    # a second run of one section reuses the trained models and keeps the other sections
    from dataclasses import replace

    messages = []
    run(replace(BenchConfig.quick(), sections=("speed",)), tmp_path, log=messages.append)
    assert any("reusing" in m for m in messages) and not any("training" in m for m in messages)
    again = json.loads((tmp_path / "bench.json").read_text())["sections"]
    assert again["quality"] == sections["quality"] and again["speed"]["date"] >= sections["speed"]["date"]
    assert result["sections"]["speed"]["data"]

    # a preset can run on some exemplars only (--presets quick standard=brick): the others show "-"
    mixed = replace(BenchConfig.quick(), sections=("quality",), quality_presets=("quick", "standard"),
                    preset_exemplars={"standard": ("brick",)})
    run(mixed, tmp_path, log=lambda *a: None)
    rows = {r["exemplar"]: r for r in json.loads((tmp_path / "bench.json").read_text())["sections"]["quality"]["data"]}
    assert set(rows["brick"]["presets"]) == {"quick", "standard"} and set(rows["ihc"]["presets"]) == {"quick"}
    ihc_line = next(line for line in (tmp_path / "bench.md").read_text().splitlines() if line.startswith("| ihc |"))
    assert "| - |" in ihc_line and "`standard` ran only on brick" in (tmp_path / "bench.md").read_text()
    # an exemplar that no preset runs on still gets its row (crops and optimisation) and sheet
    run(replace(mixed, quality_presets=("quick",), preset_exemplars={"quick": ("brick",)}), tmp_path,
        log=lambda *a: None)
    rows = {r["exemplar"]: r for r in json.loads((tmp_path / "bench.json").read_text())["sections"]["quality"]["data"]}
    assert rows["ihc"]["presets"] == {} and rows["ihc"]["opt"]["gram"]["swd"] > 0


def test_bench_refuses_unknown_presets_and_exemplars(tmp_path):
    import pytest

    from texnet.errors import TexnetError

    with pytest.raises(TexnetError, match="unknown texture preset 'fast'"):
        run(BenchConfig(sections=("quality",), quality_presets=("fast",)), tmp_path, log=lambda *a: None)
    with pytest.raises(TexnetError, match="pebbles is not a quality exemplar"):
        run(BenchConfig(sections=("quality",), preset_exemplars={"standard": ("pebbles",)}), tmp_path,
            log=lambda *a: None)


def test_inference_report_scales_the_small_texture_by_the_peer():
    """With the peer timed in the same run, the report gives its ratio and the 256 px texture on the peer's scale."""
    from texnet.bench.inference import PEER_QUIET_MS
    from texnet.bench.inference import markdown as markdown_inference

    row = {"gflop": 1.0, "pytorch_gflops": 1.0, "onnxruntime_gflops": 1.0, "pytorch_bf16": True,
           "pytorch_max_diff_255": 0.8}
    rows = [{**row, "kind": "texture", "size": 256, "pytorch_ms": 30.0, "onnxruntime_ms": 40.0},
            {**row, "kind": "style", "size": 1024, "pytorch_ms": 1200.0, "onnxruntime_ms": 1000.0}]
    text = "\n".join(markdown_inference({"data": {"rows": rows, "descriptor_gflops": 150.0,
                                                  "peer": {"name": "peer", "size": 1024, "ms": 500.0}}}))
    assert "peer stylizes 1024x1024 in 500 ms, timed in turn" in text and "takes 2x as long" in text
    assert "yes (0.8/255)" in text
    assert "256 px texture" not in text  # the peer was not timed in the texture's rounds
    assert "peer" not in "\n".join(markdown_inference({"data": {"rows": rows, "descriptor_gflops": 150.0}}))
    rows[0]["peer_ms"] = 600.0  # the peer timed in the texture's own rounds: that time is the yardstick
    text = "\n".join(markdown_inference({"data": {"rows": rows, "descriptor_gflops": 150.0,
                                                  "peer": {"name": "peer", "size": 1024, "ms": 500.0}}}))
    assert f"(30 ms against 600 ms, timed in the same rounds): {30 / 600 * PEER_QUIET_MS:g} ms" in text
    assert "takes 2x as long" in text  # the style ratio keeps the style row's peer time


def test_interleaved_timing_runs_every_path_in_each_round():
    import torch

    from texnet.bench.harness import median_ms

    calls: list[str] = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    medians = median_ms(fns, 6, torch.device("cpu"), settle=0)
    assert set(medians) == set("abc") and all(v >= 0 for v in medians.values())
    assert calls[:6] == ["a", "a", "b", "b", "c", "c"]  # warm-up
    rounds = [calls[i:i + 6] for i in range(6, len(calls), 6)]
    assert len(rounds) == 6 and all(r[0::2] == r[1::2] for r in rounds)  # each timed call right after its own
    rounds = [r[0::2] for r in rounds]
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)  # one of each per round
    followers = {r[r.index("a") + 1] for r in rounds if r[-1] != "a"}
    assert followers == {"b", "c"}  # shuffled: "a" is not always followed by the same path


def test_minutes_chart_summarises_each_budget_over_the_exemplars_it_ran_on(tmp_path):
    from texnet.bench.quality import minutes_chart, summary

    def row(name, opt, crops, **budgets):
        return {"exemplar": name, "opt": {"gram": {"swd": opt, "seconds": 60.0}}, "crops": {"swd": crops},
                "presets": {b: {"swd": v} for b, v in budgets.items()}}

    rows = [row("a", 1.0, 1.5, **{"1min": 2.0, "3min": 1.2}), row("b", 2.0, 2.0, **{"3min": 3.0}),
            row("c", 1.0, 1.0, **{"1min": 1.5, "3min": 0.9})]
    stats = summary(rows, ["1min", "3min"])
    assert stats["1min"]["count"] == 2 and stats["1min"]["median"] == 1.75 and stats["1min"]["worst"] == 2.0
    assert stats["3min"]["count"] == 3 and stats["3min"]["median"] == 1.2 and stats["3min"]["worst_three"][0] == ("b", 1.5)
    path = tmp_path / "minutes.png"
    minutes_chart(rows, ["1min", "3min"], path, optimisation=(200.0, "a at 256 px"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_style_quality_photos_of_every_kind_resolve_without_the_development_images(tmp_path):
    import pytest

    from texnet.bench.style_quality import photo_file
    from texnet.errors import TexnetError
    from texnet.images import load_image

    assert len(BenchConfig().style_photos) >= 6
    portrait = load_image(photo_file("grace_hopper", None))
    assert portrait.shape[0] == 3 and min(portrait.shape[1:]) >= 256
    assert photo_file("chelsea", None).name == "chelsea.png"
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "tubingen.jpg").write_bytes(b"x")
    assert photo_file("tubingen.jpg", tmp_path) == tmp_path / "photos" / "tubingen.jpg"
    with pytest.raises(TexnetError, match="bench photo not found: nope.jpg"):
        photo_file("nope.jpg", tmp_path)


def test_style_quality_report_counts_the_photos_where_texnet_is_as_good_as_the_peer():
    from texnet.bench import peer
    from texnet.bench.style_quality import markdown

    def result(swd, color, structure):
        return {"swd": swd, "content": 0.5, "structure": structure, "color": color, "swd_low": 0.2, "halo": 1.5,
                "tone": 0.9}

    rows = [{"style": "starry_night.jpg", "photo": f"{name}.jpg", "standard": result(*ours),
             peer.NAME: result(0.2, 0.05, 0.3), "optimisation": result(0.15, 0.04, 0.8)}
            for name, ours in (("a", (0.1, 0.06, 0.4)), ("b", (0.3, 0.04, 0.2)))]
    text = "\n".join(markdown({"config": {"style_presets": ["standard"], "style_quality_size": 384,
                                          "style_measure_size": 512}, "data": rows}))
    assert "| starry_night | standard | 0.2 | 0.05 | 0.3 | 0.9 | 1.5 | 1 of 2 | 1 of 2 | 1 of 2 |" in text
    assert f"| starry_night | {peer.NAME} | 0.2 | 0.05 | 0.3 | 0.9 | 1.5 |  |  |  |" in text


def test_recipes_leave_out_newer_fields_at_their_defaults_so_committed_results_stay_valid():
    from dataclasses import replace

    from texnet.bench.cache import config_record
    from texnet.style import StyleConfig
    from texnet.texture import TextureConfig

    style = StyleConfig()
    assert "edge_kernel" not in config_record(style)["generator"]  # as recorded before the field existed
    light = replace(style, generator=replace(style.generator, arch="residual", edge_kernel=5))
    assert config_record(light)["generator"]["edge_kernel"] == 5  # a change the result depends on is recorded
    assert "loss_options" not in config_record(TextureConfig())
