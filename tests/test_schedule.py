"""texnet.schedule: fixed iterations, or a wall-clock budget trained coarse to fine."""

import pytest

from texnet.errors import TexnetError
from texnet.presets import PROGRESSIVE, TEXTURE, TrainConfig
from texnet.schedule import BudgetSchedule, IterationSchedule, Stage, capped_stages, clock


def test_iterations_run_the_papers_step_schedule():
    train = TrainConfig(iterations=3, size=64, batch_size=2)
    schedule = IterationSchedule(train)
    steps = [schedule.step(i, elapsed=1e9, next_seconds=1e9) for i in range(4)]
    assert [s.size for s in steps[:3]] == [64, 64, 64] and steps[3] is None  # time does not matter
    assert steps[0].lr == train.lr_at(0) and schedule.fraction(3, 0) == 1.0


def test_a_budget_trains_coarse_to_fine_and_stops_before_the_deadline():
    schedule = BudgetSchedule(100, [Stage(64, 4, 1), Stage(128, 2, 1), Stage(256, 1, 2)], lr=0.1, hold=0.5,
                              final=0.1, reserve=2)
    assert [schedule.step(1, t, 1).size for t in (0, 24.9, 25, 49.9, 50, 90)] == [64, 64, 128, 128, 256, 256]
    assert [schedule.step(1, t, 1).batch_size for t in (0, 30, 60)] == [4, 2, 1]
    assert schedule.step(1, 40, 1).lr == 0.1  # held for half the budget
    assert schedule.step(1, 75, 1).lr == pytest.approx(0.1 * 0.1 ** 0.5)  # then decayed exponentially
    assert schedule.lr_at(1.0) == pytest.approx(0.01)  # to `final` at the deadline
    assert schedule.step(5, 96.9, 1) is not None  # ends at 97.9, before 100 - reserve
    assert schedule.step(5, 97.5, 1) is None  # would end after 98
    assert schedule.step(0, 500, 1) is not None  # the first iteration always runs (the loop judges it)


def test_small_exemplars_cap_the_stages():
    assert capped_stages([Stage(64, 4, 1), Stage(256, 1, 1)], 160) == [Stage(64, 4, 1), Stage(160, 1, 1)]


def test_presets_are_budgets_and_explicit_options_win():
    quick = TEXTURE["quick"].train
    assert (quick.minutes, TEXTURE["standard"].train.minutes, TEXTURE["best"].train.minutes) == (3, 10, 30)
    assert not TEXTURE["paper"].train.budget and TEXTURE["paper"].train.iterations == 2000
    fixed = quick.with_overrides(iterations=40)  # --iterations: a fixed run at the budget's final size
    assert not fixed.budget and (fixed.iterations, fixed.size, fixed.batch_size) == (40, 256, 1)
    assert quick.with_overrides(minutes=7).minutes == 7
    assert [s[0] for s in quick.with_overrides(size=100).stages] == [64, 100, 100]  # --size: the last stage's side
    assert [s[0] for s in quick.with_overrides(size=512).stages] == [64, 128, 512]
    assert TEXTURE["paper"].train.with_overrides(minutes=1).stages == PROGRESSIVE
    with pytest.raises(TexnetError, match="--batch-size needs --iterations"):
        quick.with_overrides(batch_size=3)
    with pytest.raises(TexnetError, match="not both"):
        quick.with_overrides(minutes=2, iterations=5)
    with pytest.raises(TexnetError, match="--minutes must be more than 0"):
        TrainConfig(minutes=0, stages=PROGRESSIVE).validate()


def test_clock_reads_like_a_stopwatch():
    assert [clock(s) for s in (0, 9.6, 250, 3723)] == ["0:00", "0:10", "4:10", "1:02:03"]
