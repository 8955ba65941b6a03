"""Transfer evaluation on frozen features (paper Table 1): the linear protocol of Kornblith et al.
2019 ("Do Better ImageNet Models Transfer Better?") as used by SimCLR (Chen et al. 2020, App. B.8).

- :mod:`evaluations.transfer.registry`  the ten datasets: torchvision class, split rule, metric,
  required files; presence check and explicit download;
- :mod:`evaluations.transfer.splits`    the seeded split draws (stratified hold-outs, per-class);
- :mod:`evaluations.transfer.datasets`  the splits as torch Datasets (``load_split``);
- :mod:`evaluations.transfer.standins`  every generated stand-in: the registry and the builder of
  the tiny profile's three generic ones; :mod:`evaluations.transfer.paper_standins` the recipes
  of the small profile's ten ``shapes_<dataset>``;
- :mod:`evaluations.transfer.replicas`  miniature copies of the ten real layouts (tests, paper_smoke);
- :mod:`evaluations.transfer.metrics`   top-1, mean per-class accuracy, VOC07 11-point mAP;
- :mod:`evaluations.transfer.logistic`  L2 logistic regression with the regulariser chosen on
  the validation split, refit on train+val, scored on test;
- :mod:`evaluations.transfer.feature_cache`  centre-crop feature extraction cached on disk;
- :mod:`evaluations.transfer.evaluate`  the three put together for one (backbone, dataset).
"""
