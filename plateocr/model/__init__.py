"""The attention OCR model (InceptionV3 tower + attention LSTM decoder) and what runs it.

Modules, one concept each (TensorFlow is imported only here, never by the data stages):

- compat.py     makes tf-slim 1.1.0 work on the pinned TensorFlow; import it before tf_slim:
                ``from plateocr.model.compat import tf, slim`` (also tf1 = tf.compat.v1).
                It turns TensorFlow's oneDNN kernels on (2x faster training steps on AVX2
                CPUs; must happen before TensorFlow is first imported, so import TensorFlow
                only through it) and offers ``session_config()`` (threads = cores, 1 inter-op).
- config.py     ModelConfig: image shape, views, max length, classes, null code, endpoint,
                decoder size and regularisation; JSON round-trip; built from a DatasetSpec.
- network.py    ``build_model(images, config, is_training, labels=None) -> Endpoints`` in
                graph mode (tf.compat.v1 variable scopes, names equal to the upstream
                attention_ocr ones under ``AttentionOcr_v1/``). images: uint8 [B, H, W*views, 3]
                RGB; labels: int32 [B, max_len] ids padded with the null code (teacher forcing).
                Endpoints: chars_logit [B,L,C], chars_log_prob [B,L,C], predicted_chars [B,L],
                predicted_scores [B,L] (probability of each chosen id), sequence_confidence [B]
                (product of predicted_scores up to and including the first null),
                attention_masks [B,L,h,w*views], features [B,N,D] (attention states).
                is_training=True needs labels (teacher forcing); otherwise decoding is greedy
                and labels are ignored. BN update ops go to UPDATE_OPS.
- decoder.py    the attention LSTM decoder (plain ops, legacy seq2seq math and names).
- losses.py     label-smoothed sequence loss + L2 regularisation: ``model_loss(endpoints,
                labels, config) -> Losses(total, sequence, regularization)``.
- metrics.py    character and full-sequence accuracy (TF ops ``*_tf`` and NumPy, same
                definitions; ``accuracy_counts`` sums over batches).
- data.py       tf.data input from the FSNS shards a DatasetSpec names; augmentation.
- synthetic_data.py  the same batches ({"images", "labels", "texts"}) streamed from freshly
                rendered synthetic crops (plateocr.synth.crops), for pretraining the base
                model: ``train(..., train_input=fn(TrainOptions) -> dataset)`` uses them
                instead of the records' train split (scripts/train_base_model.py).
- modeldir.py   the self-describing model directory (charset, spec, config, checkpoints).
- test_time_augmentation.py  each crop read as five re-framed views and voted: NumPy for
                PlateReader and eval, the same steps as TF ops for the exported graph.
- format_search.py  format-aware reading: the best of the greedy reading and each learned
                format's reading (plateocr.formats, model/formats.json) under log P + weight *
                log prior, over the decoder's per-step distributions; NumPy for PlateReader and
                eval, the same steps as TF ops for the exported graph; learn_formats at train time.
- evaluate.py / inference.py (PlateReader) / export.py.

The training system (TrainOptions, the loop, early stopping, the train step, the layers a
fine-tune trains) is plateocr.training; train.py here only re-exports plateocr.training.loop.train
for the callers that still name plateocr.model.train.
"""
