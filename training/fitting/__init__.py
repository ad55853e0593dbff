"""Every model's fitting: what the protocol (:mod:`training.protocol`) judges.

Where a model lives, and the one place to touch to add one:

* a model fitted on the ``[U, I]`` rows (``baselines``): an entry in
  :data:`~training.fitting.baselines.GRIDS` (its grid, searched on validation) and a
  branch of :func:`~training.fitting.baselines.fit_baseline`;
* a rule with no training (``rules``): a function in :data:`~training.fitting.rules.RULES`;
* a neural network (``networks/``): a module there and an entry in
  :data:`~training.fitting.networks.registry.NETWORKS`;
* the served model's branches, their calibration and fusion (``resnet``, ``forest``,
  ``branches``).

Every model of one seed is fitted by :func:`training.fitting.seed.fit_seed`, on the
same rows and with the same sample weights (``weights``), and early stopping
(``early_stopping``) and grid search (``grids``) are shared.
"""
