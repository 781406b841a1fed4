"""Proof that this is SpineNet: equality with tf-models-official 2.20.

Every expected figure here is computed by the installed tf-models-official
(the oracle), never by the code under test.
"""

import pytest
import tensorflow as tf

pytest.importorskip("official")  # the oracle: TensorFlow 2.20 only
import tf_keras  # noqa: E402
from official.vision.modeling.backbones import spinenet as tfm_spinenet
from official.vision.modeling.backbones import spinenet_mobile as tfm_mobile  # noqa: E402
from support import (
    max_abs_difference,
    profiler_macs,
    random_images,
    randomize_batch_norm,
)

from spinenet_tf import SpineNet, SpineNetMobile
from spinenet_tf.backbones.model_garden_twin import (
    build_model_garden_backbone,
    transfer_model_garden_weights,
)
from spinenet_tf.pretrained import load_model_garden_checkpoint
from spinenet_tf.utils.model_complexity import count_macs

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment


def _reference(builder_module, cls, model_id, size=128):
    """Model Garden's own model, scaled by its own SCALING_MAP."""
    return getattr(builder_module, cls)(
        input_specs=tf_keras.layers.InputSpec(shape=[None, size, size, 3]),
        min_level=3, max_level=7, block_specs=builder_module.build_block_specs(),
        **builder_module.SCALING_MAP[model_id])


def test_scaling_tables_and_block_specs_equal_model_garden():
    from spinenet_tf.backbones import block_specs, spinenet, spinenet_mobile

    assert spinenet.SCALING_MAP == tfm_spinenet.SCALING_MAP
    assert spinenet_mobile.SCALING_MAP == tfm_mobile.SCALING_MAP
    for ours, theirs in ((block_specs.SPINENET_BLOCK_SPECS, tfm_spinenet.SPINENET_BLOCK_SPECS),
                         (block_specs.SPINENET_MOBILE_BLOCK_SPECS,
                          tfm_mobile.SPINENET_BLOCK_SPECS)):
        assert [tuple(s) for s in ours] == [tuple(s) for s in theirs]


# Variants the parity test below does not build (it compares the
# parameter counts of the others).
@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["96", "143", "143L"])
def test_spinenet_parameter_count_equals_model_garden(model_id):
    reference = _reference(tfm_spinenet, "SpineNet", model_id)
    ours = SpineNet(model_id, input_shape=(128, 128, 3))
    assert ours.count_params() == reference.count_params()


SQUARE, WIDE = (128, 128, 3), (128, 256, 3)
# Every family, model id of a distinct scaling, activation and square / non-
# square input (Keras' asymmetric "same" padding) at least once.
PARITY_CASES = [
    (SpineNet, "49S", "relu", WIDE), (SpineNet, "49S", "swish", SQUARE),
    (SpineNet, "49", "relu", SQUARE), (SpineNet, "49", "swish", WIDE),
    (SpineNet, "190", "swish", WIDE),
    (SpineNetMobile, "49", "relu", SQUARE), (SpineNetMobile, "49", "swish", WIDE),
    (SpineNetMobile, "49S", "swish", SQUARE),
    (SpineNetMobile, "49XS", "relu", WIDE), (SpineNetMobile, "49XS", "swish", SQUARE),
]


@pytest.mark.parametrize(
    "builder,model_id,activation,shape", PARITY_CASES,
    ids=[f"{b.__name__}-{m}-{a}-{s[0]}x{s[1]}" for b, m, a, s in PARITY_CASES])
@pytest.mark.slow
def test_transferred_weights_give_model_garden_outputs(builder, model_id, activation, shape):
    ours = builder(model_id, input_shape=shape, activation=activation)
    reference = build_model_garden_backbone(ours)
    assert ours.count_params() == reference.count_params()
    randomize_batch_norm(reference)
    transfer_model_garden_weights(reference, ours)
    x = random_images(shape)
    expected = reference(x, training=False)
    received = ours(x, training=False)
    for level in range(3, 8):
        assert max_abs_difference(received[f"P{level}"], expected[str(level)]) < 1e-4


