"""Datasets without torch: RETURNN HDF files and the generating datasets."""

from netc.data.datasets import Corpus, Dataset, GeneratedDataset, HdfDataset, dataset_from_config
from netc.data.generating import DummyDataset, Task12AXDataset
from netc.data.hdf import HdfReader, HdfSeq, write_hdf

__all__ = ["Corpus", "Dataset", "DummyDataset", "GeneratedDataset", "HdfDataset", "HdfReader", "HdfSeq",
           "Task12AXDataset", "dataset_from_config", "write_hdf"]
