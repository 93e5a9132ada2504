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

The input pipeline (plateocr.model.data, plateocr.model.synthetic_data) still lives in
plateocr.model, as do evaluate, inference and export.
"""
