"""Geostatistics: covariance models, classical field simulators as generators x = G(z), kriging
and exact conditional simulation, facies, spatial statistics, and conditioning any trained
generator to data.

    import genzoo.geostat as gs
    fields = gs.simulate("fft", gs.Matern(nu=1.5, range=20), (512, 512), n=100, seed=0)   # (100, 1, 512, 512)

Modules: `genzoo.geostat.covariance` (models and their range conventions),
`genzoo.geostat.simulators` (cholesky, spectral, fft, spde), `genzoo.geostat.kriging`,
`genzoo.geostat.facies` (truncated Gaussian, plurigaussian, anamorphosis),
`genzoo.geostat.stats` (variograms, facies statistics, pattern histograms) and
`genzoo.geostat.latent` (conditioning a trained generator by its latent vector).
"""

from __future__ import annotations

from typing import Any

from genzoo.geostat.covariance import Covariance, Cubic, Exponential, Gaussian, Matern, Spherical, make
from genzoo.geostat.facies import anamorphosis, plurigaussian, truncate
from genzoo.geostat.kriging import condition, krige
from genzoo.geostat.simulators import METHODS, simulate, simulator

_LAZY = {
    "grid_variogram": "stats",
    "point_variogram": "stats",
    "fit_variogram": "stats",
    "fit_field": "stats",
    "proportions": "stats",
    "indicator_variogram": "stats",
    "connectivity": "stats",
    "pattern_histogram": "stats",
    "js_distance": "stats",
    "pattern_scores": "stats",
    "facies_errors": "stats",
    "condition_points": "latent",
    "condition_operator": "latent",
    "fit_inference": "latent",
    "read_points_csv": "latent",
    "check_points": "latent",
    "check_block_points": "latent",
    "direct_sampling": "mps",
    "DirectSampling": "mps",
    "read_grid": "formats",
    "read_points": "formats",
    "write_points": "formats",
    "read_vti": "formats",
    "read_geotiff": "formats",
    "write_geotiff": "formats",
    "write_vti": "formats",
    "read_vtp": "formats",
    "write_vtp": "formats",
    "write_grid": "formats",
    "read_geoeas": "formats",
    "write_geoeas": "formats",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"genzoo.geostat.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'genzoo.geostat' has no attribute {name!r}")


__all__ = [
    "METHODS",
    "Covariance",
    "Cubic",
    "Exponential",
    "Gaussian",
    "Matern",
    "Spherical",
    "anamorphosis",
    "condition",
    "krige",
    "make",
    "plurigaussian",
    "simulate",
    "simulator",
    "truncate",
    *_LAZY,
]
