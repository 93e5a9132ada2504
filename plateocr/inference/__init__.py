"""Reading plates with a trained network (plateocr.model) and exporting it for serving.

- reader: PlateReader, the Python API (``from plateocr import PlateReader``): one graph and
  session per reader, batched reading of image files or arrays
- decoding: from the network's outputs to readings (ids -> text, confidences); texts_tf is the
  same as graph ops
- test_time_augmentation: each crop read as five re-framed views and voted: NumPy for
  PlateReader and eval, the same steps as TF ops for the exported graph
- format_search: format-aware reading: the best of the greedy reading and each learned format's
  reading (plateocr.formats, model/formats.json) under log P + weight * log prior, over the
  decoder's per-step distributions; NumPy for PlateReader and eval, TF ops for the export
- export: a SavedModel (and optionally TensorFlow Lite) that reads as PlateReader does
- graph_cache: a cached copy of the inference graph, so a cold `plateocr predict` skips
  rebuilding it

Nothing here imports plateocr.training (training imports this package: decoding for its
summaries, evaluation reads as PlateReader does). TensorFlow is imported lazily, through
plateocr.model.compat.
"""
