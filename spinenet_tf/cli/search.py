"""Scale-permuted architecture search on a proxy task, on one machine.

    spinenet-search --output_dir outputs/search [--space spinenet|mobile]
        [--mode evolution|random] [--trials 20] [--time_budget MINUTES]
        [--population 8] [--sample_size 3] [--seed 0] [--stem_blocks N]
        [--target_gmacs G] [--gmacs_tolerance 0.1]
        [--train_annotations A --train_images I --val_annotations A --val_images I]

Candidates are permutations of the scale-decreased network's blocks, with
two cross-scale inputs per block and block adjustments (level -1..+2, block
type), as in the SpineNet paper; those outside the MAC budget are rejected
before training. Each is trained as a small RetinaNet and scored by COCO AP
on the held-out split (default data: the embedded synthetic shapes). The
scale-decreased network and the paper's spec are trained on the same proxy
as references. Every trial is appended to `<output_dir>/trials.jsonl`;
rerunning the command continues where it stopped (even after SIGKILL).
At the end: `best_spec.yaml` (a train config's `model.block_specs`),
`pareto.png` and a summary table. docs/search.md has a documented run.
"""

import dataclasses
import json
import os
import time

import tensorflow as tf
from absl import app, flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.interruptions import search_stopped
from spinenet_tf.cli.program import run_program
from spinenet_tf.data import synthetic
from spinenet_tf.search import evolution, report
from spinenet_tf.search.proxy_task import ProxyData, ProxySettings, ProxyTask
from spinenet_tf.search.space import SearchSpace, load_block_specs
from spinenet_tf.search.trial_log import TRIALS_FILE, TrialLog
from spinenet_tf.utils.run_lock import RunLock

OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/search", "The search folder.")
SPACE = flags.DEFINE_enum("space", "spinenet", ["spinenet", "mobile"],
                          "Bottleneck/residual blocks (SpineNet) or MBConv (SpineNet-Mobile).")
MODE = flags.DEFINE_enum("mode", "evolution", ["evolution", "random"],
                         "Aging evolution, or random search (the baseline).")
TRIALS = flags.DEFINE_integer("trials", 20, "Search trials in all (references not counted).")
TIME_BUDGET = flags.DEFINE_float(
    "time_budget", None, "Minutes of training in all (references included); no new "
    "trial starts after that.")
POPULATION = flags.DEFINE_integer("population", 8, "Aging evolution's population.")
SAMPLE_SIZE = flags.DEFINE_integer("sample_size", 3, "Tournament size.")
SEED = flags.DEFINE_integer("seed", 0, "Search seed (candidates and training).")
STEM_BLOCKS = flags.DEFINE_integer(
    "stem_blocks", 0, "Leading scale-decreased blocks kept fixed (R[N]-SP[M]).")
BASE_SPEC = flags.DEFINE_string(
    "base_spec", None, "YAML block specs whose blocks are permuted (default: the "
    "scale-decreased network of the space).")
TARGET_GMACS = flags.DEFINE_float(
    "target_gmacs", None, "Backbone GMACs at the proxy scale (default: the "
    "scale-decreased network's, i.e. a search at equal cost).")
GMACS_TOLERANCE = flags.DEFINE_float("gmacs_tolerance", 0.1,
                                     "Accepted relative distance from --target_gmacs.")
MAX_BUDGET_TRIES = flags.DEFINE_integer(
    "max_budget_tries", 50, "Candidates drawn per trial before the MAC budget is "
    "declared out of reach.")
REFERENCES = flags.DEFINE_list(
    "references", ["scale_decreased", "paper"],
    "Specs trained on the same proxy: scale_decreased and/or paper (SpineNet-49's or "
    "SpineNet-Mobile-49's); empty for none.")
REFERENCE_REPEATS = flags.DEFINE_integer(
    "reference_repeats", 1, "Trainings of each reference (seeds seed, seed+1, ...), "
    "to see the proxy's spread.")
for _name in ("train_annotations", "train_images", "val_annotations", "val_images"):
    flags.DEFINE_string(_name, None, "COCO-format data (default: the synthetic shapes).")
SYNTHETIC_TRAIN = flags.DEFINE_integer("synthetic_train", 800, "Synthetic training images.")
SYNTHETIC_VAL = flags.DEFINE_integer("synthetic_val", 100, "Synthetic held-out images.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Proxy input size.")
FILTER_SIZE_SCALE = flags.DEFINE_float("filter_size_scale", 0.25, "Proxy block widths.")
ENDPOINTS = flags.DEFINE_integer("endpoints_num_filters", 48, "Proxy endpoint width.")
HEAD_FILTERS = flags.DEFINE_integer("head_num_filters", 48, "Proxy head width.")
HEAD_CONVS = flags.DEFINE_integer("head_num_convs", 2, "Proxy head depth.")
TRAIN_STEPS = flags.DEFINE_integer("train_steps", 300, "Proxy training steps.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Proxy batch size.")
LEARNING_RATE = flags.DEFINE_float("learning_rate", 0.004, "Proxy Adam learning rate.")

