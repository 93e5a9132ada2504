"""The training system: what trains the network in plateocr.model (as parseq keeps its training
apart from its models).

- options: TrainOptions, the choices a run takes, and their checks
- optimizers: the learning-rate schedule and the optimizer
- restore: what a new model starts from (checkpoint restore plans, the charset transfer)
- graph: the training graph (input, train step, summaries, savers)
- loop: train(), the loop that steps, checkpoints, resumes and reports
- early_stopping: scoring checkpoints on the val split, best/ and --patience
- train_step: ``build_train_step(images, labels, config, optimizer, clip_norm, micro_batches)
  -> TrainStep(train_op, losses, endpoints, gradient_norm, grads_and_vars)``: model + loss +
  clipped update + BN updates; micro-batches bound memory (batch 32 at 200x200: ~1.9 GB peak
  RSS in one part, ~1.5 in two)
- train_layers: which variables a fine-tune trains (--train-layers)
- data: tf.data input from the FSNS shards a DatasetSpec names, augmentation, the labels of a
  split, and learn_formats (the train split's formats into the model folder's formats.json)
- synthetic_data: the same batches ({"images", "labels", "texts"}) streamed from freshly rendered
  synthetic crops (plateocr.synth.crops), for pretraining the base model: ``train(...,
  train_input=fn(TrainOptions) -> dataset)`` uses them instead of the records' train split
  (scripts/train_base_model.py)
- evaluate: scoring a checkpoint on a split, for `plateocr eval` (evaluate(): through PlateReader,
  LiteRT by default) and for early stopping (Evaluator: one TensorFlow graph for the run's
  checkpoints). It lives here, not in plateocr.inference, because it reads the records through
  data (read_split, eval_dataset); it reads plates through plateocr.inference.

Imports go one way: plateocr.training -> plateocr.inference -> plateocr.model.
"""
