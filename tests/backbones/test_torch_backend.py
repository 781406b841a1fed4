"""The backbones, and their folded inference form, run on Keras' PyTorch
backend with the same outputs.

The model code uses keras.layers / keras.ops only; this proves it by
loading TensorFlow-backend weights into a PyTorch-backend process and
comparing outputs. Skipped where torch is not installed (CI installs it).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from support import random_images, randomize_batch_norm

from spinenet_tf import SpineNet, SpineNetMobile

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                       reason="torch is not installed"),
]

TORCH_SCRIPT = """
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "torch", keras.backend.backend()
import spinenet_tf
spec = json.loads(sys.argv[1])
model = getattr(spinenet_tf, spec["builder"])(
    spec["model_id"], input_shape=tuple(spec["shape"]), activation=spec["activation"])
model.load_weights(spec["weights"])
x = np.load(spec["inputs"])
out = model(x, training=False)
# The inference form (batch norm folded) is keras.layers / keras.ops too.
folded = spinenet_tf.inference_model(model)(x, training=False)
np.savez(spec["outputs"], **{k: keras.ops.convert_to_numpy(v) for k, v in out.items()},
         **{"folded_" + k: keras.ops.convert_to_numpy(v) for k, v in folded.items()})
"""


@pytest.mark.parametrize("builder,model_id,activation,shape", [
    (SpineNet, "49S", "swish", (128, 256, 3)),
    (SpineNetMobile, "49", "hard_swish", (128, 128, 3)),
])
@pytest.mark.slow
def test_torch_backend_matches_tensorflow(builder, model_id, activation, shape, tmp_path):
    model = builder(model_id, input_shape=shape, activation=activation)
    randomize_batch_norm(model)
    weights = str(tmp_path / "model.weights.h5")
    model.save_weights(weights)
    x = random_images(shape)
    np.save(tmp_path / "inputs.npy", x)
    spec = dict(builder=builder.__name__, model_id=model_id, activation=activation,
                shape=list(shape), weights=weights,
                inputs=str(tmp_path / "inputs.npy"),
                outputs=str(tmp_path / "outputs.npz"))
    env = dict(os.environ, KERAS_BACKEND="torch")
    result = subprocess.run(
        [sys.executable, "-c", TORCH_SCRIPT, json.dumps(spec)],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    torch_out = np.load(spec["outputs"])
    expected = model(x, training=False)
    for key, value in expected.items():
        np.testing.assert_allclose(torch_out[key], value, atol=1e-4)
        np.testing.assert_allclose(torch_out["folded_" + key], value, atol=1e-4)