def _kind(path):
    """A weight's kind: its layer and weight names without numbers
    ("downsample_depthwise/kernel" for "block3_resample1/downsample2_depthwise/kernel")."""
    return "".join(c for c in "/".join(path.split("/")[-2:]) if not c.isdigit())


@pytest.mark.parametrize("builder,model_id", [(SpineNet, "49S"), (SpineNetMobile, "49")])
def test_initial_weights_are_drawn_as_model_garden_draws_them(builder, model_id):
    # Parity with transferred weights cannot see initializers; training from
    # scratch can. Each kind of kernel starts with the spread of the
    # reference's (median over its kernels; a wrong initializer is 0.7x or
    # 1.4x, sampling noise a few percent).
    import numpy as np

    ours = builder(model_id, input_shape=SQUARE)
    reference = build_model_garden_backbone(ours)
    initial = {w.path: np.asarray(w) for w in ours.weights}
    transfer_model_garden_weights(reference, ours)  # ours now holds theirs
    ratios = {}
    for weight in ours.weights:
        theirs = np.asarray(weight)
        if theirs.ndim >= 2 and theirs.std() > 0:
            ratios.setdefault(_kind(weight.path), []).append(
                initial[weight.path].std() / theirs.std())
    medians = {kind: float(np.median(r)) for kind, r in ratios.items()}
    assert len(medians) >= 3
    assert {k: round(m, 2) for k, m in medians.items() if not 0.85 < m < 1.18} == {}


@pytest.mark.parametrize("builder,model_id,how", [
    (SpineNet, "49S", "save"), (SpineNetMobile, "49XS", "write")])
@pytest.mark.slow
def test_checkpoint_written_by_model_garden_loads(builder, model_id, how, tmp_path):
    shape = (128, 128, 3)
    # A "pretrained" Model Garden backbone, saved the way Model Garden saves it
    # (`save`: numbered, with a `checkpoint` state file, as CheckpointManager
    # does) or as a bare prefix (`write`).
    trained = build_model_garden_backbone(builder(model_id, input_shape=shape))
    randomize_batch_norm(trained, seed=3)
    checkpoint = tf.train.Checkpoint(backbone=trained)
    prefix = getattr(checkpoint, how)(str(tmp_path / "ckpt"))

    x = random_images(shape)
    expected = trained(x, training=False)
    for source in (str(tmp_path), prefix):  # the directory, the prefix
        ours = builder(model_id, input_shape=(None, None, 3))
        load_model_garden_checkpoint(ours, source)
        for level in range(3, 8):
            assert max_abs_difference(ours(x)[f"P{level}"], expected[str(level)]) < 1e-4


@pytest.mark.slow
def test_checkpoint_of_another_variant_is_refused(tmp_path):
    other = build_model_garden_backbone(
        SpineNetMobile("49XS", input_shape=(128, 128, 3)))
    tf.train.Checkpoint(backbone=other).write(str(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match="does not fit spinenet_mobile_49s"):
        load_model_garden_checkpoint(
            SpineNetMobile("49S", input_shape=(128, 128, 3)), str(tmp_path))


def test_missing_checkpoint_directory_is_an_error(tmp_path):
    model = SpineNetMobile("49XS", input_shape=(128, 128, 3))
    with pytest.raises(FileNotFoundError, match="No checkpoint found"):
        load_model_garden_checkpoint(model, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="expected '.*nothing.index'"):
        load_model_garden_checkpoint(model, str(tmp_path / "nothing"))


@pytest.mark.parametrize("builder,model_id,size", [
    (SpineNet, "49S", 256), (SpineNet, "96", 256), (SpineNetMobile, "49", 384),
    (SpineNetMobile, "49XS", 256)])
@pytest.mark.slow
def test_macs_match_the_profiler_on_model_garden(builder, model_id, size):
    ours = builder(model_id, input_shape=(size, size, 3))
    reference = build_model_garden_backbone(ours)
    expected = profiler_macs(lambda x: reference(x, training=False), (size, size, 3))
    assert abs(count_macs(ours) - expected) <= 0.01 * expected
