"""Presets: what `--preset` sets, and that explicit options win over it."""

from texnet import presets
from texnet.texture import TextureConfig


def test_every_preset_has_valid_training_settings_and_a_summary():
    for table in (presets.TEXTURE, presets.STYLE):
        assert {"quick", "paper"} <= set(table)
        for name, preset in table.items():
            preset.train.validate()
            assert preset.summary, name


def test_quick_texture_preset_uses_the_measured_loss_and_options_override_it():
    quick = presets.TEXTURE["quick"]
    preset_cfg = presets.apply(TextureConfig(), quick.settings, {})
    assert preset_cfg.loss == "swd" and preset_cfg.loss_options.get("positions")
    cfg = presets.apply(TextureConfig(), quick.settings, {"loss": "gram", "weighting": None,
                                                          "generator": {"channels": 16, "norm": None}})
    assert cfg.loss == "gram" and cfg.weighting == "floor"  # given: gram; not given: the preset's floor
    assert cfg.loss_options == {}  # the preset's options belong to its own loss
    assert cfg.generator.channels == 16 and cfg.generator.norm == "instance"  # the preset's norm stays
    train = quick.train.with_overrides(iterations=7, size=None)
    assert train.iterations == 7 and not train.budget and train.size == quick.train.stages[-1][0]


def test_the_paper_preset_decays_lr_at_its_schedule():
    paper = presets.TEXTURE["paper"].train
    assert paper.lr_at(0) == paper.lr
    assert paper.lr_at(paper.lr_decay_start) == paper.lr * paper.lr_decay
    assert paper.lr_at(paper.iterations - 1) < paper.lr * paper.lr_decay


def test_style_presets_set_the_measured_content_weight_tone_weight_and_style_scale():
    from texnet.style import StyleConfig

    standard = presets.STYLE["standard"]
    cfg = presets.apply(StyleConfig(), standard.settings, {"content_weight": None})
    assert cfg.content_weight == 1.0 and cfg.tone_weight == 4.0 and cfg.style_size == 256
    quick = presets.apply(StyleConfig(), presets.STYLE["quick"].settings, {"tone_weight": 0.0})
    assert quick.tone_weight == 0.0 and quick.content_weight == 1.0  # an explicit option wins
    assert presets.apply(StyleConfig(), standard.settings, {"content_weight": 3.0}).content_weight == 3.0
    assert standard.train.size == 256 and standard.train.iterations > presets.STYLE["quick"].train.iterations
