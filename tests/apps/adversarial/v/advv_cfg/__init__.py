"""A configuration package (adversarial harness, group v): advv_lib reads
``advv_cfg.params.SCALE`` -- a module attribute two levels deep."""
from . import params  # noqa: F401
