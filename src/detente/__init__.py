"""Detente: verifiable cyber cooperation between parties that do not trust each other."""

__version__ = "0.1.0"
__all__ = ["__version__"]
