"""Distillation stage: teachers, the DLink router, the MiC student, losses, training."""
