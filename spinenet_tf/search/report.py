"""What a search leaves behind: the best spec as YAML, `pareto.png` and a
summary table."""

import statistics

from spinenet_tf.search.space import block_specs_to_yaml


def best_trial(trials):
    return max(trials, key=lambda t: t["AP"]) if trials else None


def write_best_spec(path, best, space, references):
    """The best candidate as a train-config fragment: `model.block_specs`
    (with the backbone whose stem and scaling it was searched with)."""
    decreased = references.get("scale_decreased")
    lines = [
        f"# Found by `spinenet-search` ({space.name} space): trial "
        f"{best['trial']}, proxy AP {best['AP']:.3f} at {best['gmacs']:.3f} GMACs.",
    ]
    if decreased:
        lines.append(f"# Scale-decreased spec on the same proxy: AP "
                     f"{decreased['AP']:.3f} (mean of {decreased['runs']}) at "
                     f"{decreased['gmacs']:.3f} GMACs.")
    lines += [
        "# Use it in a train config (train.py --config ...), or in Python:",
        "#   SpineNet(\"49\", block_specs=yaml.safe_load(open(path))[\"model\"][\"block_specs\"])",
        "model:",
        f"  backbone: {space.backbone}",
        "  block_specs:",
        block_specs_to_yaml(best["spec"]),
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def reference_summary(trials):
    """{name: {"AP": mean, "spread": max - min, "runs", "gmacs", "aps"}}
    over the repeats ("name#0", "name#1", ...) of each reference."""
    def base(trial):
        return trial["name"].split("#")[0]

    summary = {}
    for name in sorted({base(t) for t in trials}):
        runs = [t for t in trials if base(t) == name]
        aps = [t["AP"] for t in runs]
        summary[name] = {"AP": statistics.mean(aps), "spread": max(aps) - min(aps),
                         "runs": len(runs), "gmacs": runs[0]["gmacs"],
                         "aps": aps}
    return summary


def plot_pareto(path, search_trials, reference_trials):
    """AP against GMACs of every trial, references marked, the Pareto front
    (no other trial has more AP for fewer GMACs) drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    if search_trials:
        order = [t["trial"] for t in search_trials]
        points = axes.scatter([t["gmacs"] for t in search_trials],
                              [t["AP"] for t in search_trials], c=order, cmap="viridis",
                              s=24, label="search trials")
        figure.colorbar(points, ax=axes, label="trial")
        front, best = [], -1.0
        for trial in sorted(search_trials, key=lambda t: (t["gmacs"], -t["AP"])):
            if trial["AP"] > best:
                front.append(trial)
                best = trial["AP"]
        axes.step([t["gmacs"] for t in front], [t["AP"] for t in front], where="post",
                  color="tab:green", linewidth=1, label="Pareto front")
    markers = {"scale_decreased": ("s", "tab:red")}
    for name, summary in reference_summary(reference_trials).items():
        marker, color = markers.get(name, ("*", "tab:orange"))
        axes.errorbar([summary["gmacs"]], [summary["AP"]],
                      yerr=[[summary["AP"] - min(summary["aps"])],
                            [max(summary["aps"]) - summary["AP"]]],
                      fmt=marker, color=color, markersize=9, capsize=3,
                      label=f"{name} ({summary['runs']} run{'s' * (summary['runs'] > 1)})")
    axes.set_xlabel("backbone GMACs (proxy scale)")
    axes.set_ylabel("proxy COCO AP")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def summary_table(search_trials, reference_trials, top=5):
    """Lines: the references, then the `top` search trials by AP."""
    rows = [("trial", "kind", "GMACs", "params", "AP", "AP50", "seconds", "parent")]
    for trial in reference_trials:
        rows.append((str(trial["trial"]), trial["name"], f"{trial['gmacs']:.3f}",
                     f"{trial['params']:,}", f"{trial['AP']:.3f}", f"{trial['AP50']:.3f}",
                     f"{trial['seconds']:.0f}", ""))
    for trial in sorted(search_trials, key=lambda t: -t["AP"])[:top]:
        parent = "" if trial["parent"] is None else str(trial["parent"])
        rows.append((str(trial["trial"]), "search", f"{trial['gmacs']:.3f}",
                     f"{trial['params']:,}", f"{trial['AP']:.3f}", f"{trial['AP50']:.3f}",
                     f"{trial['seconds']:.0f}", parent))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(width) if i not in (1,) else cell.ljust(width)
                      for i, (cell, width) in enumerate(zip(row, widths)))
            for row in rows]
