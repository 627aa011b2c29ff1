"""Datasets: everything offline, nothing downloaded at run time (DESIGN.md, "Data")."""

from genzoo.data import fields, files, images, pairs, toy  # noqa: F401  (registers the datasets)
from genzoo.data.base import DataInfo, DataOptions, Dataset
from genzoo.data.registry import DATASETS, PREFIXES, load, register_dataset, resolved_options

__all__ = ["DATASETS", "PREFIXES", "DataInfo", "DataOptions", "Dataset", "load", "register_dataset", "resolved_options"]
