"""The command-line programs, installed as console scripts (setup.cfg):
spinenet-train, spinenet-export, spinenet-demo, spinenet-search,
spinenet-summary, spinenet-make-shapes, spinenet-coco-to-tfrecord.
`train.py` and `export_saved_model.py` at the top of a checkout call the
first two. `errors` is what they share."""
