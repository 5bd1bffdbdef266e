"""The checks of production the nightly verification runs: plain Python, one module per check."""
