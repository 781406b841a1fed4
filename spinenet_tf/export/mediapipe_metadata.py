"""TFLite metadata for MediaPipe Tasks' ObjectDetector.

`add_detector_metadata` writes, with MediaPipe's own metadata writer
(`mediapipe.tasks.python.metadata.metadata_writers.object_detector`), what
`mediapipe.tasks.vision.ObjectDetector` needs to run a detection `.tflite`
that ends in `TFLite_Detection_PostProcess`: the input's normalisation,
the roles of the op's four outputs (boxes, classes, scores, count) and a
label file packed into the model. Needs the `mediapipe` extra.
"""

import gc
import sys
import types

# The normalisation the metadata declares: the file takes 0..255 pixels
# and normalises inside, so MediaPipe feeds them unchanged.
INPUT_MEAN, INPUT_STD = 0.0, 1.0


def mediapipe_available():
    """Whether MediaPipe's metadata writer can be imported."""
    try:
        _writer_modules()
    except ImportError:
        return False
    return True


def add_detector_metadata(flatbuffer, labels):
    """`flatbuffer` (a detection `.tflite` with the post-processing op) with
    ObjectDetector metadata and `labels` (one name per 0-based foreground
    class, the op's class outputs) packed in; returns the new bytes."""
    object_detector, metadata_writer = _writer_modules()
    if not labels:
        raise ValueError("ObjectDetector metadata needs the class names; received none.")
    writer = object_detector.MetadataWriter.create_for_models_with_nms(
        bytearray(flatbuffer), input_norm_mean=[INPUT_MEAN], input_norm_std=[INPUT_STD],
        labels=metadata_writer.Labels().add([str(label) for label in labels]))
    content, _ = writer.populate()
    # The writer holds a temporary folder in a reference cycle; collected at
    # interpreter exit, its cleanup fails noisily ("'NoneType' object has
    # no attribute 'path'"), so it is collected now.
    del writer
    gc.collect()
    return bytes(content)


def _writer_modules():
    try:
        from mediapipe.tasks.cc.metadata.python import _pywrap_metadata_version  # noqa: F401
    except ImportError:
        _provide_parser_version_helper()
    from mediapipe.tasks.python.metadata.metadata_writers import (
        metadata_writer, object_detector)

    return object_detector, metadata_writer


def _provide_parser_version_helper():
    """mediapipe's wheels from 0.10.30 on (the C-API rewrite) ship the
    Python metadata writer without the compiled module it imports for one
    function, `GetMinimumMetadataParserVersion` (the oldest metadata parser
    that reads every field used). The older wheels that have it need
    protobuf < 5 and numpy < 2, which TensorFlow 2.20 cannot use. This
    provides that function for the fields an object detector's metadata
    uses, following the version history in mediapipe's
    metadata_schema.fbs; only if mediapipe itself is installed."""
    import mediapipe  # noqa: F401  (ImportError when it is not installed)
    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema

    def minimum_parser_version(buffer):
        metadata = schema.ModelMetadataT.InitFromObj(
            schema.ModelMetadata.GetRootAsModelMetadata(bytearray(buffer), 0))
        version = (1, 0, 0)
        files = list(metadata.associatedFiles or [])
        for subgraph in metadata.subgraphMetadata or []:
            if subgraph.customMetadata:
                version = max(version, (1, 5, 0))
            if subgraph.inputTensorGroups or subgraph.outputTensorGroups:
                version = max(version, (1, 2, 0))
            files += subgraph.associatedFiles or []
            tensors = (subgraph.inputTensorMetadata or []) + (
                subgraph.outputTensorMetadata or [])
            for tensor in tensors:
                files += tensor.associatedFiles or []
                content = tensor.content
                if content is not None and content.contentPropertiesType == (
                        schema.ContentProperties.AudioProperties):
                    version = max(version, (1, 3, 0))
                for unit in tensor.processUnits or []:
                    if unit.optionsType in (schema.ProcessUnitOptions.BertTokenizerOptions,
                                            schema.ProcessUnitOptions.SentencePieceTokenizerOptions):
                        version = max(version, (1, 1, 0))
                    if unit.optionsType == schema.ProcessUnitOptions.RegexTokenizerOptions:
                        version = max(version, (1, 2, 1))
        for file in files:
            if file.type == schema.AssociatedFileType.VOCABULARY:
                version = max(version, (1, 0, 1))
            if file.type == schema.AssociatedFileType.SCANN_INDEX_FILE:
                version = max(version, (1, 4, 0))
            if file.version:
                version = max(version, (1, 4, 1))
        return ".".join(str(part) for part in version)

    names = ["mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata",
             "mediapipe.tasks.cc.metadata.python"]
    for name in names:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = []
            sys.modules[name] = package
    helper = types.ModuleType(f"{names[-1]}._pywrap_metadata_version")
    helper.GetMinimumMetadataParserVersion = minimum_parser_version
    sys.modules[helper.__name__] = helper
    sys.modules[names[-1]]._pywrap_metadata_version = helper
