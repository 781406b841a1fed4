"""The model an experiment trains: its family's network (the task's
`build_network`), started from `model.init_from` where set, its
`model.freeze` parts frozen, in its quantization-aware form where asked."""

from spinenet_tf.quantization.inference_form import quantization_aware_model
from spinenet_tf.training.transfer import freeze_parts, initialize_model


def build_training_model(config, task, initialize=True):
    """`task.build_network()`; initialised from `config.model.init_from` if
    set and `initialize` (a resumed run restores its own checkpoint
    instead); with `config.model.freeze` untrainable; and in its
    quantization-aware form (`spinenet_tf.quantization_aware_model`) if the
    model section trains that way."""
    model = task.build_network()
    if initialize and config.model.init_from:
        initialize_model(model, config.model)
    if config.model.trains_quantization_aware():
        model = quantization_aware_model(model)
    freeze_parts(model, config.model.freeze)
    return model
