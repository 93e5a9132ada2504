"""plateocr: an end-to-end number-plate OCR pipeline (crop, records, train, eval, predict)."""

__version__ = "0.1.0"


def __getattr__(name):
    # The Python API pulls in TensorFlow; keep `import plateocr` cheap for the data stages.
    if name == "PlateReader":
        from plateocr.inference.reader import PlateReader

        return PlateReader
    raise AttributeError(f"module 'plateocr' has no attribute {name!r}")
