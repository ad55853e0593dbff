"""Training and evaluation: examples replayed through the serving feature code, every model, the report."""

import os

# LightGBM and XGBoost run OpenMP threads that spin while they wait for work; on two
# cores shared with anything else a fit took 0.2 s or 27 s on the same data. Sleeping
# waiters cost nothing measurable here. Read by the OpenMP runtime when it loads, so it
# is set before either library is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
