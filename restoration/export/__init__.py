"""Model export to other formats: :func:`export_bioimageio` writes a BioImage Model Zoo package."""

from .bioimageio import export_bioimageio

__all__ = ["export_bioimageio"]
