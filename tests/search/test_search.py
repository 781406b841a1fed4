"""`spinenet-search`: space, evolution, trial log, and a tiny
search killed and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from support import SHORT_BLOCK_SPECS

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.search import (
    BudgetError,
    MacBudget,
    ProxyData,
    ProxySettings,
    ProxyTask,
    SearchSpace,
    TrialLog,
    load_block_specs,
    propose,
    report,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def as_lists(spec):
    """A block-spec list as the trial log records it (JSON lists)."""
    return [list(block[:2]) + [list(block[2]), block[3]] for block in spec]


def test_space_keeps_the_stem_blocks_and_its_block_types():
    import random

    space = SearchSpace.named("spinenet", stem_blocks=3)
    rng = random.Random(0)
    for _ in range(20):
        spec = space.sample(rng)
        assert spec[:3] == space.base[:3]
        assert space.mutate(spec, rng)[:3] == space.base[:3]
        assert sorted(s[0] for s in spec if s[3]) == [3, 4, 5, 6, 7]
    mobile = SearchSpace.named("mobile")
    assert {s[1] for s in mobile.sample(rng)} == {"mbconv"}
    assert set(mobile.references()) == {"scale_decreased", "spinenet_mobile_49"}
    with pytest.raises(ValueError, match=r"`stem_blocks` must be an integer in \[0, 14\] "
                                         r"\(the list has 15 blocks\); received 15"):
        SearchSpace.named("spinenet", stem_blocks=15)
    with pytest.raises(ValueError, match="received 'resnet'"):
        SearchSpace.named("resnet")


def test_an_invalid_spec_yaml_names_the_block_and_the_rule(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("model:\n  block_specs:\n  - [2, bottleneck, [0, 1], false]\n"
                    "  - [3, bottleneck, [0, 5], true]\n")
    with pytest.raises(ValueError, match=r"spec.yaml: block_specs\[1\] .* input offset 5 "
                                         r"does not point to an earlier map"):
        load_block_specs(str(path))
    path.write_text("- [2, mbconv, [0, 1], true]\n")
    with pytest.raises(ValueError, match=r"block_specs\[0\].*unknown block type 'mbconv'"):
        load_block_specs(str(path), SearchSpace.named("spinenet"))


def test_a_train_config_rejects_invalid_block_specs(tmp_path):
    from spinenet_tf.config import ConfigError, load_config

    config = os.path.join(ROOT, "configs", "retinanet_mobile_synthetic_demo.yaml")
    with pytest.raises(ConfigError, match=r"model.block_specs: block_specs\[0\].*unknown "
                                          r"block type 'bottleneck'"):
        load_config(config, ["model.block_specs=[[2, bottleneck, [0, 1], true]]"])


def test_trial_log_survives_a_write_cut_by_a_kill(tmp_path):
    path = tmp_path / "trials.jsonl"
    path.write_text('{"trial": 0, "kind": "search", "name": "a"}\n{"trial": 1, "ki')
    log = TrialLog(str(path))
    assert [t["trial"] for t in log.trials] == [0]
    log.append({"trial": 1, "kind": "search", "name": "b"})
    assert [t["trial"] for t in TrialLog(str(path)).trials] == [0, 1]
    path.write_text('{"trial": 0}\nnot json\n{"trial": 2}\n')
    with pytest.raises(ValueError, match="line 2: not a trial record"):
        TrialLog(str(path))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    from spinenet_tf.data import synthetic

    folder = tmp_path_factory.mktemp("proxy_data")
    synthetic.generate(str(folder), 4, 2, image_size=128)
    data = ProxyData(*(os.path.join(folder, split, name) for split in ("train", "val")
                       for name in ("annotations.json", "images")))
    return ProxyTask(SearchSpace.named("spinenet"), data, ProxySettings())


def test_aging_evolution_is_reproducible_and_mutates_the_tournament_winner(proxy):
    space = proxy.space
    history = [{"trial": i, "AP": ap, "spec": space.sample(i)}
               for i, ap in enumerate([0.9, 0.1, 0.2, 0.3])]
    anything = MacBudget(1.0, 1e9)
    options = dict(mode="evolution", population=3, sample_size=3, seed=0,
                   complexity=proxy.complexity, within_budget=anything, max_tries=1)
    child = propose(space, history, 4, **options)
    # The oldest trial (AP 0.9) has aged out; the best of the other three wins.
    assert child["parent"] == 3
    assert child == propose(space, history, 4, **options)
    random_child = propose(space, history, 4, **{**options, "mode": "random"})
    assert random_child["parent"] is None
    assert random_child["gmacs"] > 0 and random_child["params"] > 0


def test_an_unreachable_mac_budget_is_reported_after_bounded_tries(proxy):
    with pytest.raises(BudgetError, match=r"within the MAC budget 500.000 GMACs \+- 10% "
                                          r"after 2 random samples \(closest: "):
        propose(proxy.space, [], 0, mode="evolution", population=4, sample_size=2, seed=0,
                complexity=proxy.complexity, within_budget=MacBudget(500.0, 0.1),
                max_tries=2)


def test_pareto_plot_and_table_mark_the_references(tmp_path):
    spec = as_lists(specs_lib.SCALE_DECREASED_BLOCK_SPECS)
    trials = [{"trial": i, "kind": "search", "name": f"search#{i}", "spec": spec,
               "gmacs": 0.1 + 0.01 * i, "params": 1000, "AP": 0.1 * i, "AP50": 0.2,
               "seconds": 10, "parent": None} for i in range(3)]
    references = [{"trial": 3 + r, "kind": "reference", "name": f"scale_decreased#{r}",
                   "spec": spec, "gmacs": 0.11, "params": 1000, "AP": ap, "AP50": 0.2,
                   "seconds": 10, "parent": None} for r, ap in enumerate([0.1, 0.14])]
    summary = report.reference_summary(references)["scale_decreased"]
    assert summary["runs"] == 2 and summary["spread"] == pytest.approx(0.04)
    report.plot_pareto(str(tmp_path / "pareto.png"), trials, references)
    assert (tmp_path / "pareto.png").stat().st_size > 10_000
    lines = report.summary_table(trials, references, top=2)
    assert "scale_decreased#1" in lines[2] and lines[3].split()[0] == "2"


def _search_command(folder):
    """A two-trial search whose base spec is `SHORT_BLOCK_SPECS`: six
    blocks to permute, one per level L2-L7, so a trial traces a third of
    the default space's graph."""
    base = os.path.join(os.path.dirname(folder), "base_spec.yaml")
    with open(base, "w") as f:
        json.dump(SHORT_BLOCK_SPECS, f)  # JSON is YAML
    return [sys.executable, "-m", "spinenet_tf.cli.search", "--output_dir", folder,
            "--base_spec", base,
            "--trials", "2", "--population", "1", "--sample_size", "1", "--seed", "7",
            "--references=", "--synthetic_train", "8", "--synthetic_val", "2",
            "--train_steps", "1", "--batch_size", "2", "--gmacs_tolerance", "0.5",
            "--head_num_convs", "1", "--head_num_filters", "16"]


