"""landslide-sar: landslide density and detection from Sentinel-1 SAR time series and a DEM."""

__version__ = "0.1.0"
