"""Teacher foundation models (LaBraM, CBraMod), re-implemented to load the official checkpoints."""
