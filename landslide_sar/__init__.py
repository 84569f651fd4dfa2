"""landslide-sar: landslide density and detection from Sentinel-1 SAR time series and a DEM."""

import zarr

__version__ = "0.1.0"

# Every zarr the pipeline writes is zarr format 2, like the published datacubes (Zenodo 7248056),
# so that other zarr readers open them (format 3 has no stable spec for string coordinates).
zarr.config.set({"default_zarr_format": 2})
