"""Dataset versions: streaming upload, format detection, normalisation, validation, splits."""