REFERENCE_NAMES = {"scale_decreased": "scale_decreased", "paper": None}
# Settings a resumed search must share with the one it continues.
FIXED_SETTINGS = ("space", "mode", "population", "sample_size", "seed", "stem_blocks", "base",
                  "target_gmacs", "gmacs_tolerance", "proxy", "data")


def _data(folder):
    given = [flags.FLAGS[name].value for name in
             ("train_annotations", "train_images", "val_annotations", "val_images")]
    if any(given) and not all(given):
        raise app.UsageError("Give all four of --train_annotations, --train_images, "
                             "--val_annotations and --val_images, or none (synthetic data).")
    if all(given):
        for path in given:
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} does not exist.")
        return ProxyData(*given)
    data_dir = os.path.join(folder, "data")
    if not os.path.exists(os.path.join(data_dir, "val", "annotations.json")):
        print(f"Generating {SYNTHETIC_TRAIN.value} + {SYNTHETIC_VAL.value} synthetic "
              f"{IMAGE_SIZE.value}x{IMAGE_SIZE.value} images in {data_dir} ...", flush=True)
        synthetic.generate(data_dir, SYNTHETIC_TRAIN.value, SYNTHETIC_VAL.value,
                           image_size=IMAGE_SIZE.value, min_side=16)
    return ProxyData(*(os.path.join(data_dir, split, name) for split in ("train", "val")
                       for name in ("annotations.json", "images")))


def _check_settings(path, settings):
    """Writes the search's settings, or checks a resumed search keeps them."""
    settings = json.loads(json.dumps(settings))  # tuples as lists, as on disk
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        changed = [key for key in FIXED_SETTINGS if saved.get(key) != settings.get(key)]
        if changed:
            raise ValueError(
                f"{path} records a search with other settings: "
                + "; ".join(f"{key}: was {saved.get(key)!r}, now {settings.get(key)!r}"
                            for key in changed)
                + ". Use another --output_dir, or the same settings to resume.")
    with open(path, "w") as f:
        json.dump(settings, f, indent=2)


def _record(log, kind, name, spec, proxy, folder, seed, parent=None, tries=1):
    gmacs, params = proxy.complexity(spec)
    metrics, seconds, precision = proxy.train(spec, folder, seed)
    record = {"trial": len(log.trials), "kind": kind, "name": name,
              "spec": [list(row[:2]) + [list(row[2]), row[3]] for row in spec],
              "gmacs": round(gmacs, 4), "params": params, **metrics, "seconds": seconds,
              "parent": parent, "seed": seed, "precision": precision,
              "budget_tries": tries}
    log.append(record)
    return record


@dataclasses.dataclass
class Search:
    """One search folder's settings, proxy task and trial log."""

    folder: str
    space: object
    proxy: object
    budget: object
    log: object

    def spent_minutes(self):
        return sum(t["seconds"] for t in self.log.trials) / 60

    def out_of_time(self):
        return TIME_BUDGET.value is not None and self.spent_minutes() >= TIME_BUDGET.value


def _set_up(folder):
    """Checks the flags, builds the space, proxy and MAC budget, and opens
    the trial log (refusing a folder searched with other settings)."""
    for name in REFERENCES.value:
        if name not in REFERENCE_NAMES:
            raise app.UsageError(f"--references takes {list(REFERENCE_NAMES)}; "
                                 f"received {name!r}.")
    if POPULATION.value < 1 or not 1 <= SAMPLE_SIZE.value <= POPULATION.value:
        raise app.UsageError(f"Need --population >= 1 and 1 <= --sample_size <= "
                             f"--population; received {POPULATION.value} and "
                             f"{SAMPLE_SIZE.value}.")
    base = load_block_specs(BASE_SPEC.value) if BASE_SPEC.value else None
    space = SearchSpace.named(SPACE.value, STEM_BLOCKS.value, base)
    settings = ProxySettings(IMAGE_SIZE.value, FILTER_SIZE_SCALE.value, ENDPOINTS.value,
                             HEAD_FILTERS.value, HEAD_CONVS.value, TRAIN_STEPS.value,
                             BATCH_SIZE.value, LEARNING_RATE.value)
    data = _data(folder)
    proxy = ProxyTask(space, data, settings)
    target = (TARGET_GMACS.value
              or proxy.complexity(space.references()["scale_decreased"])[0])
    budget = evolution.MacBudget(target, GMACS_TOLERANCE.value)
    _check_settings(os.path.join(folder, "search.json"), {
        "space": space.name, "mode": MODE.value, "population": POPULATION.value,
        "sample_size": SAMPLE_SIZE.value, "seed": SEED.value,
        "stem_blocks": STEM_BLOCKS.value, "target_gmacs": round(target, 4),
        "gmacs_tolerance": GMACS_TOLERANCE.value, "base": [list(r) for r in space.base],
        "proxy": dataclasses.asdict(settings), "data": dataclasses.asdict(data)})
    log = TrialLog(os.path.join(folder, TRIALS_FILE))
    return Search(folder, space, proxy, budget, log)


