"""Every use of a private TensorFlow, Keras or mediapipe internal.

The rest of the package calls these functions and never reaches into a
library's private names itself (tests/test_compat.py checks the source).
Each function names the internal it uses and the versions it was tested
with (`TESTED`); with a version outside that range, or where the internal
is gone, it raises `InternalChanged` naming both, instead of computing
something wrong or hanging.
"""

from spinenet_tf.compat.versions import TESTED, InternalChanged, require

__all__ = ["InternalChanged", "TESTED", "require"]
