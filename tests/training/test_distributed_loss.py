"""Models that compute their own loss train under `tf.distribute` as on one
device: Keras sums the replicas' gradients, so each replica's loss must be
its share (`spinenet_tf.ops.distribution`), as Keras' compiled losses and
tf-models-official's tasks divide it."""

import subprocess
import sys
import textwrap

import pytest
from support import ROOT

SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from spinenet_tf.ops.distribution import per_replica_share, replica_mean
    import sys; sys.path.insert(0, "tests")
    from support import tiny_detector

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def replica_values(replica):
        context = tf.distribute.get_replica_context()
        value = tf.cast(context.replica_id_in_sync_group, tf.float32) * 2.0 + 1.0  # 1, 3
        return replica_mean(value), per_replica_share(value)

    means, shares = strategy.run(replica_values, args=(0,))
    print("MEANS", [float(v) for v in strategy.experimental_local_results(means)])
    print("SHARES", [float(v) for v in strategy.experimental_local_results(shares)])

    # One SGD step of a RetinaNet on two identical images: on one device
    # (batch 2) and on two replicas (one image each) the same update, up to
    # the loss normaliser's "+ 1": (2 p + 1) on one device against 2 (p + 1)
    # over the replicas (p positive anchors an image), as in the reference.
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 128, 128, 3)).astype("float32")
    targets = {"boxes": np.array([[[10, 10, 70, 80], [60, 30, 120, 90]]], "float32"),
               "classes": np.array([[1, 2]], "int32")}
    data = tf.data.Dataset.from_tensors(
        (np.repeat(image, 2, 0), {k: np.repeat(v, 2, 0) for k, v in targets.items()}))
    updates = []
    for scope in (None, strategy):
        with (scope.scope() if scope else tf.init_scope()):
            model = tiny_detector()
            model.compile(optimizer=keras.optimizers.SGD(0.5))
        before = np.concatenate([np.ravel(w) for w in model.trainable_weights])
        model.fit(data, epochs=1, verbose=0)
        after = np.concatenate([np.ravel(w) for w in model.trainable_weights])
        updates.append(after - before)
    single, replicas = updates
    print("RATIO", float(np.linalg.norm(replicas) / np.linalg.norm(single)))
    print("COSINE", float(single @ replicas / np.linalg.norm(single)
                          / np.linalg.norm(replicas)))
""")


@pytest.mark.slow
def test_losses_are_shared_between_replicas():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.split(" ", 1)[0] in ("MEANS", "SHARES", "RATIO", "COSINE"))
    assert lines["MEANS"] == "[2.0, 2.0]"
    assert lines["SHARES"] == "[0.5, 1.5]"
    # Without the share the replicas' update is twice the single device's.
    assert 0.9 < float(lines["RATIO"]) <= 1.0
    assert float(lines["COSINE"]) > 0.999