def _train_references(search):
    """The reference networks' trials not yet on record."""
    references = search.space.references()
    for key in REFERENCES.value:
        name = REFERENCE_NAMES[key] or next(n for n in references if n != "scale_decreased")
        for repeat in range(REFERENCE_REPEATS.value):
            label = f"{name}#{repeat}"
            if search.log.find("reference", label) or search.out_of_time():
                continue
            started = time.time()
            record = _record(search.log, "reference", label, references[name], search.proxy,
                             os.path.join(search.folder, "references",
                                          label.replace("#", "_")),
                             SEED.value + repeat)
            print(f"trial {record['trial']} (reference {label}): {record['gmacs']:.3f} GMACs, "
                  f"AP {record['AP']:.3f} "
                  f"({time.time() - started:.0f} s)", flush=True)


def _train_candidates(search):
    """Search trials until --trials or the time budget."""
    log = search.log
    while len(log.of_kind("search")) < TRIALS.value and not search.out_of_time():
        history = log.of_kind("search")
        index = len(history)
        candidate = evolution.propose(
            search.space, history, index, mode=MODE.value, population=POPULATION.value,
            sample_size=SAMPLE_SIZE.value, seed=SEED.value,
            complexity=search.proxy.complexity, within_budget=search.budget,
            max_tries=MAX_BUDGET_TRIES.value)
        record = _record(log, "search", f"search#{index}", candidate["spec"], search.proxy,
                         os.path.join(search.folder, "trials", f"trial_{index:04d}"),
                         SEED.value, candidate["parent"], candidate["tries"])
        best = report.best_trial(log.of_kind("search"))
        parent = "random" if record["parent"] is None else f"from trial {record['parent']}"
        print(f"trial {record['trial']} (search {index + 1}/{TRIALS.value}, {parent}): "
              f"{record['gmacs']:.3f} GMACs, "
              f"AP {record['AP']:.3f} in {record['seconds']:.0f} s; best AP {best['AP']:.3f} "
              f"(trial {best['trial']}); {search.spent_minutes():.1f} min spent", flush=True)
    if search.out_of_time():
        print(f"Time budget of {TIME_BUDGET.value} min reached.", flush=True)


def _write_report(search):
    """pareto.png, the summary table, best_spec.yaml and summary.json."""
    folder, log = search.folder, search.log
    search_trials, reference_trials = log.of_kind("search"), log.of_kind("reference")
    summaries = report.reference_summary(reference_trials)
    report.plot_pareto(os.path.join(folder, "pareto.png"), search_trials, reference_trials)
    best = report.best_trial(search_trials)
    print()
    for line in report.summary_table(search_trials, reference_trials):
        print("  " + line)
    decreased = summaries.get("scale_decreased")
    if decreased:
        print(f"\nscale-decreased: AP {decreased['AP']:.3f} over {decreased['runs']} "
              f"run(s), spread {decreased['spread']:.3f}")
    if best:
        path = os.path.join(folder, "best_spec.yaml")
        report.write_best_spec(path, best, search.space, summaries)
        if decreased:
            print(f"best search trial {best['trial']}: AP {best['AP']:.3f} "
                  f"({best['AP'] - decreased['AP']:+.3f} against scale-decreased) at "
                  f"{best['gmacs']:.3f} GMACs ({decreased['gmacs']:.3f})")
        print(f"\n  {path}  best spec (model.block_specs of a train config)")
    print(f"  {os.path.join(folder, 'pareto.png')}  AP against GMACs")
    print(f"  {log.path}  every trial")
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump({"best": best, "references": summaries,
                   "search_trials": len(search_trials),
                   "minutes": round(search.spent_minutes(), 2)}, f, indent=2)


@with_clear_errors(interrupted=lambda: search_stopped(os.path.abspath(OUTPUT_DIR.value)))
def main(argv):
    del argv
    # Each trial is a new model: TensorFlow's retracing warnings say nothing here.
    tf.get_logger().setLevel("ERROR")
    folder = os.path.abspath(OUTPUT_DIR.value)
    with RunLock(folder, "search"):
        search = _set_up(folder)
        count = len(search.log.trials)
        print(f"Search ({MODE.value}, {search.space.name} space) in {folder}: budget "
              f"{search.budget.describe()}; {count} trial{'s' if count != 1 else ''} on "
              "record.", flush=True)
        _train_references(search)
        _train_candidates(search)
        _write_report(search)


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
