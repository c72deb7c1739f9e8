"""Calibrated multi-camera recordings: camera calibrations (:mod:`.calibration`) and the
triangulation of 2D detections from every view into a 3D reference (:mod:`.triangulate`)."""
