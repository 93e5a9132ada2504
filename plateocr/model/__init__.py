"""The attention OCR network (InceptionV3 tower + attention LSTM decoder).

Modules, one concept each (TensorFlow is imported only through compat.py, never by the data stages):

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
- charset_transfer.py  the decoder's per-character weights carried over to a model with
                another charset (a fine-tune from a checkpoint with another charset).
- modeldir.py   the self-describing model directory (charset, spec, config, checkpoints).

The network is all this package holds. What reads with it (PlateReader, decoding, test-time
views, format search, export, the graph cache) is plateocr.inference; what trains it (the
input pipeline, the loop, early stopping, evaluation) is plateocr.training, as parseq keeps
its models apart from its training system and its reading. Imports go one way:
plateocr.training -> plateocr.inference -> plateocr.model.
"""
