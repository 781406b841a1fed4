"""The summary CLI's figures and table."""

from spinenet_tf import registry
from spinenet_tf.cli.summary import format_paper_table, summarize_paper_model


def test_paper_model_summary_reports_counted_and_reference_figures():
    row = summarize_paper_model(registry.get_family("retinanet"), "spinenet-mobile-49xs")
    assert row["image_size"] == 256
    assert row["params"] == 901_575 == row["reference_params_tfm_2_20"]  # counted with TFM 2.20
    assert row["params_match_reference"]
    assert 0.1e9 < row["macs"] < 0.3e9
    table = format_paper_table([row])
    assert "retinanet-spinenet-mobile-49xs" in table and "901,575" in table
