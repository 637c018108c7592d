"""A backend advy_ext chooses by ADVY_BACKEND2=d."""
BACK_K = 5.0
