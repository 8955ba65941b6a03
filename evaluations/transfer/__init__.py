"""Transfer evaluation on frozen features (paper Table 1): the linear protocol of Kornblith et al.
2019 ("Do Better ImageNet Models Transfer Better?") as used by SimCLR (Chen et al. 2020, App. B.8).

- :mod:`evaluations.transfer.datasets`  the ten datasets (torchvision classes, splits, metrics)
  and three generated stand-ins for the offline tiny profile;
- :mod:`evaluations.transfer.metrics`   top-1, mean per-class accuracy, VOC07 11-point mAP;
- :mod:`evaluations.transfer.logistic`  L2 logistic regression with the regulariser chosen on
  the validation split, refit on train+val, scored on test;
- :mod:`evaluations.transfer.feature_cache`  centre-crop feature extraction cached on disk;
- :mod:`evaluations.transfer.evaluate`  the three put together for one (backbone, dataset).
"""
