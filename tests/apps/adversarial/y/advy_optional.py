"""An optional module: a typing function checks whether it was imported."""
