"""The attention OCR model (InceptionV3 tower + attention LSTM decoder) and what runs it.

Modules, one concept each (TensorFlow is imported only here, never by the data stages):

- compat.py     makes tf-slim 1.1.0 work on the pinned TensorFlow; import it before tf_slim:
                ``from plateocr.model.compat import tf, slim``
- config.py     ModelConfig: image shape, views, max length, classes, null code, endpoint,
                decoder size and regularisation; JSON round-trip; built from a DatasetSpec.
- network.py    ``build_model(images, config, is_training, labels=None) -> Endpoints`` in
                graph mode (tf.compat.v1 variable scopes, names equal to the upstream
                attention_ocr ones under ``AttentionOcr_v1/``). images: uint8 [B, H, W*views, 3]
                RGB; labels: int32 [B, max_len] ids padded with the null code (teacher forcing).
                Endpoints: chars_logit [B,L,C], chars_log_prob [B,L,C], predicted_chars [B,L],
                predicted_scores [B,L] (probability of each chosen id), sequence_confidence [B]
                (product of predicted_scores up to and including the first null),
                attention_masks [B,L,h,w].
- losses.py     label-smoothed sequence loss + L2 regularisation.
- metrics.py    character and full-sequence accuracy (TF ops and NumPy, same definitions).
- data.py       tf.data input from the FSNS shards a DatasetSpec names; augmentation.
- modeldir.py   the self-describing model directory (charset, spec, config, checkpoints).
- train.py / evaluate.py / inference.py (PlateReader) / export.py.
"""
