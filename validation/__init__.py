"""validation: the paper's claims as executable checks (``python -m validation``)."""
