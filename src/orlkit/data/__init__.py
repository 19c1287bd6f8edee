"""Columnar transition datasets, file formats, built-in dataset makers."""
