"""The classifier's variable names in the TPU model zoo's TF1 files: the
backbone's (`backbones.model_zoo_names`) and `classification_head/dense`
(the released classifiers have no conv before it:
`endpoints_num_filters: 0`; `aggregation` adds no variables)."""

from spinenet_tf.backbones.model_zoo_names import spinenet_names
from spinenet_tf.utils.tf1_variable_names import TF1Scope


def model_zoo_names(model):
    """`{model-zoo name: variable}` of a `SpineNetClassifier`."""
    if model.add_head_batch_norm:
        raise ValueError(
            "The model zoo's classification head has no batch norm before "
            "pooling; build the classifier with add_head_batch_norm=False.")
    names = spinenet_names(model.backbone)
    TF1Scope("classification_head", names).add_dense(model.get_layer("logits"))
    return names
