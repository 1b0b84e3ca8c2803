# SPDX-License-Identifier: BSD-3-Clause
"""A/B comparisons: variants (host and context provider), jobs, reports, BD-rate."""
