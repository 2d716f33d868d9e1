"""The six CRISP-ML(Q) stages, one modular pipeline each."""