@pytest.mark.slow
def test_search_killed_after_a_trial_resumes_to_two(tmp_path):
    """SIGKILL once a trial is on record; the rerun keeps it and adds the
    second, a mutation of the first (population 1); its best spec, as a
    train config, builds that backbone under a RetinaNet."""
    folder = str(tmp_path / "search")
    log = os.path.join(folder, "trials.jsonl")
    process = subprocess.Popen(_search_command(folder), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(log) and open(log).read().count("\n") >= 1:
            break
        time.sleep(0.5)
    assert process.poll() is None, process.communicate()[0][-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = [json.loads(line) for line in open(log)]
    assert len(first) == 1

    result = subprocess.run(_search_command(folder), cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    trials = [json.loads(line) for line in open(log)]
    assert trials[:1] == first and len(trials) == 2
    assert [t["parent"] for t in trials] == [None, 0]  # the second is a mutation
    assert trials[1]["spec"] != trials[0]["spec"]
    assert "1 trial on record" in result.stdout and "retracing" not in result.stderr
    assert os.path.getsize(os.path.join(folder, "pareto.png")) > 10_000

    # The best spec (a trial trained it), as a train config's
    # model.block_specs, builds that backbone under a task model.
    from spinenet_tf.config import load_config
    from spinenet_tf.models.base import task_for_config

    spec = load_block_specs(os.path.join(folder, "best_spec.yaml"))
    best = max(trials, key=lambda t: t["AP"])
    assert as_lists(spec) == best["spec"]
    config = load_config(os.path.join(folder, "best_spec.yaml"), [
        "model.image_size=[128, 128]", "model.filter_size_scale=0.25",
        "model.endpoints_num_filters=16", "model.head_num_filters=16",
        "model.head_num_convs=1", "model.num_classes=4"])
    model = task_for_config(config).build_network()
    built = model.backbone.get_config()["block_specs"]
    assert as_lists(built) == best["spec"]
    outputs = model(np.zeros((1, 128, 128, 3), "float32"), training=False)
    assert sorted(outputs["class_logits"]) == ["P3", "P4", "P5", "P6", "P7"]
