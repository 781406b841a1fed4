"""mediapipe's metadata writer without its missing compiled helper."""

import sys
import types

from spinenet_tf.compat.versions import require


def metadata_writer_modules():
    """mediapipe's `object_detector` and `metadata_writer` modules, with the
    compiled helper they import provided where the wheel lacks it."""
    try:
        from mediapipe.tasks.cc.metadata.python import _pywrap_metadata_version  # noqa: F401
    except ImportError:
        _provide_parser_version_helper()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, object_detector

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

    require("mediapipe", "module mediapipe.tasks.cc.metadata.python._pywrap_metadata_version")
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
