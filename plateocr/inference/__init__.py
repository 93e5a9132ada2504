"""Reading plates with a trained network (plateocr.model) and exporting it for serving.

- reader: PlateReader, the Python API (``from plateocr import PlateReader``): one model per
  reader, batched reading of image files or arrays, on LiteRT or TensorFlow
- litert_runner: the LiteRT backend: the graph as TensorFlow Lite with a checkpoint's weights,
  built once per checkpoint and cached, run without importing TensorFlow
- decoding: from the network's outputs to readings (ids -> text, confidences); texts_tf is the
  same as graph ops
- test_time_augmentation: each crop read as five re-framed views and voted: NumPy for
  PlateReader and eval, the same steps as TF ops for the exported graph
- format_search: format-aware reading: the best of the greedy reading and each learned format's
  reading (plateocr.formats, model/formats.json) under log P + weight * log prior, over the
  decoder's per-step distributions; NumPy for PlateReader and eval, TF ops for the export
- export: a SavedModel (and optionally TensorFlow Lite) that reads as PlateReader does
- graph_cache: the inference graph, and cached copies of it (TensorFlow's MetaGraph per config,
  the TFLite model per checkpoint), so a cold `plateocr predict` skips rebuilding them

Nothing here imports plateocr.training (training imports this package: decoding for its
summaries, evaluation reads as PlateReader does). TensorFlow is imported lazily, through
plateocr.model.compat.
"""
