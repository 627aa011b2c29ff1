"""Pictures and the self-contained HTML report: sample grids, point clouds, loss curves,
latent interpolations and reconstructions, all rendered headless (Agg, Pillow)."""

from genzoo.pictures import image_grid, png_bytes
from genzoo.viz.plots import (
    inpainting_grid,
    interpolate,
    interpolation_strip,
    latent_walk,
    loss_curves,
    points_figure,
    reconstruction_grid,
    save_samples,
    walk,
)
from genzoo.viz.report import render_report, write_report

__all__ = [
    "image_grid",
    "inpainting_grid",
    "interpolate",
    "interpolation_strip",
    "latent_walk",
    "loss_curves",
    "png_bytes",
    "points_figure",
    "reconstruction_grid",
    "render_report",
    "save_samples",
    "walk",
    "write_report",
]
