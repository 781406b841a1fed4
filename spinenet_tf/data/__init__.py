"""Input data for SpineNet models: COCO folders, TFRecords, synthetic shapes,
and the tf.data pipelines that read them (through the model's
`ImagePreprocessor`, `spinenet_tf.layers`)."""
