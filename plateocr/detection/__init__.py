"""Plate detection in whole photos (issue #18): geometry and targets (geometry), scoring
against annotated boxes (scoring), the network, its training and inference."""
