"""Datasets without torch: RETURNN HDF files and the generating datasets."""

from netc.data.hdf import HdfReader, HdfSeq, write_hdf

__all__ = ["HdfReader", "HdfSeq", "write_hdf"]
