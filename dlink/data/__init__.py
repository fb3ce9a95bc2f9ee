"""EEG data: MNE-based benchmark loaders and the offline synthetic generator."""
