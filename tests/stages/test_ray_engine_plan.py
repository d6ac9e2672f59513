"""The ray engine's planning, without a cluster: batches are the local engine's, formats that
cannot be planned up front are refused, actors never take every CPU, --no-resume clears the
shards."""

from __future__ import annotations

import pytest

from reportgen.config_yaml import config_from_dict
from reportgen.data import load_dataset
from reportgen.data.loader import iter_batches
from reportgen.demo import demo_config
from reportgen.errors import ConfigError
from reportgen.stages.ray_engine import SHARDS, actor_resources, clear_shards, plan_batches


def test_planned_batches_are_the_local_engines_batches():
    dataset = load_dataset(demo_config().dataset.to_spec(), limit=23)
    plan = plan_batches(dataset, 10)
    local = [len(b) for b in iter_batches(dataset, 10)]
    assert [b["stop"] - b["start"] for b in plan] == local == [10, 10, 3]
    assert [b["number"] for b in plan] == [0, 1, 2]
    assert [b["start"] for b in plan] == [0, 10, 20]


def test_a_format_with_several_samples_per_file_is_refused(real_data):
    dataset = load_dataset({"root": real_data / "pascal_part", "format": "pascal_part"})
    with pytest.raises(ConfigError, match="engine ray: the pascal_part format"):
        plan_batches(dataset, 8)


def _config(device: str):
    return config_from_dict({**demo_config().model_dump(), "device": device})


@pytest.mark.parametrize(("cpus", "actors", "expected"), [
    (2, None, (1, 1.5, 0.0)),  # one actor; half a CPU left for Ray Data's reads
    (2, 2, (2, 0.75, 0.0)),    # two actors on two CPUs: fractional, never the whole machine
    (16, None, (15, pytest.approx(15.5 / 15), 0.0)),
])
def test_cpu_actors_leave_cpu_for_reading(cpus, actors, expected):
    n, per_actor, gpus = actor_resources(_config("cpu"), {"CPU": cpus}, actors)
    assert (n, per_actor, gpus) == expected
    assert n * per_actor <= cpus - 0.5 + 1e-9


def test_cuda_gives_each_actor_a_gpu_or_a_share_of_one():
    assert actor_resources(_config("cuda"), {"CPU": 16, "GPU": 4}, None) == (4, 3.875, 1.0)
    assert actor_resources(_config("auto"), {"CPU": 8, "GPU": 1}, 2)[2] == 0.5


def test_no_resume_clears_the_shards(tmp_path):
    shards = tmp_path / SHARDS / "abc"
    shards.mkdir(parents=True)
    for name in ("scores-000000.parquet", "done-000000.json"):
        (shards / name).write_text("x")
    assert clear_shards(tmp_path) == 2
    assert not (tmp_path / SHARDS).exists()
    assert clear_shards(tmp_path) == 0
