"""The ``intent`` command line (:mod:`stream.commands.cli`) and the commands that are
more than a call into another package: the demo, the marketing coupons consumer, and
the run report rendered from Prometheus with the Grafana dashboard's panels.

Names are imported on first use.
"""

from stream.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "main": "cli",
        "build_parser": "cli",
        "run_demo": "demo",
        "CouponBook": "coupons",
        "CouponDecision": "coupons",
        "CouponPolicy": "coupons",
        "run_coupons": "coupons",
        "DEPLOY_DIR": "deploy_files",
        "render_run_report": "report",
    },
)
