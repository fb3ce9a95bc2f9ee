"""Firmware stage: the int8 C runtime, boards, the app, and the Python that builds and flashes."""
