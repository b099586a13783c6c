"""Archive-grade output: colour management of inputs, metadata carried from input to output, provenance, TIFF.

``deep`` (48/64-bit colour PNG/TIFF read at 16 bits), ``icc`` (embedded profiles -> sRGB and back), ``metadata``
(EXIF/IPTC/XMP/ICC read by the image loader), ``xmp`` (the provenance packet and its IPTC Digital Source Type),
``embed`` (metadata into PNG and JPEG), ``tiff`` (the TIFF encoder), ``carry`` (a result -> what its file gets),
``report`` (the run report).
"""
