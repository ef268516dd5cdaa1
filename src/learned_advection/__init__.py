"""learned-advection: learned finite-volume interpolation for passive-scalar advection (Zhuang et al. 2020)."""

__version__ = "0.1.0"
