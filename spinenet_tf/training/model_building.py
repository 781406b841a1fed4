"""The model an experiment trains: its family's network (the task's
`build_network`), started from `model.init_from` where set, in its
quantization-aware form where asked."""

from spinenet_tf.quantization.inference_form import quantization_aware_model
from spinenet_tf.training.checkpoints import initialize_from_model_dir


def build_training_model(config, task):
    """`task.build_network()`, initialised from `config.model.init_from` (a
    train.py or model folder's latest checkpoint) if set, and in its
    quantization-aware form (`spinenet_tf.quantization_aware_model`) if the
    model section trains that way."""
    model = task.build_network()
    if config.model.init_from:
        initialize_from_model_dir(model, config.model.init_from)
    if config.model.trains_quantization_aware():
        model = quantization_aware_model(model)
    return model
