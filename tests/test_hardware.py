"""The CPU description benchmarks print."""

from spinenet_tf.hardware import cpu_flags


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
