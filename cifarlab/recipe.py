"""The training recipe's named choices, importable without torch (the CLI lists them in --help)."""

OPTIMIZERS = ("sgd", "adam")  # SGD with Nesterov momentum, or AdamW
DEFAULT_LR = {"sgd": 0.4, "adam": 0.01}  # OneCycle's peak rate for each
AUGMENT_MODES = ("albumentations", "batch", "none")  # per image in the loader, per batch on the device, or none
