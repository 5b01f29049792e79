"""Tasks: one folder each (data, head, task, predictor, serving module, report); the registry lists them."""
