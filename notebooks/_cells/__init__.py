"""The cells of each walkthrough notebook, one module per notebook (see notebooks/_build.py)."""
