"""tf-models-official's `ClassificationModel` weights copied into a
`SpineNetClassifier` (the parity tests' oracle; the `garden` extra)."""

from spinenet_tf.backbones.model_garden_twin import (
    copy_layer_weights,
    require_model_garden,
    transfer_model_garden_weights,
)


def transfer_model_garden_classifier_weights(reference, model):
    """Copies a Model Garden `ClassificationModel` into a SpineNetClassifier."""
    require_model_garden()
    import tf_keras  # the `garden` extra, loaded only here

    transfer_model_garden_weights(reference.backbone, model.backbone)
    dense = [l for l in reference.layers if isinstance(l, tf_keras.layers.Dense)]
    norms = [l for l in reference.layers
             if isinstance(l, tf_keras.layers.BatchNormalization)]
    copy_layer_weights(dense[0], model.get_layer("logits"), "logits")
    if model.add_head_batch_norm:
        copy_layer_weights(norms[0], model.get_layer("head_bn"), "head_bn")
    return model
