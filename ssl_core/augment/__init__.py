"""Image augmentation, one concern per module:

- ``ops``: the batched uint8 image kernels and the ImageNet normalisation,
- ``common``: the methods' views (``ViewSpec``, made in the loader or on the device; SimCLR's
  ``CommonViewConfig``),
- ``strong``: the rescue term's strong views (FixMatch RandAugment + Cutout),
- ``originals``: the resized original the rescue term keeps, and the evaluations' centre crop.
"""
