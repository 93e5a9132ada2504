"""The training system: what trains the network in plateocr.model (as parseq keeps its training
apart from its models).

- options: TrainOptions, the choices a run takes, and their checks
- optimizers: the learning-rate schedule and the optimizer
- restore: what a new model starts from (checkpoint restore plans, the charset transfer)
- graph: the training graph (input, train step, summaries, savers)
- loop: train(), the loop that steps, checkpoints, resumes and reports
- early_stopping: scoring checkpoints on the val split, best/ and --patience
"""
