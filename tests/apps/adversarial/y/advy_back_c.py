"""A backend advy_ext chooses by ADVY_BACKEND2 (the default)."""
BACK_K = 2.0
