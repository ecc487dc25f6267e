"""The example organisation: deterministic synthetic inputs with a known ground truth.

:func:`generate` writes canonical input files for about a month of agent activity in
an invented company, with planted incidents for every verdict, reason and flag, and
``ground_truth.csv`` stating the finding every call must get.
"""

from __future__ import annotations

from auditkit.demo.generator import DemoResult, generate

__all__ = ["DemoResult", "generate"]
