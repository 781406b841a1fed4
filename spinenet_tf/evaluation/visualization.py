"""Pictures of a training run: loss / AP curves and detections."""

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(log, path, metric_names=("AP", "AP50")):
    """PNG of the losses and learning rate, and of `metric_names` at each
    evaluation, against the step. Every evaluation is a marker, so a run
    evaluated once still shows its point."""
    plt = _pyplot()
    steps = [entry["step"] for entry in log]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    losses = sorted({key for entry in log for key in entry if key.endswith("loss")},
                    key=lambda key: (key != "loss", key))
    for key in losses:
        values = [entry.get(key) for entry in log]
        if any(v is not None for v in values):
            axes[0].plot(steps, values, marker="." if len(steps) < 20 else None, label=key)
    axes[0].set_xlabel("step")
    axes[0].set_yscale("log")
    axes[0].set_title("training loss")
    if any(entry.get("learning_rate") is not None for entry in log):
        rate = axes[0].twinx()
        rate.plot(steps, [entry.get("learning_rate") for entry in log], color="grey",
                  linestyle="--", label="learning rate")
        rate.set_ylabel("learning rate")
        rate.legend(loc="lower left")
    axes[0].legend(loc="upper right")
    plotted = False
    for key in metric_names:
        points = [(e["step"], e[key]) for e in log if e.get(key) is not None]
        if points:
            axes[1].plot(*zip(*points), marker="o", markersize=7, label=key)
            for step, value in points[-1:]:
                axes[1].annotate(f"{value:.3f}", (step, value), textcoords="offset points",
                                 xytext=(4, 6), fontsize=8)
            plotted = True
    if steps:
        axes[1].set_xlim(0, max(steps) * 1.05)
    axes[1].set_xlabel("step")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("evaluation")
    if plotted:
        axes[1].legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draw_detections(images, detections, path, category_names=None,
                    score_threshold=0.3, masks=None):
    """PNG grid of images (uint8 [N, H, W, 3]) with their detected boxes and,
    given `masks` (per image [K, H, W] binary, pasted), their masks."""
    plt = _pyplot()
    count = len(images)
    columns = min(count, 4)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4 * rows),
                                squeeze=False)
    colours = plt.get_cmap("tab10")
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        axis.imshow(images[index])
        n = int(detections["num_detections"][index])
        for rank, (box, score, cls) in enumerate(zip(
                detections["detection_boxes"][index][:n],
                detections["detection_scores"][index][:n],
                detections["detection_classes"][index][:n])):
            if score < score_threshold:
                continue
            ymin, xmin, ymax, xmax = box
            colour = colours(int(cls) % 10)
            if masks is not None:
                instance = np.asarray(masks[index][rank], bool)
                layer = np.zeros(instance.shape + (4,), np.float32)
                layer[instance] = colour[:3] + (0.45,)
                axis.imshow(layer)
            axis.add_patch(plt.Rectangle((xmin, ymin), xmax - xmin, ymax - ymin,
                                         fill=False, edgecolor=colour, linewidth=2))
            name = (category_names or {}).get(int(cls), str(int(cls)))
            axis.text(xmin, ymin, f"{name} {score:.2f}", color="white", fontsize=8,
                      bbox=dict(facecolor=colour, alpha=0.7, pad=1, edgecolor="none"))
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
