"""Parameters read by jitted code through ``advv_cfg.params``."""
SCALE = 2.0
