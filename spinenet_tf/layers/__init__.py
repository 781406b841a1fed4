"""Keras 3 layers of SpineNet and SpineNet-Mobile: blocks, resampling,
conv + batch norm in every form (trainable, folded, fake-quantized), the
image preprocessor."""

from spinenet_tf.layers.batch_normalization import BatchNormalization
from spinenet_tf.layers.bottleneck_block import BottleneckBlock
from spinenet_tf.layers.conv_norm_layer import ConvNormFactory, ConvNormLayer
from spinenet_tf.layers.cross_scale_resampling import CrossScaleResampling
from spinenet_tf.layers.depthwise_resampling import DepthwiseResampling
from spinenet_tf.layers.fake_quantization import (
    ActivationQuantizer, QuantizedConv2D, QuantizedDepthwiseConv2D, QuantizedSeparableConv2D)
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.layers.layer_form import LayerForm
from spinenet_tf.layers.mbconv_block import MBConvBlock
from spinenet_tf.layers.norm_activation import NormActivation
from spinenet_tf.layers.resampling import Resampling
from spinenet_tf.layers.residual_block import ResidualBlock
from spinenet_tf.layers.resnet_block import ResNetBlock
from spinenet_tf.layers.squeeze_excitation import SqueezeExcitation
from spinenet_tf.layers.stochastic_depth import StochasticDepth

__all__ = [
    "ActivationQuantizer",
    "BatchNormalization",
    "BottleneckBlock",
    "ConvNormFactory",
    "ConvNormLayer",
    "CrossScaleResampling",
    "DepthwiseResampling",
    "ImagePreprocessor",
    "LayerForm",
    "MBConvBlock",
    "NormActivation",
    "QuantizedConv2D",
    "QuantizedDepthwiseConv2D",
    "QuantizedSeparableConv2D",
    "ResNetBlock",
    "Resampling",
    "ResidualBlock",
    "SqueezeExcitation",
    "StochasticDepth",
]
