"""The CPU description benchmarks print."""

import pytest

from spinenet_tf.utils.hardware import cpu_flags


def test_cpu_flags_reads_the_model_and_the_flags_of_interest(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile amx_int8 avx512_bf16\n\n"
        "processor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n")
    model, flags = cpu_flags(str(cpuinfo))
    assert model == "Intel(R) Xeon(R) Platinum 8480+"
    assert flags == ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
    assert cpu_flags(str(tmp_path / "missing"))[1] == ()


def test_auto_mixed_precision_is_bfloat16_only_for_spinenet_with_amx(tmp_path):
    from spinenet_tf.utils.hardware import auto_mixed_precision

    with_amx, without = tmp_path / "amx", tmp_path / "avx512"
    with_amx.write_text("model name\t: Xeon\nflags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile\n")
    without.write_text("model name\t: EPYC\nflags\t\t: avx512f avx512_bf16\n")
    assert auto_mixed_precision("spinenet-49s", str(with_amx)) == "bfloat16"
    assert auto_mixed_precision("spinenet-49s", str(without)) is None
    # Depthwise convolutions: float32 is faster even with AMX.
    assert auto_mixed_precision("spinenet-mobile-49xs", str(with_amx)) is None
    with pytest.raises(TypeError, match="received None"):
        auto_mixed_precision(None, str(with_amx))
