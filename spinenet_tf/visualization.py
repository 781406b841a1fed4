"""Pictures of a training run: loss / AP curves and detections."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(log, path):
    """PNG of the losses (and AP, when evaluated) against the step."""
    plt = _pyplot()
    steps = [entry["step"] for entry in log]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("loss", "class_loss", "box_loss"):
        values = [entry.get(key) for entry in log]
        if any(v is not None for v in values):
            axes[0].plot(steps, values, label=key)
    axes[0].set_xlabel("step")
    axes[0].set_yscale("log")
    axes[0].set_title("training loss")
    axes[0].legend()
    evaluated = [entry for entry in log if "AP" in entry or "top1" in entry]
    for key in ("AP", "AP50", "top1", "top5"):
        points = [(e["step"], e[key]) for e in evaluated if key in e]
        if points:
            axes[1].plot(*zip(*points), marker="o", label=key)
    axes[1].set_xlabel("step")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("evaluation")
    if evaluated:
        axes[1].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draw_detections(images, detections, path, category_names=None,
                    score_threshold=0.3):
    """PNG grid of images (uint8 [N, H, W, 3]) with their detected boxes."""
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
        for box, score, cls in zip(detections["detection_boxes"][index][:n],
                                   detections["detection_scores"][index][:n],
                                   detections["detection_classes"][index][:n]):
            if score < score_threshold:
                continue
            ymin, xmin, ymax, xmax = box
            colour = colours(int(cls) % 10)
            axis.add_patch(plt.Rectangle((xmin, ymin), xmax - xmin, ymax - ymin,
                                         fill=False, edgecolor=colour, linewidth=2))
            name = (category_names or {}).get(int(cls), str(int(cls)))
            axis.text(xmin, ymin, f"{name} {score:.2f}", color="white", fontsize=8,
                      bbox=dict(facecolor=colour, alpha=0.7, pad=1, edgecolor="none"))
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
