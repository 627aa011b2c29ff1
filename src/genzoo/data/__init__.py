"""Datasets: everything offline, nothing downloaded at run time (DESIGN.md, "Data")."""

from genzoo.data import fields, files, images, pairs, toy  # noqa: F401  (registers the datasets)
from genzoo.data.base import DataInfo, DataOptions, Dataset, binarize
from genzoo.data.python import as_dataset
from genzoo.data.registry import DATASETS, PREFIXES, load, register_dataset, resolved_options

__all__ = [
    "DATASETS",
    "PREFIXES",
    "DataInfo",
    "DataOptions",
    "Dataset",
    "as_dataset",
    "binarize",
    "load",
    "register_dataset",
    "resolved_options",
]
